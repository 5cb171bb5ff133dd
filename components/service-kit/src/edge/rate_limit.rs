//! Rate limits over HTTP: who the client is, and the IETF `RateLimit-Policy` / `RateLimit`
//! header fields (draft-ietf-httpapi-ratelimit-headers-10) on every metered response, so a
//! client can slow down before it is refused. The 429 itself is a [`super::Problem`].

use super::respond::HttpResponse;
use crate::rate_limit::{ClientKey, Decision, TrustedProxies};
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

/// The peer address Spin puts on every inbound request.
pub const SPIN_CLIENT_ADDR: &str = "spin-client-addr";
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The client a request counts against (see [`ClientKey::of`]).
pub fn client_key(headers: &HeaderMap, trusted: &TrustedProxies) -> ClientKey {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    ClientKey::of(header(SPIN_CLIENT_ADDR), header(X_FORWARDED_FOR), trusted)
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
    fn the_client_comes_from_spins_peer_address_header() {
        let mut headers = HeaderMap::new();
        headers.insert(SPIN_CLIENT_ADDR, HeaderValue::from_static("192.0.2.9:4000"));
        assert_eq!(
            client_key(&headers, &TrustedProxies::default()).as_str(),
            "192.0.2.9"
        );
    }
}
