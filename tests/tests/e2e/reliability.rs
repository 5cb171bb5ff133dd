//! The movie view when its upstreams are slow, failing, dead or garbled: deadlines, retries,
//! the circuit breaker, fallbacks and the cache, through the test host with stub upstreams on
//! loopback (over the network) and a slow stand-in for a service-chained upstream.

use super::common::stub::{self, Canned, Stub};
use super::common::{self, probe};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use spin_test_host::{App, AppOptions, TestResponse};
use std::time::{Duration, Instant};

/// Well above the default request budget (800 ms), well below any upstream's delay: a view
/// answered within it was cut by a deadline, not by the upstream finishing.
const BOUND: Duration = Duration::from_millis(2_000);

/// An upstream that takes 5 s to answer.
const SLOW: Duration = Duration::from_secs(5);

fn system(variables: &[(&str, String)]) -> common::MovieSystem {
    common::movie_system_with(AppOptions {
        variables: variables
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
        ..AppOptions::default()
    })
}

/// The movie system with `component` replaced by the probe, which answers a path ending in
/// `slow-<ms>` after that long: a slow service-chained upstream.
fn system_with_slow_chained(component: &str) -> common::MovieSystem {
    common::movie_system_with(AppOptions {
        replace_sources: [(component.to_owned(), probe::wasm())].into(),
        ..AppOptions::default()
    })
}

async fn put_metadata(app: &App, id: &str) {
    let response = app
        .request(
            Method::PUT,
            &format!("/metadata/{id}"),
            Some(json!({"title": "T"})),
        )
        .await
        .expect("PUT");
    assert_eq!(response.status, StatusCode::CREATED, "PUT /metadata/{id}");
}

/// `GET path` and how long it took.
async fn timed(app: &App, path: &str) -> (TestResponse, Duration) {
    let started = Instant::now();
    let response = app.request(Method::GET, path, None).await.expect("GET");
    (response, started.elapsed())
}

fn metadata_json(title: &str) -> Value {
    json!({"id": "m1", "title": title, "description": "", "director": ""})
}

/// A stub answering as the metadata service does for `m1`.
async fn metadata_stub(title: &str) -> Stub {
    stub::start(Canned::json(200, metadata_json(title))).await
}

fn assert_degraded(response: &TestResponse, request: &str) {
    assert_eq!(
        (
            response.status,
            response.header("movie-degraded"),
            response.json()["rating"].clone()
        ),
        (StatusCode::OK, Some("rating"), Value::Null),
        "{request}: {}",
        response.json()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_network_rating_upstream_is_cut_at_its_deadline_and_not_retried() {
    let slow = stub::start(Canned {
        delay: SLOW,
        ..Canned::json(200, json!({"average": 5.0, "count": 1}))
    })
    .await;
    let app = system(&[("rating_url", slow.url())]);
    put_metadata(&app, "m1").await;
    let (response, took) = timed(&app, "/movies/m1").await;
    assert_degraded(&response, "GET /movies/m1 with a 5 s rating upstream");
    assert!(took < BOUND, "answered after {took:?}");
    assert_eq!(slow.hits(), 1, "a timed-out call is not retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_network_metadata_upstream_with_nothing_cached_is_504_within_the_bound() {
    let slow = stub::start(Canned {
        delay: SLOW,
        ..Canned::json(200, metadata_json("T"))
    })
    .await;
    let app = system(&[("metadata_url", slow.url())]);
    let (response, took) = timed(&app, "/movies/m1").await;
    common::assert_problem(
        &response,
        StatusCode::GATEWAY_TIMEOUT,
        "GET /movies/m1 with a 5 s metadata upstream",
    );
    assert!(took < BOUND, "answered after {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_chained_rating_service_is_cut_by_the_guests_own_deadline() {
    let app = system_with_slow_chained("rating");
    put_metadata(&app, "slow-5000").await;
    let (response, took) = timed(&app, "/movies/slow-5000").await;
    assert_degraded(&response, "GET /movies/slow-5000 with rating taking 5 s");
    assert!(took < BOUND, "answered after {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_chained_metadata_service_with_nothing_cached_is_504() {
    let app = system_with_slow_chained("metadata");
    let (response, took) = timed(&app, "/movies/slow-5000").await;
    common::assert_problem(
        &response,
        StatusCode::GATEWAY_TIMEOUT,
        "GET /movies/slow-5000 with metadata taking 5 s",
    );
    assert!(took < BOUND, "answered after {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_metadata_upstream_is_503_with_retry_after_within_the_bound() {
    let app = system(&[("metadata_url", stub::dead_url())]);
    let (response, took) = timed(&app, "/movies/m1").await;
    common::assert_problem(
        &response,
        StatusCode::SERVICE_UNAVAILABLE,
        "GET /movies/m1 with metadata refusing connections",
    );
    assert_eq!(response.header("retry-after"), Some("1"));
    assert!(took < BOUND, "answered after {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_503_from_rating_is_retried_up_to_the_attempts_then_degrades() {
    let failing = stub::start(Canned::json(503, json!({}))).await;
    let app = system(&[("rating_url", failing.url())]);
    put_metadata(&app, "m1").await;
    let (response, _) = timed(&app, "/movies/m1").await;
    assert_degraded(&response, "GET /movies/m1 with rating answering 503");
    assert_eq!(failing.hits(), 3, "rating calls (upstream_attempts = 3)");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_breaker_opens_after_repeated_failures_and_closes_after_the_cooldown() {
    let rating = stub::start(Canned::json(503, json!({}))).await;
    let app = system(&[
        ("rating_url", rating.url()),
        ("upstream_attempts", "1".into()),
        ("breaker_failures", "2".into()),
        ("breaker_cooldown_ms", "300".into()),
    ]);
    put_metadata(&app, "m1").await;
    for _ in 0..3 {
        assert_degraded(
            &common::get_uncached(&app, "/movies/m1").await,
            "GET /movies/m1 with rating failing",
        );
    }
    assert_eq!(rating.hits(), 2, "the third view skipped the open breaker");
    rating.answer(Canned::json(200, json!({"average": 4.0, "count": 1})));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let recovered = common::get_uncached(&app, "/movies/m1").await;
    assert_eq!(
        (
            recovered.status,
            recovered.json()["rating"].clone(),
            rating.hits()
        ),
        (StatusCode::OK, json!(4.0), 3),
        "after the cool-down the probe call goes through: {}",
        recovered.json()
    );
    common::get_uncached(&app, "/movies/m1").await;
    assert_eq!(rating.hits(), 4, "the breaker closed again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_garbage_metadata_body_is_502() {
    let garbage = stub::start(Canned {
        content_type: "text/html",
        body: "<html>oops</html>".into(),
        ..Canned::json(200, json!(null))
    })
    .await;
    let app = system(&[("metadata_url", garbage.url())]);
    let (response, _) = timed(&app, "/movies/m1").await;
    common::assert_problem(
        &response,
        StatusCode::BAD_GATEWAY,
        "GET /movies/m1 with metadata answering HTML",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_rating_body_degrades_the_view() {
    let huge = format!(
        "{{\"average\": 4.0, \"count\": 1, \"pad\": \"{}\"}}",
        "x".repeat(200_000)
    );
    let oversized = stub::start(Canned {
        body: huge,
        ..Canned::json(200, json!(null))
    })
    .await;
    let app = system(&[("rating_url", oversized.url())]);
    put_metadata(&app, "m1").await;
    let (response, _) = timed(&app, "/movies/m1").await;
    assert_degraded(&response, "GET /movies/m1 with a 200 kB rating body");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_view_is_served_during_an_outage_and_refreshed_after() {
    let metadata = metadata_stub("Before").await;
    let app = system(&[
        ("metadata_url", metadata.url()),
        ("cache_memory_fresh_ms", "50".into()),
        ("cache_store_fresh_ms", "100".into()),
    ]);
    let (first, _) = timed(&app, "/movies/m1").await;
    assert_eq!(first.status, StatusCode::OK, "first view: {}", first.json());

    metadata.answer(Canned::json(503, json!({})));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (during, _) = timed(&app, "/movies/m1").await;
    assert_eq!(
        (
            during.status,
            during.json()["metadata"]["title"].clone(),
            during.header("cache-status").map(str::to_owned)
        ),
        (
            StatusCode::OK,
            json!("Before"),
            Some("movie; fwd=stale; detail=stale-served-on-error".to_owned())
        ),
        "a view during the outage"
    );

    metadata.answer(Canned::json(200, metadata_json("After")));
    let (after, _) = timed(&app, "/movies/m1").await;
    assert_eq!(
        (after.status, after.json()["metadata"]["title"].clone()),
        (StatusCode::OK, json!("After")),
        "the view once metadata is back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_view_changes_within_the_fresh_ttl_after_a_rating_write() {
    let app = system(&[
        ("cache_memory_fresh_ms", "100".into()),
        ("cache_store_fresh_ms", "200".into()),
    ]);
    put_metadata(&app, "m1").await;
    let (before, _) = timed(&app, "/movies/m1").await;
    assert_eq!(before.json()["rating"], Value::Null, "view before rating");
    let rated = app
        .request(
            Method::PUT,
            "/ratings/movie/m1/users/u1",
            Some(json!({"value": 5})),
        )
        .await
        .expect("PUT");
    assert_eq!(rated.status, StatusCode::CREATED, "PUT rating");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (after, _) = timed(&app, "/movies/m1").await;
    assert_eq!(
        after.json()["rating"],
        json!(5.0),
        "view after the fresh TTL"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_view_is_revalidated_with_two_304s() {
    let app = system(&[
        ("cache_memory_fresh_ms", "50".into()),
        ("cache_store_fresh_ms", "100".into()),
    ]);
    put_metadata(&app, "m1").await;
    app.request(
        Method::PUT,
        "/ratings/movie/m1/users/u1",
        Some(json!({"value": 3})),
    )
    .await
    .expect("PUT");
    timed(&app, "/movies/m1").await;
    let movie = app.stats("movie").expect("movie");
    let before = movie.outbound_not_modified();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (revalidated, _) = timed(&app, "/movies/m1").await;
    assert_eq!(
        (
            revalidated.status,
            revalidated.header("cache-status"),
            movie.outbound_not_modified() - before
        ),
        (StatusCode::OK, Some("movie; fwd=stale; stored"), 2),
        "status, Cache-Status and upstream 304s of a revalidated view"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_view_is_a_memory_hit_with_its_age() {
    let app = system(&[]);
    put_metadata(&app, "m1").await;
    timed(&app, "/movies/m1").await;
    let (hit, _) = timed(&app, "/movies/m1").await;
    assert_eq!(
        (hit.header("cache-status"), hit.header("age")),
        (Some("movie; hit; detail=memory"), Some("0")),
        "caching headers of a repeated view"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_cache_composes_the_view_again() {
    let app = system(&[]);
    put_metadata(&app, "m1").await;
    timed(&app, "/movies/m1").await;
    let movie = app.stats("movie").expect("movie");
    let before = movie.outbound_requests();
    let response = common::get_uncached(&app, "/movies/m1").await;
    assert_eq!(
        (
            response.header("cache-status"),
            movie.outbound_requests() - before
        ),
        (Some("movie; fwd=request"), 2),
        "Cache-Status and upstream calls of a no-cache view"
    );
}

/// The movie system with small quotas, and a writer that PUTs ratings as the test client.
fn limited_system(writes: u32, views: u32) -> common::MovieSystem {
    system(&[
        ("write_rate_limit", writes.to_string()),
        ("view_rate_limit", views.to_string()),
        ("rate_limit_window_s", "2".into()),
    ])
}

async fn rate(app: &App, user: &str) -> TestResponse {
    app.request(
        Method::PUT,
        &format!("/ratings/movie/m1/users/{user}"),
        Some(json!({"value": 3})),
    )
    .await
    .expect("PUT")
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_over_the_quota_are_429_and_allowed_again_in_the_next_window() {
    let app = limited_system(3, 0);
    // Start at the beginning of a window, so the three writes share one.
    let window_left = rate(&app, "u0").await;
    let reset: u64 = window_left
        .header("ratelimit")
        .and_then(|v| v.rsplit("t=").next())
        .and_then(|t| t.parse().ok())
        .expect("RateLimit header with t=");
    tokio::time::sleep(Duration::from_secs(reset)).await;
    for user in ["u1", "u2", "u3"] {
        let allowed = rate(&app, user).await;
        assert_eq!(allowed.status, StatusCode::CREATED, "PUT by {user}");
    }
    let refused = rate(&app, "u4").await;
    common::assert_problem(&refused, StatusCode::TOO_MANY_REQUESTS, "fourth PUT");
    assert_eq!(
        (
            refused.header("ratelimit-policy"),
            refused.header("retry-after").is_some()
        ),
        (Some("\"default\";q=3;w=2"), true),
        "headers of the 429"
    );
    let aggregate = app
        .request(Method::GET, "/ratings/movie/m1", None)
        .await
        .expect("GET");
    assert_eq!(
        aggregate.json()["count"],
        json!(4),
        "the refused PUT wrote nothing"
    );

    let wait: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(
        rate(&app, "u5").await.status,
        StatusCode::CREATED,
        "a PUT after Retry-After"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn composed_views_are_metered_and_cache_hits_are_not() {
    let app = limited_system(0, 2);
    put_metadata(&app, "m1").await;
    let reset: u64 = {
        let first = common::get_uncached(&app, "/movies/m1").await;
        first
            .header("ratelimit")
            .and_then(|v| v.rsplit("t=").next())
            .and_then(|t| t.parse().ok())
            .expect("RateLimit header on a composed view")
    };
    tokio::time::sleep(Duration::from_secs(reset)).await;
    for _ in 0..2 {
        let composed = common::get_uncached(&app, "/movies/m1").await;
        assert_eq!(
            composed.status,
            StatusCode::OK,
            "composed view within quota"
        );
    }
    let refused = common::get_uncached(&app, "/movies/m1").await;
    common::assert_problem(
        &refused,
        StatusCode::TOO_MANY_REQUESTS,
        "third composed view in the window",
    );
    let hit = app
        .request(Method::GET, "/movies/m1", None)
        .await
        .expect("GET");
    assert_eq!(
        (hit.status, hit.header("ratelimit")),
        (StatusCode::OK, None),
        "a cache hit after the quota is used up"
    );
}
