//! Response builders. Every response with a body carries `content-length`: under Spin a body
//! without it is streamed, and a keep-alive client then waits for a delayed ACK (about 44 ms)
//! on every request (`docs/spin-facts.md`, "Responses and latency").

use super::body::Body;
use crate::storage::Stored;
use bytes::Bytes;
use http::StatusCode;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use serde::Serialize;

/// The response type of every handler: a complete, sized body (and trailers, for gRPC).
pub type HttpResponse = http::Response<Body>;

pub const JSON: &str = "application/json";

/// A body of known length with its media type.
pub fn bytes(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> HttpResponse {
    let body = body.into();
    let length = body.len();
    let mut response = http::Response::new(Body::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// A JSON body. Serialising our own types cannot fail in practice; if it ever did, the client
/// gets a 500 problem rather than a panic.
pub fn json(status: StatusCode, value: &impl Serialize) -> HttpResponse {
    match serde_json::to_vec(value) {
        Ok(body) => bytes(status, JSON, body),
        Err(error) => {
            crate::telemetry::error("response.serialization_failed")
                .cause(error)
                .emit();
            crate::Problem::internal().into_response()
        }
    }
}

/// The answer of an instance that cannot serve at all (a variable missing or invalid): a 500
/// that reveals nothing, and an `error` line with the cause. It comes before any route is
/// known, so it is the request's only line.
pub fn misconfigured(service: &'static str, cause: impl std::fmt::Display) -> HttpResponse {
    crate::telemetry::name_component(service);
    crate::telemetry::error("component.misconfigured")
        .cause(cause)
        .emit();
    crate::Problem::internal().into_response()
}

/// The status of an idempotent write: 201 for a new resource, 200 for a replaced one.
pub fn write_status(stored: Stored) -> StatusCode {
    match stored {
        Stored::Created => StatusCode::CREATED,
        Stored::Replaced => StatusCode::OK,
    }
}

/// A response that has no body by definition (204, 304): no `content-length` either, since
/// RFC 9110 forbids it on 204 and on a 304 it would describe the absent representation.
pub fn empty(status: StatusCode) -> HttpResponse {
    let mut response = http::Response::new(Body::default());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_response_states_its_length_and_type() {
        let response = json(StatusCode::CREATED, &serde_json::json!({"a": 1}));
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(
            response.headers().get(CONTENT_LENGTH).map(|v| v.as_bytes()),
            Some(&b"7"[..])
        );
        assert_eq!(
            response.headers().get(CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(JSON.as_bytes())
        );
    }
}
