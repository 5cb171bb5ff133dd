//! One attempt at a conditional GET of a JSON resource from an upstream service, with its
//! deadline, and how its answer is read. Retries and fallbacks are the controller's.

use crate::cache::entry::Validator;
use crate::controller::{Fetched, GatewayError};
use http::{HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use service_kit::edge::problem::PROBLEM_JSON;
use service_kit::grpc::Code;
use service_kit::telemetry::RequestId;
use std::time::Duration;

/// What the status line and media type of an upstream answer say, before its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200: the body is the resource.
    Found,
    /// 304: the resource still has the tag we sent.
    NotModified,
    /// 404 with a problem body: the upstream looked and the resource is absent.
    Absent,
}

/// Reads an upstream's status and media type. A 404 means "absent" only with a problem body:
/// a bare 404 is what Spin answers when no route matches, i.e. a wrong upstream URL, and must
/// surface as a failure rather than hide every movie. A 304 is only expected when we sent a
/// validator.
pub fn classify(
    status: StatusCode,
    content_type: Option<&HeaderValue>,
    sent_validator: bool,
) -> Result<Answer, GatewayError> {
    let is_problem =
        content_type.is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    match status {
        StatusCode::OK => Ok(Answer::Found),
        StatusCode::NOT_MODIFIED if sent_validator => Ok(Answer::NotModified),
        StatusCode::NOT_FOUND if is_problem => Ok(Answer::Absent),
        other => Err(GatewayError::Status(other.as_u16())),
    }
}

/// The body of a 200, parsed.
pub fn parse<T: DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, GatewayError> {
    serde_json::from_slice(body)
        .map_err(|error| GatewayError::Malformed(format!("GET {url}: {error}")))
}

/// `GET url` with `If-None-Match: known` if given, abandoned after `timeout`: the `wasi:http`
/// timeouts bound calls over the network, and a timer of our own bounds service-chained calls,
/// which Spin awaits without them.
#[cfg(target_arch = "wasm32")]
pub async fn get_json<T: DeserializeOwned>(
    url: &str,
    known: Option<&Validator>,
    timeout: Duration,
    request_id: Option<&RequestId>,
) -> Result<Fetched<T>, GatewayError> {
    let attempt = wasm::get_json(url, known, timeout, request_id);
    let timer = spin_sdk::time::sleep(timeout);
    service_kit::deadline::within(timer, attempt)
        .await
        .unwrap_or(Err(GatewayError::TimedOut))
}

/// One unary gRPC call to `url` (a method's full URL) with `message`, abandoned after
/// `timeout` like [`get_json`]. `NOT_FOUND` is an absent resource; the status of any other
/// failure is read as the HTTP status it stands for ([`grpc_failure`]). gRPC has no
/// validators, so a view composed over gRPC is never revalidated with a 304.
#[cfg(target_arch = "wasm32")]
pub async fn call_grpc<Q: prost::Message, A: prost::Message + Default>(
    url: &str,
    message: &Q,
    timeout: Duration,
    request_id: Option<&RequestId>,
) -> Result<Fetched<A>, GatewayError> {
    let attempt = wasm::call_grpc(url, message, timeout, request_id);
    let timer = spin_sdk::time::sleep(timeout);
    service_kit::deadline::within(timer, attempt)
        .await
        .unwrap_or(Err(GatewayError::TimedOut))
}

/// Native builds (unit tests) have no outbound HTTP.
#[cfg(not(target_arch = "wasm32"))]
pub async fn call_grpc<Q: prost::Message, A: prost::Message + Default>(
    url: &str,
    _message: &Q,
    _timeout: Duration,
    _request_id: Option<&RequestId>,
) -> Result<Fetched<A>, GatewayError> {
    Err(GatewayError::Transport(format!(
        "POST {url}: no outbound HTTP outside wasm"
    )))
}

/// What an upstream's gRPC status means here: `OK` the reply, `NOT_FOUND` an absent resource,
/// `UNAVAILABLE` and `RESOURCE_EXHAUSTED` a 503 (worth retrying), `DEADLINE_EXCEEDED` a
/// timeout, `INTERNAL` and `UNKNOWN` a 500, anything else an unusable answer.
pub fn grpc_failure(code: Code, message: &str) -> GatewayError {
    match code {
        Code::DeadlineExceeded => GatewayError::TimedOut,
        Code::ResourceExhausted | Code::Unavailable => GatewayError::Status(503),
        Code::Unknown | Code::Internal => GatewayError::Status(500),
        other => GatewayError::Malformed(format!("gRPC status {}: {message}", other.number())),
    }
}

/// The reply of a gRPC call from its status and body: the message, or absent, or the failure.
pub fn read_grpc<A: prost::Message + Default>(
    url: &str,
    status: Option<&HeaderValue>,
    message: Option<&HeaderValue>,
    body: &[u8],
) -> Result<Fetched<A>, GatewayError> {
    let malformed = |what: String| GatewayError::Malformed(format!("POST {url}: {what}"));
    let code = status
        .and_then(|value| value.to_str().ok())
        .and_then(Code::parse)
        .ok_or_else(|| malformed("no grpc-status".into()))?;
    match code {
        Code::Ok => {
            let framed = service_kit::grpc::wire::unframe(body)
                .map_err(|problem| malformed(problem.detail().to_owned()))?;
            let value = A::decode(framed).map_err(|error| malformed(error.to_string()))?;
            Ok(Fetched::Found { value, tag: None })
        }
        Code::NotFound => Ok(Fetched::Absent),
        other => {
            let message = message.and_then(|m| m.to_str().ok()).unwrap_or_default();
            Err(grpc_failure(other, message))
        }
    }
}

/// Native builds (unit tests) have no outbound HTTP.
#[cfg(not(target_arch = "wasm32"))]
pub async fn get_json<T: DeserializeOwned>(
    url: &str,
    _known: Option<&Validator>,
    _timeout: Duration,
    _request_id: Option<&RequestId>,
) -> Result<Fetched<T>, GatewayError> {
    Err(GatewayError::Transport(format!(
        "GET {url}: no outbound HTTP outside wasm"
    )))
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::*;
    use http::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
    use http_body_util::{BodyExt, Limited};
    use service_kit::edge::request::MAX_BODY_BYTES;
    use service_kit::grpc::wire;
    use service_kit::telemetry::REQUEST_ID;
    use spin_sdk::http::EmptyBody;
    use spin_sdk::wasip3::http::types::{ErrorCode, RequestOptions};
    use spin_sdk::wasip3::http_compat::RequestOptionsExtension;

    pub async fn get_json<T: DeserializeOwned>(
        url: &str,
        known: Option<&Validator>,
        timeout: Duration,
        request_id: Option<&RequestId>,
    ) -> Result<Fetched<T>, GatewayError> {
        let transport = |error: String| GatewayError::Transport(format!("GET {url}: {error}"));
        let mut builder = http::Request::get(url).header(ACCEPT, "application/json");
        if let Some(Validator(tag)) = known {
            builder = builder.header(IF_NONE_MATCH, tag.as_str());
        }
        let request = builder
            .body(EmptyBody::new())
            .map_err(|error| transport(error.to_string()))?;
        let response = send(request, timeout, request_id, transport).await?;
        let tag = response
            .headers()
            .get(ETAG)
            .and_then(|value| value.to_str().ok())
            .map(|value| Validator(value.to_owned()));
        match classify(
            response.status(),
            response.headers().get(CONTENT_TYPE),
            known.is_some(),
        )? {
            Answer::Absent => return Ok(Fetched::Absent),
            Answer::NotModified => return Ok(Fetched::NotModified),
            Answer::Found => {}
        }
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|error| GatewayError::Malformed(format!("GET {url}: {error}")))?
            .to_bytes();
        Ok(Fetched::Found {
            value: parse(url, &body)?,
            tag,
        })
    }

    pub async fn call_grpc<Q: prost::Message, A: prost::Message + Default>(
        url: &str,
        message: &Q,
        timeout: Duration,
        request_id: Option<&RequestId>,
    ) -> Result<Fetched<A>, GatewayError> {
        let transport = |error: String| GatewayError::Transport(format!("POST {url}: {error}"));
        let body = spin_sdk::http::FullBody::new(service_kit::grpc::wire::frame(message));
        let request = http::Request::post(url)
            .header(CONTENT_TYPE, service_kit::grpc::wire::GRPC)
            .header("te", "trailers")
            .body(body)
            .map_err(|error| transport(error.to_string()))?;
        let response = send(request, timeout, request_id, transport).await?;
        if response.status() != StatusCode::OK {
            return Err(GatewayError::Status(response.status().as_u16()));
        }
        let (parts, body) = response.into_parts();
        let collected = Limited::new(body, MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|error| GatewayError::Malformed(format!("POST {url}: {error}")))?;
        // A status in the trailers, or in the headers of a trailers-only answer.
        let trailers = collected.trailers().cloned().unwrap_or_default();
        let field = |name: &str| {
            trailers
                .get(name)
                .or_else(|| parts.headers.get(name))
                .cloned()
        };
        let (status, message) = (field(wire::GRPC_STATUS), field(wire::GRPC_MESSAGE));
        read_grpc(
            url,
            status.as_ref(),
            message.as_ref(),
            &collected.to_bytes(),
        )
    }

    /// Sends `request` with the `wasi:http` timeouts of `timeout` and the inbound request's
    /// id: a timeout is [`GatewayError::TimedOut`], any other failure `transport`'s error.
    async fn send<B>(
        mut request: http::Request<B>,
        timeout: Duration,
        request_id: Option<&RequestId>,
        transport: impl Fn(String) -> GatewayError,
    ) -> Result<spin_sdk::http::Response, GatewayError>
    where
        http::Request<B>: spin_sdk::http::IntoRequest,
    {
        request
            .extensions_mut()
            .insert(RequestOptionsExtension(options(timeout)));
        if let Some(id) = request_id {
            request.headers_mut().insert(REQUEST_ID, id.header_value());
        }
        spin_sdk::http::send(request)
            .await
            .map_err(|error| match error {
                ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout => {
                    GatewayError::TimedOut
                }
                other => transport(format!("{other:?}")),
            })
    }

    /// The `wasi:http` timeouts Spin applies to a call over the network (600 s each unless
    /// set). A host that does not support one leaves it unset; the guest's timer still holds.
    fn options(timeout: Duration) -> RequestOptions {
        let options = RequestOptions::new();
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem() -> Option<HeaderValue> {
        Some(HeaderValue::from_static(PROBLEM_JSON))
    }

    fn json() -> Option<HeaderValue> {
        Some(HeaderValue::from_static("application/json"))
    }

    #[test]
    fn a_200_is_the_resource() {
        assert_eq!(
            classify(StatusCode::OK, json().as_ref(), false).ok(),
            Some(Answer::Found)
        );
    }

    #[test]
    fn a_404_with_a_problem_body_is_an_absent_resource() {
        assert_eq!(
            classify(StatusCode::NOT_FOUND, problem().as_ref(), false).ok(),
            Some(Answer::Absent)
        );
    }

    #[test]
    fn a_bare_404_is_a_wrong_url_and_fails() {
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, None, false),
            Err(GatewayError::Status(404))
        ));
    }

    #[test]
    fn a_404_with_another_media_type_fails() {
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, json().as_ref(), false),
            Err(GatewayError::Status(404))
        ));
    }

    #[test]
    fn a_304_is_not_modified_only_after_sending_a_validator() {
        assert_eq!(
            classify(StatusCode::NOT_MODIFIED, None, true).ok(),
            Some(Answer::NotModified)
        );
    }

    #[test]
    fn an_oversized_or_garbage_body_is_malformed() {
        assert!(matches!(
            parse::<u8>("u", b"<html>"),
            Err(GatewayError::Malformed(_))
        ));
    }

    #[test]
    fn any_other_status_fails_naming_it() {
        for status in [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::NOT_MODIFIED,
            StatusCode::CREATED,
        ] {
            assert!(
                matches!(classify(status, problem().as_ref(), false), Err(GatewayError::Status(s)) if s == status.as_u16()),
                "{status}"
            );
        }
    }

    /// An upstream's gRPC status, read by number as `google.rpc.Code` numbers them.
    fn grpc_outcome(status: &str) -> Result<Fetched<proto_reply::Empty>, GatewayError> {
        let status = HeaderValue::from_str(status).unwrap();
        read_grpc("u", Some(&status), None, &[])
    }

    mod proto_reply {
        #[derive(Clone, PartialEq, prost::Message)]
        pub struct Empty {}
    }

    #[test]
    fn grpc_statuses_mean_what_their_http_counterparts_do() {
        assert!(
            matches!(grpc_outcome("5"), Ok(Fetched::Absent)),
            "NOT_FOUND"
        );
        assert!(
            matches!(grpc_outcome("4"), Err(GatewayError::TimedOut)),
            "DEADLINE_EXCEEDED"
        );
        for unavailable in ["8", "14"] {
            assert!(
                matches!(grpc_outcome(unavailable), Err(GatewayError::Status(503))),
                "{unavailable}"
            );
        }
        for internal in ["2", "13"] {
            assert!(
                matches!(grpc_outcome(internal), Err(GatewayError::Status(500))),
                "{internal}"
            );
        }
        assert!(
            matches!(grpc_outcome("3"), Err(GatewayError::Malformed(_))),
            "INVALID_ARGUMENT"
        );
        assert!(
            matches!(grpc_outcome("99"), Err(GatewayError::Malformed(_))),
            "no such code"
        );
    }
}
