//! What a served view says in headers and what a request says about freshness, the same for
//! every surface that serves a view (REST and gRPC): `Cache-Status`, `Age`, `Cache-Control`,
//! `Movie-Degraded`, and `Cache-Control: no-cache` on the way in.

use crate::controller::{Freshness, Served};
use http::header::{AGE, CACHE_CONTROL, HeaderMap, HeaderName, HeaderValue, PRAGMA};
use service_kit::HttpResponse;

/// RFC 9211: what this service's cache did for the response.
pub const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");
/// Names the upstreams a view is missing (`rating`), as the body's `degraded` field does.
pub const MOVIE_DEGRADED: HeaderName = HeaderName::from_static("movie-degraded");

/// `Cache-Control: no-cache` or `max-age=0` (or, without `Cache-Control`, the HTTP/1.0
/// `Pragma: no-cache`) asks for a view composed now (RFC 9111 5.2.1).
pub fn freshness(request: &HeaderMap) -> Freshness {
    let directives = |name| {
        request
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|directive| directive.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    let cache_control = directives(CACHE_CONTROL);
    let must_compose = if cache_control.is_empty() {
        directives(PRAGMA).iter().any(|d| d == "no-cache")
    } else {
        cache_control
            .iter()
            .any(|d| d == "no-cache" || d == "max-age=0")
    };
    if must_compose {
        Freshness::MustCompose
    } else {
        Freshness::CachedAllowed
    }
}

/// The cache outcome on the access line; `Cache-Status`, `Age` and `Cache-Control`, so HTTP caches in front of Spin can keep a view
/// as long as this service would; a degraded view is not to be stored anywhere.
pub fn caching_headers(response: &mut HttpResponse, served: &Served) {
    service_kit::edge::access::note(response, "movie.cache.outcome", served.outcome.name());
    let headers = response.headers_mut();
    if let Ok(status) = HeaderValue::try_from(served.outcome.header(served.stored)) {
        headers.insert(CACHE_STATUS, status);
    }
    headers.insert(AGE, HeaderValue::from(served.age.as_secs()));
    let cache_control = if served.rating_unavailable {
        headers.insert(MOVIE_DEGRADED, HeaderValue::from_static("rating"));
        HeaderValue::from_static("no-store")
    } else {
        let max_age = format!("public, max-age={}", served.fresh_for.as_secs());
        HeaderValue::try_from(max_age).unwrap_or(HeaderValue::from_static("no-cache"))
    };
    headers.insert(CACHE_CONTROL, cache_control);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_cache_control_directives_allow_the_cache() {
        let headers = HeaderMap::from_iter([(
            CACHE_CONTROL,
            HeaderValue::from_static("max-age=60, no-transform"),
        )]);
        assert_eq!(freshness(&headers), Freshness::CachedAllowed);
    }
}
