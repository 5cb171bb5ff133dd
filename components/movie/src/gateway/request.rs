//! One GET of a JSON resource from an upstream service.

use crate::controller::GatewayError;
use http::StatusCode;
use http::header::{ACCEPT, CONTENT_TYPE};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;
use service_kit::problem::PROBLEM_JSON;
use service_kit::request::MAX_BODY_BYTES;
use spin_sdk::http::EmptyBody;

/// What an upstream answered, classified.
#[derive(Debug, PartialEq)]
pub enum Fetched<T> {
    Found(T),
    /// The upstream itself said 404 with a problem body. A bare 404 (Spin's answer when no
    /// route matches, i.e. a misconfigured URL) is a failure, not an absent resource.
    NotFound,
}

pub async fn get_json<T: DeserializeOwned>(url: &str) -> Result<Fetched<T>, GatewayError> {
    let request = http::Request::get(url)
        .header(ACCEPT, "application/json")
        .body(EmptyBody::new())
        .map_err(|error| {
            GatewayError::Configuration(format!("invalid upstream URL {url}: {error}"))
        })?;
    let response = spin_sdk::http::send(request)
        .await
        .map_err(|error| GatewayError::Transport(format!("GET {url}: {error:?}")))?;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    match status {
        StatusCode::OK => {}
        StatusCode::NOT_FOUND if is_problem => return Ok(Fetched::NotFound),
        other => return Err(GatewayError::Status(other.as_u16())),
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
