//! Reading requests: bounded JSON bodies, query strings, and named values of either.

use super::problem::Problem;
use crate::field::{FieldErrors, Invalid, one};
use crate::json::JsonObject;
use bytes::Bytes;
use http::StatusCode;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;

/// Largest request body any service accepts; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request body the services can read: Spin's incoming body, or a `Full` in native tests.
pub trait RequestBody:
    http_body::Body<Error: Into<Box<dyn std::error::Error + Send + Sync>>>
{
}

impl<B> RequestBody for B
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
}

/// Reads a write request's body as a JSON object.
///
/// Checks, in order: the media type is JSON (415), the declared and the actual length stay
/// within [`MAX_BODY_BYTES`] (413), and the bytes are a JSON object (400). Nothing is read past
/// the limit, so an oversized body costs the service at most 64 KiB.
pub async fn json_object<B: RequestBody>(
    headers: &HeaderMap,
    body: B,
) -> Result<JsonObject, Problem> {
    require_json_media_type(headers)?;
    let bytes = bounded_body(headers, body).await?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|error| Problem::bad_request(format!("the body is not valid JSON: {error}")))?;
    JsonObject::from_value(value)
        .ok_or_else(|| Problem::bad_request("the body must be a JSON object"))
}

/// Reads a batch body as a JSON array, with the same checks as [`json_object`].
pub async fn json_array<B: RequestBody>(
    headers: &HeaderMap,
    body: B,
) -> Result<Vec<Value>, Problem> {
    require_json_media_type(headers)?;
    let bytes = bounded_body(headers, body).await?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(_) => Err(Problem::bad_request("the body must be a JSON array")),
        Err(error) => Err(Problem::bad_request(format!(
            "the body is not valid JSON: {error}"
        ))),
    }
}

/// Reads a form body (`application/x-www-form-urlencoded`, as OAuth 2.0 token requests are
/// sent): 415 for another media type, 413 past [`MAX_BODY_BYTES`].
pub async fn form<B: RequestBody>(headers: &HeaderMap, body: B) -> Result<Query, Problem> {
    if media_type(headers).as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be sent as application/x-www-form-urlencoded",
        ));
    }
    let bytes = bounded_body(headers, body).await?;
    Ok(Query::from_bytes(&bytes))
}

/// The essence of the `Content-Type` (no parameters), in lower case.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
}

fn require_json_media_type(headers: &HeaderMap) -> Result<(), Problem> {
    match media_type(headers).as_deref() {
        Some("application/json") => Ok(()),
        Some(other) if other.starts_with("application/") && other.ends_with("+json") => Ok(()),
        _ => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be sent as application/json",
        )),
    }
}

/// The body's length as its `Content-Length` declares it, if it does.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
}

/// The whole body, refused with 413 past [`MAX_BODY_BYTES`] (declared or actual).
pub(crate) async fn bounded_body<B: RequestBody>(
    headers: &HeaderMap,
    body: B,
) -> Result<Bytes, Problem> {
    if declared_length(headers).is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(error) => Err(Problem::bad_request(format!(
            "the body could not be read: {error}"
        ))),
    }
}

fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body must be at most {MAX_BODY_BYTES} bytes"),
    )
}

/// Named text values of a request: path parameters or query parameters. The name of a value
/// is also the field a 400 names when it is missing or invalid.
pub trait Fields {
    /// The value of `name`, if the request has one.
    fn get(&self, name: &str) -> Option<&str>;

    /// The value of `name` parsed; missing is "is required".
    fn parse<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Result<T, Invalid> {
        self.get(name)
            .ok_or_else(|| Invalid::new("is required"))
            .and_then(parse)
    }

    /// The one value a route needs, or a 400 naming it.
    fn one<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Result<T, Problem> {
        Ok(one(name, self.parse(name, parse))?)
    }

    /// Records in `errors` why `name` was rejected, if it was.
    fn check<T>(
        &self,
        errors: &mut FieldErrors,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        errors.check(name, self.parse(name, parse))
    }
}

/// A decoded query string (`application/x-www-form-urlencoded`).
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        Self::from_bytes(query.unwrap_or_default().as_bytes())
    }

    /// Decodes form-encoded bytes (a query string or a form body).
    pub fn from_bytes(encoded: &[u8]) -> Self {
        let pairs = form_urlencoded::parse(encoded)
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        Self { pairs }
    }

    /// How many times `name` occurs.
    pub fn count(&self, name: &str) -> usize {
        self.pairs.iter().filter(|(key, _)| key == name).count()
    }

    /// The query of a request.
    pub fn of<B>(request: &http::Request<B>) -> Self {
        Self::parse(request.uri().query())
    }
}

impl Fields for Query {
    /// The first value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http_body_util::Full;

    fn headers(content_type: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
        }
        headers
    }

    fn read(
        content_type: Option<&'static str>,
        body: &'static [u8],
    ) -> Result<JsonObject, Problem> {
        let headers = headers(content_type);
        futures::executor::block_on(json_object(&headers, Full::new(Bytes::from_static(body))))
    }

    fn status(result: Result<JsonObject, Problem>) -> Option<StatusCode> {
        result.err().map(|problem| problem.status())
    }

    #[test]
    fn a_json_object_with_charset_is_read() {
        assert!(read(Some("application/json; charset=utf-8"), br#"{"a":1}"#).is_ok());
    }

    #[test]
    fn a_non_json_or_missing_media_type_is_415() {
        assert_eq!(
            status(read(Some("text/plain"), b"{}")),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        assert_eq!(
            status(read(None, b"{}")),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
    }

    #[test]
    fn a_body_over_64_kib_is_413_even_without_content_length() {
        static BIG: [u8; MAX_BODY_BYTES + 1] = [b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            status(read(Some("application/json"), &BIG)),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
    }

    #[test]
    fn a_declared_length_over_the_limit_is_413_before_reading() {
        let mut headers = headers(Some("application/json"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(MAX_BODY_BYTES + 1));
        let result = futures::executor::block_on(json_object(
            &headers,
            Full::new(Bytes::from_static(b"{}")),
        ));
        assert_eq!(status(result), Some(StatusCode::PAYLOAD_TOO_LARGE));
    }

    #[test]
    fn malformed_json_and_non_objects_are_400() {
        assert_eq!(
            status(read(Some("application/json"), b"{")),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            status(read(Some("application/json"), b"[1]")),
            Some(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn query_values_are_percent_decoded() {
        let query = Query::parse(Some("id=a%2Eb&type=movie&id=second"));
        assert_eq!(query.get("id"), Some("a.b"));
        assert_eq!(query.get("type"), Some("movie"));
    }

    #[test]
    fn a_missing_query_value_is_required_and_a_bad_one_names_its_field() {
        let query = Query::parse(Some("limit=x"));
        assert_eq!(
            query.parse("missing", |raw| Ok(raw.len())),
            Err(Invalid::new("is required"))
        );
        let problem = query.one("limit", |_| Err::<u8, _>(Invalid::new("bad")));
        assert_eq!(
            problem.err().map(|p| p.status()),
            Some(StatusCode::BAD_REQUEST)
        );
    }
}
