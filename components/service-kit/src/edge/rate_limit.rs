//! Rate limits over HTTP: who the client is, and the IETF `RateLimit-Policy` / `RateLimit`
//! header fields (draft-ietf-httpapi-ratelimit-headers-10) on every metered response, so a
//! client can slow down before it is refused. The 429 itself is a [`super::Problem`].

use super::respond::HttpResponse;
use crate::rate_limit::{ClientKey, Decision, TrustedProxies};
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

/// The peer address Spin puts on every inbound request. Spin appends it after the headers the
/// client sent, so a client can send a `spin-client-addr` of its own: only the last value is
/// Spin's.
pub const SPIN_CLIENT_ADDR: &str = "spin-client-addr";
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The client a request counts against (see [`ClientKey::of`]): the address Spin wrote (the
/// last `spin-client-addr`; any before it came from the client and are ignored) and the
/// `X-Forwarded-For` hops of every field line in order, since a proxy may append a line of its
/// own after the client's instead of extending it.
pub fn client_key(headers: &HeaderMap, trusted: &TrustedProxies) -> ClientKey {
    let peer = headers
        .get_all(SPIN_CLIENT_ADDR)
        .iter()
        .next_back()
        .and_then(|value| value.to_str().ok());
    let hops = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .map(|line| line.to_str().unwrap_or("unreadable"))
        .flat_map(|line| line.split(','));
    ClientKey::of(peer, hops, trusted)
}

/// Adds `RateLimit-Policy: "default";q=60;w=60` and `RateLimit: "default";r=12;t=30`.
pub fn annotate(response: &mut HttpResponse, decision: &Decision) {
    let policy = decision.policy;
    let name = "\"default\"";
    let fields = [
        (
            RATELIMIT_POLICY,
            format!("{name};q={};w={}", policy.quota, policy.window_s),
        ),
        (
            RATELIMIT,
            format!("{name};r={};t={}", decision.remaining, decision.reset_s),
        ),
    ];
    for (field, value) in fields {
        if let Ok(value) = HeaderValue::try_from(value) {
            response.headers_mut().insert(field, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::respond;
    use crate::rate_limit::RatePolicy;
    use http::StatusCode;

    #[test]
    fn the_headers_state_quota_window_remaining_and_reset() {
        let policy = RatePolicy {
            quota: 60,
            window_s: 60,
        };
        let mut response = respond::empty(StatusCode::NO_CONTENT);
        annotate(&mut response, &policy.decide(48, 30));
        let header = |name: &HeaderName| response.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(
            (header(&RATELIMIT_POLICY), header(&RATELIMIT)),
            (
                "\"default\";q=60;w=60".to_owned(),
                "\"default\";r=12;t=30".to_owned()
            )
        );
    }

    #[test]
    fn a_spin_client_addr_sent_by_the_client_is_ignored_for_the_one_spin_appended() {
        let mut headers = HeaderMap::new();
        headers.append(SPIN_CLIENT_ADDR, HeaderValue::from_static("203.0.113.9:1"));
        headers.append(SPIN_CLIENT_ADDR, HeaderValue::from_static("192.0.2.9:4000"));
        assert_eq!(
            client_key(&headers, &TrustedProxies::default()).as_str(),
            "192.0.2.9"
        );
    }

    #[test]
    fn every_forwarded_line_is_read_in_order() {
        let mut headers = HeaderMap::new();
        headers.append(X_FORWARDED_FOR, HeaderValue::from_static("6.6.6.6"));
        headers.append(X_FORWARDED_FOR, HeaderValue::from_static("198.51.100.1"));
        headers.append(SPIN_CLIENT_ADDR, HeaderValue::from_static("10.0.0.1:80"));
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(client_key(&headers, &trusted).as_str(), "198.51.100.1");
    }

    #[test]
    fn the_client_comes_from_spins_peer_address_header() {
        let mut headers = HeaderMap::new();
        headers.insert(SPIN_CLIENT_ADDR, HeaderValue::from_static("192.0.2.9:4000"));
        assert_eq!(
            client_key(&headers, &TrustedProxies::default()).as_str(),
            "192.0.2.9"
        );
    }
}
