//! Content negotiation between JSON (the default) and Protocol Buffers
//! (`application/x-protobuf`) on the REST routes: a client that asks for protobuf gets the
//! book's message for the resource, and a write may send one.

use super::conditional::{ETag, tagged_json};
use super::problem::Problem;
use super::request::{RequestBody, bounded_body, media_type};
use super::respond::{self, HttpResponse};
use http::header::{ETAG, HeaderMap, HeaderValue, VARY};
use http::{StatusCode, header::ACCEPT};
use serde::Serialize;

/// The media type of a protobuf message on the REST routes.
pub const PROTOBUF: &str = "application/x-protobuf";

/// A representation format of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Protobuf,
}

impl Format {
    /// What the client prefers: protobuf when `Accept` gives `application/x-protobuf` a higher
    /// quality than JSON, or the same quality as a wildcard (`*/*`, `application/*`) that would
    /// otherwise mean JSON; JSON otherwise, the absent header included.
    pub fn accepted(headers: &HeaderMap) -> Self {
        let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Self::Json;
        };
        let (mut protobuf, mut json, mut wildcard) = (0.0_f32, None, 0.0_f32);
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                PROTOBUF => protobuf = protobuf.max(quality),
                "application/json" => json = Some(json.unwrap_or(0.0_f32).max(quality)),
                "application/*" | "*/*" => wildcard = wildcard.max(quality),
                _ => {}
            }
        }
        let prefers_protobuf = match json {
            Some(json) => protobuf > json,
            None => protobuf > 0.0 && protobuf >= wildcard,
        };
        if prefers_protobuf {
            Self::Protobuf
        } else {
            Self::Json
        }
    }

    /// The format of a request's body: protobuf when it says so, JSON otherwise (whose reader
    /// refuses other media types with 415).
    pub fn sent(headers: &HeaderMap) -> Self {
        if media_type(headers).as_deref() == Some(PROTOBUF) {
            Self::Protobuf
        } else {
            Self::Json
        }
    }
}

/// The resource in the format the client accepted, with its `ETag` (of that format's bytes)
/// and `Vary: Accept`, since one URL now has two representations.
pub fn representation<M: prost::Message>(
    status: StatusCode,
    format: Format,
    json: &impl Serialize,
    message: impl FnOnce() -> M,
) -> Result<HttpResponse, Problem> {
    let mut response = match format {
        Format::Json => tagged_json(status, json)?,
        Format::Protobuf => {
            let body = message().encode_to_vec();
            let tag = HeaderValue::try_from(ETag::of(&body).to_string())
                .map_err(|_| Problem::internal())?;
            let mut response = respond::bytes(status, PROTOBUF, body);
            response.headers_mut().insert(ETAG, tag);
            response
        }
    };
    response
        .headers_mut()
        .insert(VARY, HeaderValue::from_static("accept"));
    Ok(response)
}

/// Reads a write's body as the protobuf message `M`: 413 past the size limit, 400 when the
/// bytes are not an `M`.
pub async fn protobuf_message<M, B>(headers: &HeaderMap, body: B) -> Result<M, Problem>
where
    M: prost::Message + Default,
    B: RequestBody,
{
    let bytes = bounded_body(headers, body).await?;
    M::decode(bytes).map_err(|error| {
        Problem::bad_request(format!("the body is not a valid protobuf message: {error}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &'static str) -> Format {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(value));
        Format::accepted(&headers)
    }

    #[test]
    fn json_is_the_default() {
        assert_eq!(Format::accepted(&HeaderMap::new()), Format::Json);
        assert_eq!(accepting("*/*"), Format::Json);
        assert_eq!(accepting("text/html"), Format::Json);
    }

    #[test]
    fn protobuf_is_served_when_asked_for() {
        assert_eq!(accepting("application/x-protobuf"), Format::Protobuf);
        assert_eq!(
            accepting("application/x-protobuf, application/json;q=0.5"),
            Format::Protobuf
        );
        assert_eq!(accepting("application/x-protobuf, */*"), Format::Protobuf);
    }

    #[test]
    fn json_wins_when_preferred_or_named_at_equal_quality() {
        assert_eq!(
            accepting("application/json, application/x-protobuf;q=0.9"),
            Format::Json
        );
        assert_eq!(
            accepting("application/x-protobuf, application/json"),
            Format::Json
        );
        assert_eq!(accepting("*/*, application/x-protobuf;q=0"), Format::Json);
    }
}
