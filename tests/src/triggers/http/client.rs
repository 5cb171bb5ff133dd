//! In-process requests for tests: no sockets, the same routing and components.

use super::{HostBody, RequestBody};
use crate::app::App;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use std::net::SocketAddr;

/// The client address in-process requests report.
pub const TEST_CLIENT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 50000);

/// A response with its body read, trailers included (gRPC sends its status in them).
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The trailer fields after the body, if the response sent any.
    pub trailers: Option<HeaderMap>,
}

impl TestResponse {
    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn trailer(&self, name: &str) -> Option<&str> {
        let trailers = self.trailers.as_ref()?;
        trailers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Reads a whole response: status, headers, body and trailers.
    pub async fn read(response: Response<HostBody>) -> anyhow::Result<Self> {
        let (parts, body) = response.into_parts();
        let collected = body.collect().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(Self {
            status: parts.status,
            headers: parts.headers,
            trailers: collected.trailers().cloned(),
            body: collected.to_bytes(),
        })
    }
}

impl App {
    /// Sends `request` through the app and reads the whole response.
    pub async fn send(&self, request: Request<Bytes>) -> anyhow::Result<TestResponse> {
        self.send_from(request, TEST_CLIENT).await
    }

    /// Sends `request` as a client connected from `client` (what Spin reports as the peer).
    pub async fn send_from(
        &self,
        request: Request<Bytes>,
        client: SocketAddr,
    ) -> anyhow::Result<TestResponse> {
        let request = request.map(|body| -> RequestBody {
            Full::new(body)
                .map_err(|never| match never {})
                .boxed_unsync()
        });
        TestResponse::read(self.handle(request, client).await).await
    }

    /// A request with an optional JSON body (sent as `application/json`) and the bearer token
    /// set with [`App::use_bearer`], if any.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        json: Option<serde_json::Value>,
    ) -> anyhow::Result<TestResponse> {
        self.request_as(self.bearer().as_deref(), method, path, json)
            .await
    }

    /// A request with an optional JSON body and `token` as its bearer credentials (none for
    /// `None`).
    pub async fn request_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        json: Option<serde_json::Value>,
    ) -> anyhow::Result<TestResponse> {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Frame;
    use http_body_util::StreamBody;

    fn with_trailers() -> Response<HostBody> {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("5"));
        let frames = [
            Ok(Frame::data(Bytes::from_static(b"body"))),
            Ok(Frame::trailers(trailers)),
        ];
        Response::new(StreamBody::new(futures::stream::iter(frames)).boxed_unsync())
    }

    #[tokio::test]
    async fn trailers_after_the_body_are_kept() {
        let response = TestResponse::read(with_trailers()).await.unwrap();
        assert_eq!(
            (response.body.as_ref(), response.trailer("grpc-status")),
            (&b"body"[..], Some("5"))
        );
    }
}
