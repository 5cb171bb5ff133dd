//! A gRPC status and the response that carries it: `200`, `content-type: application/grpc`,
//! no message, and trailers with `grpc-status`, `grpc-message` (percent-encoded) and, when
//! there is more to say, `grpc-status-details-bin` (a `google.rpc.Status`).

use super::code::Code;
use super::details::{Any, BadRequest, Duration, FieldViolation, RetryInfo, RpcStatus};
use super::wire::{GRPC_MESSAGE, GRPC_STATUS, GRPC_STATUS_DETAILS, grpc_response};
use crate::edge::HttpResponse;
use crate::edge::Problem;
use base64ct::{Base64Unpadded, Encoding};
use http::{HeaderMap, HeaderValue};
use prost::Message;

/// A call's outcome other than a message: a code, words for the caller, typed details.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub code: Code,
    pub message: String,
    pub details: Vec<Any>,
}

impl Status {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The trailers of a call that ended with this status.
    pub fn trailers(&self) -> HeaderMap {
        let mut trailers = HeaderMap::new();
        trailers.insert(
            GRPC_STATUS,
            HeaderValue::from(u16::from(self.code.number())),
        );
        if !self.message.is_empty()
            && let Ok(message) = HeaderValue::try_from(percent_encode(&self.message))
        {
            trailers.insert(GRPC_MESSAGE, message);
        }
        if !self.details.is_empty() {
            let status = RpcStatus {
                code: i32::from(self.code.number()),
                message: self.message.clone(),
                details: self.details.clone(),
            };
            let encoded = Base64Unpadded::encode_string(&status.encode_to_vec());
            if let Ok(details) = HeaderValue::try_from(encoded) {
                trailers.insert(GRPC_STATUS_DETAILS, details);
            }
        }
        trailers
    }

    /// The whole response: headers, no message, then the status in the trailers (never in the
    /// headers: see the module above).
    pub fn into_response(self) -> HttpResponse {
        grpc_response(bytes::Bytes::new(), self.trailers())
    }
}

/// A refusal as a gRPC status: the code of its HTTP status ([`Code::from_http`]), its detail as
/// the message, each rejected field named in the message and as a `google.rpc.BadRequest`
/// violation, and its `Retry-After` as a `google.rpc.RetryInfo`. A 500 says no more than the
/// problem did (nothing).
impl From<Problem> for Status {
    fn from(problem: Problem) -> Self {
        let code = Code::from_http(problem.status());
        let fields = problem.field_errors();
        let mut message = problem.detail().to_owned();
        if !fields.is_empty() {
            let named: Vec<String> = fields
                .iter()
                .map(|error| format!("{}: {}", error.field, error.message))
                .collect();
            message = format!("{message}: {}", named.join("; "));
        }
        let mut status = Status::new(code, message);
        if !fields.is_empty() {
            let violations = fields
                .iter()
                .map(|error| FieldViolation {
                    field: error.field.clone(),
                    description: error.message.clone(),
                })
                .collect();
            let bad_request = BadRequest {
                field_violations: violations,
            };
            status
                .details
                .push(Any::pack(BadRequest::FULL_NAME, &bad_request));
        }
        if let Some(seconds) = problem.retry_after() {
            let retry = RetryInfo {
                retry_delay: Some(Duration {
                    seconds: i64::from(seconds),
                    nanos: 0,
                }),
            };
            status.details.push(Any::pack(RetryInfo::FULL_NAME, &retry));
        }
        status
    }
}

/// `grpc-message` encoding: bytes outside printable ASCII, and `%`, as `%XX` of their UTF-8.
fn percent_encode(message: &str) -> String {
    let mut encoded = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::FieldError;
    use http::StatusCode;
    use http_body_util::BodyExt;

    fn trailers_of(status: Status) -> HeaderMap {
        let body = status.into_response().into_body();
        let collected =
            futures::executor::block_on(body.collect()).expect("a complete body cannot fail");
        collected.trailers().cloned().unwrap_or_default()
    }

    #[test]
    fn a_message_outside_printable_ascii_is_percent_encoded() {
        assert_eq!(percent_encode("100% café\n"), "100%25 caf%C3%A9%0A");
    }

    #[test]
    fn an_error_response_is_200_with_the_status_only_in_the_trailers() {
        let response = Status::new(Code::NotFound, "no movie m1").into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers().get(GRPC_STATUS).is_none(),
            "a trailers-only response does not survive Spin: {:?}",
            response.headers()
        );
        let trailers = trailers_of(Status::new(Code::NotFound, "no movie m1"));
        assert_eq!(
            (trailers.get(GRPC_STATUS), trailers.get(GRPC_MESSAGE)),
            (
                Some(&HeaderValue::from_static("5")),
                Some(&HeaderValue::from_static("no movie m1"))
            )
        );
    }

    #[test]
    fn invalid_fields_are_named_in_the_message_and_as_violations() {
        let problem = Problem::invalid_fields(vec![FieldError {
            field: "metadata.title".into(),
            message: "must not be empty or blank".into(),
        }]);
        let status = Status::from(problem);
        assert_eq!(status.code, Code::InvalidArgument);
        assert!(
            status
                .message
                .contains("metadata.title: must not be empty or blank"),
            "{}",
            status.message
        );
        let trailers = trailers_of(status);
        let encoded = trailers
            .get(GRPC_STATUS_DETAILS)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let bytes = Base64Unpadded::decode_vec(encoded).unwrap_or_default();
        let decoded = RpcStatus::decode(bytes.as_slice()).unwrap_or_default();
        let any = decoded.details.first().cloned().unwrap_or_default();
        assert_eq!(any.type_url, "type.googleapis.com/google.rpc.BadRequest");
        let bad_request = BadRequest::decode(any.value.as_slice()).unwrap_or_default();
        assert_eq!(
            bad_request.field_violations,
            [FieldViolation {
                field: "metadata.title".into(),
                description: "must not be empty or blank".into()
            }]
        );
    }

    #[test]
    fn an_internal_failure_says_nothing_more_than_the_problem() {
        let status = Status::from(Problem::internal());
        assert_eq!(
            (status.code, status.details.len()),
            (Code::Internal, 0),
            "{status:?}"
        );
        assert_eq!(status.message, Problem::internal().detail());
    }

    #[test]
    fn a_busy_service_tells_when_to_retry() {
        let status = Status::from(Problem::busy());
        assert_eq!(status.code, Code::Unavailable);
        assert_eq!(
            status.details.first().map(|any| any.type_url.as_str()),
            Some("type.googleapis.com/google.rpc.RetryInfo")
        );
    }
}
