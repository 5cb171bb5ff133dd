//! The request id: what joins the log lines of one client request across the three services.
//! Spin 4.1 starts a new trace for every outbound call of a WASIp3 component (and replaces a
//! `traceparent` the guest sets), so trace ids cannot join them; a header of our own can.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

/// The header that carries the id in and out: read from the client, returned on the
/// response, forwarded by movie to its upstreams.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const TRACEPARENT: &str = "traceparent";

/// The longest id taken from a client: a UUID is 36 characters, a W3C trace id 32.
const MAX_LEN: usize = 128;

/// A request id: printable, short, and safe in a header and a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The id a request carries: its `x-request-id` when that is 1 to 128 characters of
    /// letters, digits and `-_.:`; else the trace id of its `traceparent` (W3C Trace Context:
    /// version `00`, 32 lowercase hex digits, not all zero); else a new random one. A malformed
    /// header is ignored rather than refused: the id is for the operator, not the client.
    pub fn of(headers: &HeaderMap) -> Self {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        header(REQUEST_ID)
            .and_then(Self::parse)
            .or_else(|| header(HeaderName::from_static(TRACEPARENT)).and_then(trace_id))
            .unwrap_or_else(Self::generate)
    }

    /// The request's id, written into its `x-request-id` header so that everything reading
    /// the request later ([`crate::edge::serve`], a forwarding gateway) finds the same one.
    pub fn assign(headers: &mut HeaderMap) -> Self {
        let id = Self::of(headers);
        headers.insert(REQUEST_ID, id.header_value());
        id
    }

    /// `text` as a request id, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        (!text.is_empty() && text.len() <= MAX_LEN && text.chars().all(allowed))
            .then(|| Self(text.to_owned()))
    }

    /// 128 random bits as 32 hex digits, from the host's random source.
    pub fn generate() -> Self {
        let (high, low) = random_u128_halves();
        Self(format!("{high:016x}{low:016x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn header_value(&self) -> HeaderValue {
        // Only visible ASCII is ever accepted or generated, so this cannot fail.
        HeaderValue::from_str(&self.0).unwrap_or(HeaderValue::from_static("invalid"))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The trace id of a W3C `traceparent` (`00-<trace id>-<parent id>-<flags>`).
fn trace_id(traceparent: &str) -> Option<RequestId> {
    let mut parts = traceparent.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |part: &str, len: usize| {
        part.len() == len && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let valid = version == "00"
        && parts.next().is_none()
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0');
    valid.then(|| RequestId(trace.to_owned()))
}

#[cfg(target_arch = "wasm32")]
fn random_u128_halves() -> (u64, u64) {
    use spin_sdk::wasip3::random::random::get_random_u64;
    (get_random_u64(), get_random_u64())
}

/// Native builds (unit tests): std's per-process random keys, through a hasher.
#[cfg(not(target_arch = "wasm32"))]
fn random_u128_halves() -> (u64, u64) {
    use std::hash::{BuildHasher, RandomState};
    let state = RandomState::new();
    (state.hash_one(1u8), state.hash_one(2u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_x_request_id_is_kept_as_sent() {
        let id = RequestId::of(&headers(&[("x-request-id", "req-42:a.b_c")]));
        assert_eq!(id.as_str(), "req-42:a.b_c");
    }

    #[test]
    fn x_request_id_wins_over_traceparent() {
        let id = RequestId::of(&headers(&[
            ("x-request-id", "mine"),
            ("traceparent", TRACEPARENT),
        ]));
        assert_eq!(id.as_str(), "mine");
    }

    #[test]
    fn without_x_request_id_the_trace_id_is_used() {
        let id = RequestId::of(&headers(&[("traceparent", TRACEPARENT)]));
        assert_eq!(id.as_str(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn an_unsafe_or_oversized_x_request_id_is_replaced() {
        for sent in ["has space", "quote\"", "", &"a".repeat(129)] {
            let id = RequestId::of(&headers(&[("x-request-id", sent)]));
            assert_ne!(id.as_str(), sent, "{sent:?} should not be taken as an id");
            assert_eq!(id.as_str().len(), 32, "a generated id replaces {sent:?}");
        }
    }

    #[test]
    fn a_malformed_or_zero_traceparent_is_ignored() {
        for sent in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            let id = RequestId::of(&headers(&[("traceparent", sent)]));
            assert!(
                !sent.contains(id.as_str()),
                "{sent:?} should not give the id {id}"
            );
        }
    }

    #[test]
    fn generated_ids_are_32_hex_digits_and_differ() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()) && a.as_str().len() == 32);
        assert_ne!(a, b, "two generated ids should differ");
    }

    #[test]
    fn assign_writes_the_id_into_the_request() {
        let mut map = headers(&[("x-request-id", "bad id")]);
        let id = RequestId::assign(&mut map);
        assert_eq!(map.get(REQUEST_ID).unwrap(), id.as_str());
        assert_eq!(RequestId::of(&map), id, "reading again gives the same id");
    }
}
