//! RFC 9457 problem details: the one shape every error response of the system takes.

use super::respond::{self, HttpResponse};
use crate::error_class::{Classify, ErrorClass};
use crate::field::{FieldError, FieldErrors};
use crate::rate_limit::Decision;
use http::StatusCode;
use http::header::{ALLOW, HeaderName, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use serde::Serialize;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error response. `type` is always `about:blank`, so `title` is the status's reason phrase
/// (as RFC 9457 asks) and `detail` says what went wrong with this request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: AboutBlank,
    title: &'static str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// Every rejected field of a 400, so a client can fix them all at once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
    /// Extension members (RFC 9457 section 3.2) that help a client act on the problem: an
    /// OAuth 2.0 `error` code, who holds a lease and until when. Boxed, like `rate_limit`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    members: Option<Box<serde_json::Map<String, serde_json::Value>>>,
    /// The `Retry-After` header (seconds) of a 503 or 429; not part of the body.
    #[serde(skip)]
    retry_after: Option<u32>,
    /// The `Allow` header of a 405 or the `WWW-Authenticate` challenge of a 401 or 403 (a
    /// problem has at most one of them); not part of the body. Boxed, like `rate_limit`.
    #[serde(skip)]
    header: Option<Box<(HeaderName, Box<str>)>>,
    /// The `RateLimit` headers of a 429; not part of the body. Boxed: problems travel in
    /// `Result`s, which should stay small.
    #[serde(skip)]
    rate_limit: Option<Box<Decision>>,
    /// What the operator reads about the problem in the request's access line; never part of
    /// the response. Boxed, like `rate_limit`.
    #[serde(skip)]
    diagnosis: Option<Box<Diagnosis>>,
}

/// What the client is not told and the operator must be.
#[derive(Debug, Clone, Default, PartialEq)]
struct Diagnosis {
    /// The error behind a 5xx (`error.message`).
    cause: Option<Box<str>>,
    /// The class of the error that made the problem (`error.type`).
    error_type: Option<&'static str>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: AboutBlank,
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: Some(detail.into()),
            errors: Vec::new(),
            members: None,
            retry_after: None,
            header: None,
            rate_limit: None,
            diagnosis: None,
        }
    }

    /// 400 naming each rejected field.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let mut problem = Self::new(StatusCode::BAD_REQUEST, "the request has invalid fields");
        problem.errors = errors;
        problem
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 405 with the methods the resource does support, for the `Allow` header.
    pub fn method_not_allowed(allow: String) -> Self {
        let mut problem = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("this resource supports {allow}"),
        );
        problem.header = Some(Box::new((ALLOW, allow.into_boxed_str())));
        problem
    }

    /// 500 that deliberately says nothing about the cause: details go to the component's log.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the service could not complete the request",
        )
    }

    /// 503 with `Retry-After: 1`: nothing was done, and the same request may succeed a moment
    /// later.
    pub fn busy() -> Self {
        let mut problem = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is busy; try again shortly",
        );
        problem.retry_after = Some(1);
        problem
    }

    /// The problem with an OAuth 2.0 `error` member, which OAuth clients read.
    pub fn with_oauth_error(self, code: &'static str) -> Self {
        self.with_member("error", code)
    }

    /// The problem with the extension member `name` (camelCase, as the API's members are).
    pub fn with_member(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.members
            .get_or_insert_default()
            .insert(name.to_owned(), value.into());
        self
    }

    /// The problem asking the client to try again after `seconds` (`Retry-After`).
    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The problem with a `WWW-Authenticate` challenge.
    pub fn with_challenge(mut self, challenge: impl Into<String>) -> Self {
        self.header = Some(Box::new((
            WWW_AUTHENTICATE,
            challenge.into().into_boxed_str(),
        )));
        self
    }

    /// The problem with the cause the operator reads in the request's access line.
    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.diagnosis.get_or_insert_default().cause = Some(cause.to_string().into_boxed_str());
        self
    }

    /// The cause of a failure, for the log: never sent to the client.
    pub fn cause(&self) -> Option<&str> {
        self.diagnosis.as_ref()?.cause.as_deref()
    }

    /// The class of the error behind the problem (`not_found`, `upstream_timeout`, ...), or
    /// the status code as text, as OpenTelemetry's `error.type` asks when nothing better is
    /// known.
    pub fn error_type(&self) -> std::borrow::Cow<'static, str> {
        match self.diagnosis.as_ref().and_then(|d| d.error_type) {
            Some(kind) => kind.into(),
            None => self.status.to_string().into(),
        }
    }

    /// What went wrong with this request, in words for the client.
    pub fn detail(&self) -> &str {
        self.detail.as_deref().unwrap_or(self.title)
    }

    /// The rejected fields of a 400 (none otherwise).
    pub fn field_errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// The seconds after which the same request may succeed (a 429 or 503).
    pub fn retry_after(&self) -> Option<u32> {
        self.retry_after
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn into_response(self) -> HttpResponse {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = respond::bytes(self.status(), PROBLEM_JSON, body);
        if let Some((name, value)) = self.header.map(|header| *header)
            && let Ok(value) = HeaderValue::try_from(value.as_ref())
        {
            response.headers_mut().insert(name, value);
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(decision) = self.rate_limit {
            super::rate_limit::annotate(&mut response, &decision);
        }
        response
    }
}

/// A 400 naming every rejected field.
impl From<FieldErrors> for Problem {
    fn from(errors: FieldErrors) -> Self {
        Problem::invalid_fields(errors.into_vec())
    }
}

/// A controller's error as HTTP: 404 with its message, 502 (unusable answer), 503 (unreachable,
/// with `Retry-After`) or 504 (too slow) naming the upstream, 503 to retry shortly, or a 500 that
/// reveals nothing. Whatever the client is not told is the problem's cause, which the
/// request's access line carries.
impl<E: Classify> From<E> for Problem {
    fn from(error: E) -> Self {
        let class = error.class();
        let kind = class.error_type();
        let mut problem = match class {
            ErrorClass::NotFound => Problem::not_found(error.to_string()),
            ErrorClass::Unauthenticated => {
                Problem::new(StatusCode::UNAUTHORIZED, error.to_string())
                    .with_challenge(challenge("invalid_token", &error.to_string()))
            }
            ErrorClass::Forbidden(scope) => {
                let challenge = format!(
                    "{}, scope=\"{scope}\"",
                    challenge("insufficient_scope", &error.to_string())
                );
                Problem::new(StatusCode::FORBIDDEN, error.to_string()).with_challenge(challenge)
            }
            ErrorClass::Upstream(service) => Problem::new(
                StatusCode::BAD_GATEWAY,
                format!("the {service} service did not answer usefully"),
            )
            .with_cause(&error),
            ErrorClass::Unavailable {
                service,
                retry_after_s,
            } => {
                let mut problem = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the {service} service is unavailable; try again shortly"),
                )
                .with_cause(&error);
                problem.retry_after = Some(retry_after_s);
                problem
            }
            ErrorClass::TimedOut(service) => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!("the {service} service did not answer in time"),
            )
            .with_cause(&error),
            ErrorClass::RateLimited(decision) => {
                let mut problem = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "this client's quota of {} requests per {} s is used up",
                        decision.policy.quota, decision.policy.window_s
                    ),
                );
                problem.retry_after = Some(decision.reset_s);
                problem.rate_limit = Some(Box::new(decision));
                problem
            }
            ErrorClass::Internal => Problem::internal().with_cause(&error),
            ErrorClass::Busy => Problem::busy().with_cause(&error),
        };
        problem.diagnosis.get_or_insert_default().error_type = Some(kind);
        problem
    }
}

/// `type` of every problem: RFC 9457's default, meaning the status says it all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AboutBlank;

impl Serialize for AboutBlank {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("about:blank")
    }
}

/// The realm every service's bearer challenge names.
pub const REALM: &str = "movie-system";

/// An RFC 6750 bearer challenge: `error` and a description (made of characters a quoted
/// string may hold).
fn challenge(error: &str, description: &str) -> String {
    let description: String = description
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    format!("Bearer realm=\"{REALM}\", error=\"{error}\", error_description=\"{description}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_members_are_top_level_members_of_the_body() {
        let problem = Problem::new(StatusCode::CONFLICT, "held").with_member("holder", "run-1");
        let body = serde_json::to_value(&problem).unwrap();
        assert_eq!(body["holder"], "run-1", "{body}");
        assert_eq!(body["status"], 409, "{body}");
    }

    #[test]
    fn a_problem_body_has_type_title_status_and_detail() {
        let body = serde_json::to_value(Problem::not_found("no movie m1")).ok();
        assert_eq!(
            body,
            Some(serde_json::json!({
                "type": "about:blank",
                "title": "Not Found",
                "status": 404,
                "detail": "no movie m1"
            }))
        );
    }

    #[test]
    fn a_405_carries_the_allow_header_and_problem_media_type() {
        let response = Problem::method_not_allowed("GET, PUT".into()).into_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            response.headers().get(ALLOW).map(|v| v.as_bytes()),
            Some(&b"GET, PUT"[..])
        );
        assert_eq!(
            response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(PROBLEM_JSON.as_bytes())
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Failed(&'static str, ErrorClass);

    impl Classify for Failed {
        fn class(&self) -> ErrorClass {
            self.1
        }
    }

    #[test]
    fn an_internal_error_is_a_500_that_reveals_nothing_about_its_cause() {
        let problem = Problem::from(Failed("sqlite: disk I/O error", ErrorClass::Internal));
        assert_eq!(problem.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&problem).unwrap_or_default();
        assert!(body.contains("could not complete"), "{body}");
        assert!(!body.contains("sqlite"), "{body}");
    }

    #[test]
    fn a_not_found_error_is_a_404_carrying_its_message() {
        let problem = Problem::from(Failed("no movie m1", ErrorClass::NotFound));
        assert_eq!(
            serde_json::to_value(&problem).unwrap(),
            serde_json::to_value(Problem::not_found("no movie m1")).unwrap()
        );
        assert_eq!(problem.error_type(), "not_found");
    }

    #[test]
    fn an_internal_error_keeps_its_cause_for_the_log_only() {
        let problem = Problem::from(Failed("disk I/O error", ErrorClass::Internal));
        assert_eq!(problem.cause(), Some("disk I/O error"));
        assert_eq!(problem.error_type(), "internal");
        let body = serde_json::to_string(&problem).unwrap_or_default();
        assert!(
            !body.contains("disk"),
            "the cause leaked into the body: {body}"
        );
    }

    #[test]
    fn a_problem_made_by_hand_is_typed_by_its_status() {
        assert_eq!(Problem::bad_request("no").error_type(), "400");
    }

    #[test]
    fn an_upstream_error_is_a_502_naming_the_upstream_but_not_the_cause() {
        let problem = Problem::from(Failed("timeout", ErrorClass::Upstream("rating")));
        assert_eq!(problem.status(), StatusCode::BAD_GATEWAY);
        let body = serde_json::to_string(&problem).unwrap_or_default();
        assert!(body.contains("the rating service"), "{body}");
        assert!(!body.contains("timeout"), "{body}");
    }

    #[test]
    fn an_unavailable_upstream_is_a_503_naming_it_with_its_retry_after() {
        let unavailable = ErrorClass::Unavailable {
            service: "metadata",
            retry_after_s: 5,
        };
        let problem = Problem::from(Failed("connection refused", unavailable));
        let body = serde_json::to_string(&problem).unwrap_or_default();
        let response = problem.into_response();
        assert_eq!(
            (
                response.status(),
                response.headers().get(RETRY_AFTER).map(|v| v.as_bytes()),
                body.contains("the metadata service") && !body.contains("refused"),
            ),
            (StatusCode::SERVICE_UNAVAILABLE, Some(&b"5"[..]), true),
            "status, Retry-After and naming of an unavailable upstream: {body}"
        );
    }

    #[test]
    fn a_timed_out_upstream_is_a_504_naming_it() {
        let problem = Problem::from(Failed("deadline", ErrorClass::TimedOut("rating")));
        let body = serde_json::to_string(&problem).unwrap_or_default();
        assert_eq!(
            (problem.status(), body.contains("the rating service")),
            (StatusCode::GATEWAY_TIMEOUT, true),
            "{body}"
        );
    }

    #[test]
    fn a_busy_error_is_a_503_asking_to_retry_after_a_second() {
        let response =
            Problem::from(Failed("sqlite: database is locked", ErrorClass::Busy)).into_response();
        assert_eq!(
            (
                response.status(),
                response.headers().get(RETRY_AFTER).map(|v| v.as_bytes())
            ),
            (StatusCode::SERVICE_UNAVAILABLE, Some(&b"1"[..])),
            "status and Retry-After of a busy store"
        );
    }

    #[test]
    fn a_busy_error_reveals_nothing_about_its_cause() {
        let problem = Problem::from(Failed("sqlite: database is locked", ErrorClass::Busy));
        let body = serde_json::to_string(&problem).unwrap_or_default();
        assert!(!body.contains("sqlite"), "{body}");
    }
}
