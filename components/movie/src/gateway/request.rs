//! One GET of a JSON resource from an upstream service, and how its answer is read.

use crate::controller::GatewayError;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;
use service_kit::edge::problem::PROBLEM_JSON;
use service_kit::edge::request::MAX_BODY_BYTES;
use spin_sdk::http::EmptyBody;

/// What an upstream answered, read.
#[derive(Debug, PartialEq)]
pub enum Fetched<T> {
    Found(T),
    /// The upstream said it has no such resource.
    NotFound,
}

/// What the status line and media type of an upstream answer say, before its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200: the body is the resource.
    Found,
    /// 404 with a problem body: the upstream looked and the resource is absent.
    Absent,
}

/// Reads an upstream's status and media type. A 404 means "absent" only with a problem body:
/// a bare 404 is what Spin answers when no route matches, i.e. a wrong upstream URL, and must
/// surface as a failure rather than hide every movie.
pub fn classify(
    status: StatusCode,
    content_type: Option<&HeaderValue>,
) -> Result<Answer, GatewayError> {
    let is_problem =
        content_type.is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    match status {
        StatusCode::OK => Ok(Answer::Found),
        StatusCode::NOT_FOUND if is_problem => Ok(Answer::Absent),
        other => Err(GatewayError::Status(other.as_u16())),
    }
}

pub async fn get_json<T: DeserializeOwned>(url: &str) -> Result<Fetched<T>, GatewayError> {
    let request = http::Request::get(url)
        .header(ACCEPT, "application/json")
        .body(EmptyBody::new())
        .map_err(|error| GatewayError::Transport(format!("GET {url}: {error}")))?;
    let response = spin_sdk::http::send(request)
        .await
        .map_err(|error| GatewayError::Transport(format!("GET {url}: {error:?}")))?;
    match classify(response.status(), response.headers().get(CONTENT_TYPE))? {
        Answer::Absent => return Ok(Fetched::NotFound),
        Answer::Found => {}
    }
    let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|error| GatewayError::Malformed(format!("GET {url}: {error}")))?
        .to_bytes();
    serde_json::from_slice(&body)
        .map(Fetched::Found)
        .map_err(|error| GatewayError::Malformed(format!("GET {url}: {error}")))
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
            classify(StatusCode::OK, json().as_ref()).ok(),
            Some(Answer::Found)
        );
    }

    #[test]
    fn a_404_with_a_problem_body_is_an_absent_resource() {
        assert_eq!(
            classify(StatusCode::NOT_FOUND, problem().as_ref()).ok(),
            Some(Answer::Absent)
        );
    }

    #[test]
    fn a_bare_404_is_a_wrong_url_and_fails() {
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, None),
            Err(GatewayError::Status(404))
        ));
    }

    #[test]
    fn a_404_with_another_media_type_fails() {
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, json().as_ref()),
            Err(GatewayError::Status(404))
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
                matches!(classify(status, problem().as_ref()), Err(GatewayError::Status(s)) if s == status.as_u16()),
                "{status}"
            );
        }
    }
}
