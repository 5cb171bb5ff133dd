//! In-process requests for tests: no sockets, the same routing and components.

use crate::app::{App, RequestBody};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use std::net::SocketAddr;

/// The client address in-process requests report.
pub const TEST_CLIENT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 50000);

/// A response with its body read.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl App {
    /// Sends `request` through the app and reads the whole response.
    pub async fn send(&self, request: Request<Bytes>) -> anyhow::Result<TestResponse> {
        let request = request.map(|body| -> RequestBody {
            Full::new(body)
                .map_err(|never| match never {})
                .boxed_unsync()
        });
        let response = self.handle(request, TEST_CLIENT).await;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .to_bytes();
        Ok(TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// A request with an optional JSON body (sent as `application/json`).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        json: Option<serde_json::Value>,
    ) -> anyhow::Result<TestResponse> {
        let mut builder = Request::builder().method(method).uri(path);
        let body = match json {
            Some(json) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(json.to_string())
            }
            None => Bytes::new(),
        };
        self.send(builder.body(body)?).await
    }
}
