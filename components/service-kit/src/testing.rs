//! Test doubles and helpers for the components' native tests: a switch that makes a store
//! fail, and requests built, run and read without a host.
//!
//! Compiled for the kit's own tests and, through the `testing` feature, for the components'
//! dev-dependencies only: nothing here ships in a component.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::HttpResponse;
use crate::edge::{HttpService, serve};
use crate::storage::StorageFailure;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

pub use futures::executor::block_on;

/// Makes an in-memory repository fail like an unreachable store, to test error paths.
#[derive(Debug, Default)]
pub struct FailureSwitch(std::cell::Cell<bool>);

impl FailureSwitch {
    pub fn set(&self, failing: bool) {
        self.0.set(failing);
    }

    pub fn check(&self) -> Result<(), StorageFailure> {
        if self.0.get() {
            Err(StorageFailure::Broken("the store was told to fail".into()))
        } else {
            Ok(())
        }
    }
}

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

/// Sends a request with an optional JSON body through `service`'s routes.
pub fn respond<S: HttpService>(
    service: &S,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> HttpResponse {
    block_on(serve(service, request(method, uri, body)))
}

/// The status and JSON body `service` answers to a request.
pub fn call<S: HttpService>(
    service: &S,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    read(respond(service, method, uri, body))
}

/// The status and JSON body of `service`'s health report.
pub fn health<S: HttpService>(service: &S) -> (StatusCode, Value) {
    call(service, Method::GET, &format!("/health/{}", S::NAME), None)
}

/// Asserts that an answer is an RFC 9457 problem with `status`, naming `request` if not.
pub fn assert_problem((status, body): &(StatusCode, Value), expected: StatusCode, request: &str) {
    assert_eq!(
        (*status, body["status"].as_u64(), body["type"].as_str()),
        (
            expected,
            Some(u64::from(expected.as_u16())),
            Some("about:blank")
        ),
        "{request}: {body}"
    );
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
