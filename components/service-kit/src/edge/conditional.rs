//! Entity tags and conditional GETs (RFC 9110 8.8.3, 13.1.2): a client, or the movie service
//! revalidating its cache, sends `If-None-Match` and gets a body-less 304 while nothing changed.

use super::problem::Problem;
use super::respond::{self, HttpResponse};
use http::StatusCode;
use http::header::{ETAG, HeaderMap, HeaderValue, IF_NONE_MATCH, VARY};
use serde::Serialize;
use std::fmt;

/// A strong validator: the 64-bit FNV-1a hash of a representation's bytes. FNV is fixed by
/// its definition, so every instance and every build computes the same tag for the same body,
/// which a cache in front of several instances needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ETag(u64);

impl ETag {
    pub fn of(bytes: &[u8]) -> Self {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        Self(bytes.iter().fold(OFFSET, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        }))
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{:016x}\"", self.0)
    }
}

/// Whether an `If-None-Match` header matches the current tag: `*`, or any listed tag by weak
/// comparison (RFC 9110 13.1.2: a `W/` prefix is ignored).
pub fn matches_any(current: &HeaderValue, if_none_match: &HeaderValue) -> bool {
    let (Ok(current), Ok(wanted)) = (current.to_str(), if_none_match.to_str()) else {
        return false;
    };
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let current = opaque(current);
    wanted.trim() == "*" || wanted.split(',').any(|tag| opaque(tag) == current)
}

/// A JSON representation with its `ETag`. The tag is derived from the body's bytes, so equal
/// bodies share a tag and a change to any field changes it.
pub fn tagged_json(status: StatusCode, value: &impl Serialize) -> Result<HttpResponse, Problem> {
    let body = serde_json::to_vec(value).map_err(|error| Problem::internal().with_cause(error))?;
    let tag =
        HeaderValue::try_from(ETag::of(&body).to_string()).map_err(|_| Problem::internal())?;
    let mut response = respond::bytes(status, respond::JSON, body);
    response.headers_mut().insert(ETAG, tag);
    Ok(response)
}

/// 304 with the tag instead of `response` when the request's `If-None-Match` names its tag.
pub fn unless_unchanged(response: HttpResponse, request: &HeaderMap) -> HttpResponse {
    match (response.headers().get(ETAG), request.get(IF_NONE_MATCH)) {
        (Some(current), Some(wanted)) if matches_any(current, wanted) => {
            let mut not_modified = respond::empty(StatusCode::NOT_MODIFIED);
            not_modified.headers_mut().insert(ETAG, current.clone());
            // RFC 9110 15.4.5: a 304 carries the `Vary` the 200 would have.
            if let Some(vary) = response.headers().get(VARY) {
                not_modified.headers_mut().insert(VARY, vary.clone());
            }
            not_modified
        }
        _ => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &'static str) -> HeaderValue {
        HeaderValue::from_static(value)
    }

    #[test]
    fn equal_bodies_share_a_tag_and_different_bodies_do_not() {
        assert_eq!(ETag::of(b"{\"a\":1}"), ETag::of(b"{\"a\":1}"));
        assert_ne!(ETag::of(b"{\"a\":1}"), ETag::of(b"{\"a\":2}"));
    }

    #[test]
    fn a_tag_is_a_quoted_string() {
        let tag = ETag::of(b"x").to_string();
        assert!(
            tag.starts_with('"') && tag.ends_with('"') && tag.len() == 18,
            "{tag}"
        );
    }

    #[test]
    fn a_304_keeps_the_vary_of_the_response_it_stands_for() {
        let mut response = tagged_json(StatusCode::OK, &1).unwrap_or_else(|p| p.into_response());
        response.headers_mut().insert(VARY, header("accept"));
        let mut request = HeaderMap::new();
        request.insert(IF_NONE_MATCH, header("*"));
        let not_modified = unless_unchanged(response, &request);
        assert_eq!(
            (not_modified.status(), not_modified.headers().get(VARY)),
            (StatusCode::NOT_MODIFIED, Some(&header("accept")))
        );
    }

    #[test]
    fn if_none_match_accepts_a_star_a_list_and_weak_tags() {
        let current = header("\"abc\"");
        assert!(matches_any(&current, &header("*")));
        assert!(matches_any(&current, &header("\"x\", \"abc\"")));
        assert!(matches_any(&current, &header("W/\"abc\"")));
        assert!(!matches_any(&current, &header("\"abd\"")));
    }
}
