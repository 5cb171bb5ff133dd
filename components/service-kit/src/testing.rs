//! Helpers for native tests of handlers: build requests, run futures, read responses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::HttpResponse;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

pub use futures::executor::block_on;

/// A request with a JSON body (or none when `body` is `None`).
pub fn request(method: Method, uri: &str, body: Option<Value>) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().method(method).uri(uri);
    let bytes = match body {
        Some(body) => {
            builder = builder.header("content-type", "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    builder.body(Full::new(bytes)).unwrap()
}

/// The status and JSON body of a response (`Value::Null` when the body is empty).
pub fn read(response: HttpResponse) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = block_on(response.into_body().collect()).unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}

/// The names of the fields a 400 problem body reports.
pub fn rejected_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}
