//! RFC 9457 problem details: the one shape every error response of the system takes.

use crate::field::FieldError;
use crate::respond::{self, HttpResponse};
use http::StatusCode;
use http::header::{ALLOW, HeaderValue};
use serde::Serialize;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error response. `type` is always `about:blank`, so `title` is the status's reason phrase
/// (as RFC 9457 asks) and `detail` says what went wrong with this request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// Every rejected field of a 400, so a client can fix them all at once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
    /// The `Allow` header of a 405; not part of the body.
    #[serde(skip)]
    allow: Option<&'static str>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: Some(detail.into()),
            errors: Vec::new(),
            allow: None,
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
    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut problem = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("this resource supports {allow}"),
        );
        problem.allow = Some(allow);
        problem
    }

    /// 500 that deliberately says nothing about the cause: details go to the component's log.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the service could not complete the request",
        )
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn into_response(self) -> HttpResponse {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = respond::bytes(self.status(), PROBLEM_JSON, body);
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let response = Problem::method_not_allowed("GET, PUT").into_response();
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

    #[test]
    fn a_500_reveals_nothing_about_its_cause() {
        let body = serde_json::to_string(&Problem::internal()).unwrap_or_default();
        assert!(body.contains("could not complete"), "{body}");
        assert!(!body.contains("sqlite"), "{body}");
    }
}
