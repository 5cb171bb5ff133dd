//! Concurrent requests, sharing instances (Spin's reuse) or not, give the same results.

use super::common;
use super::common::stub::{self, Canned};

use futures::future::join_all;
use http::{Method, StatusCode};
use serde_json::json;
use spin_test_host::{AppOptions, InstanceLimits};
use std::time::Duration;

const USERS: usize = 48;

/// 48 users rate `m1` at once, each twice (the second a replacement) and each then reads the
/// movie, composed afresh; returns the aggregate, how many rating instances served it all,
/// and the most statements any connection of rating, metadata or movie carried at once.
async fn concurrent_ratings(limits: InstanceLimits) -> (serde_json::Value, usize, usize) {
    // Correctness under concurrency, not deadlines: with a fresh instance per request and 48
    // views at once on two cores, a chained call can take longer than the default 250 ms.
    let variables = [
        ("upstream_timeout_ms", "10000"),
        ("request_budget_ms", "20000"),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .into();
    let app = common::movie_system_with(AppOptions {
        limits,
        variables,
        ..AppOptions::default()
    });
    app.request(Method::PUT, "/metadata/m1", Some(json!({"title": "Busy"})))
        .await
        .unwrap();
    let writes = (0..USERS).map(|i| {
        let app = &app;
        async move {
            let path = format!("/ratings/movie/m1/users/u{i}");
            let value = i % 5 + 1;
            let first = app
                .request(Method::PUT, &path, Some(json!({"value": value})))
                .await
                .unwrap();
            let again = app
                .request(Method::PUT, &path, Some(json!({"value": value})))
                .await
                .unwrap();
            let movie = common::get_uncached(app, "/movies/m1").await;
            (path, first.status, again.status, movie.status)
        }
    });
    for (path, first, again, movie) in join_all(writes).await {
        assert_eq!(
            (first, again, movie),
            (StatusCode::CREATED, StatusCode::OK, StatusCode::OK),
            "PUT {path} twice, then GET /movies/m1"
        );
    }
    let aggregate = app
        .request(Method::GET, "/ratings/movie/m1", None)
        .await
        .unwrap()
        .json();
    let instances = app
        .stats("rating")
        .map(|s| s.instantiated())
        .unwrap_or_default();
    let per_connection = ["rating", "metadata", "movie"]
        .into_iter()
        .filter_map(|component| app.stats(component))
        .map(|stats| stats.max_statements_per_connection())
        .max()
        .unwrap_or_default();
    (aggregate, instances, per_connection)
}

/// 48 users rate 1..5 in turn: ten each of 1, 2, 3, and nine each of 4, 5.
fn expected_aggregate() -> serde_json::Value {
    json!({"recordType": "movie", "recordId": "m1", "average": 141.0 / 48.0, "count": 48})
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_ratings_on_shared_instances_give_the_exact_aggregate() {
    let (aggregate, instances, _) = concurrent_ratings(InstanceLimits::default()).await;
    assert!(
        instances < 2 * USERS,
        "precondition: Spin's reuse shares instances ({instances} for {} writes)",
        2 * USERS
    );
    assert_eq!(aggregate, expected_aggregate(), "GET /ratings/movie/m1");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_ratings_on_fresh_instances_give_the_exact_aggregate() {
    let (aggregate, instances, _) = concurrent_ratings(InstanceLimits::NO_REUSE).await;
    assert!(
        instances >= 3 * USERS,
        "precondition: one instance per request ({instances} for {} rating requests)",
        3 * USERS
    );
    assert_eq!(aggregate, expected_aggregate(), "GET /ratings/movie/m1");
}

/// Each statement runs on a connection no other statement is using at the time, however many
/// requests share an instance: Spin's `libsql` backend cannot carry interleaved statements on
/// one connection (16 concurrent writes on one instance wedged `sqld` under Spin 4.1).
#[tokio::test(flavor = "multi_thread")]
async fn no_connection_carries_two_statements_at_once_on_shared_instances() {
    let (aggregate, instances, per_connection) =
        concurrent_ratings(InstanceLimits::default()).await;
    assert!(
        instances < 2 * USERS,
        "precondition: Spin's reuse shares instances ({instances} for {} writes)",
        2 * USERS
    );
    assert_eq!(aggregate, expected_aggregate(), "GET /ratings/movie/m1");
    assert_eq!(
        per_connection, 1,
        "the most statements in flight on one connection at once"
    );
}

/// Views of one movie asked while metadata takes 300 ms to answer the first: the instance
/// that serves them fills its memory once and its other views wait for that fill (request coalescing),
/// and every view is answered. Under Spin 4.1 such a wait once trapped the instance, failing
/// its requests with 500, until movie enabled wit-bindgen's `inter-task-wakeup`.
#[tokio::test(flavor = "multi_thread")]
async fn views_of_a_movie_asked_during_its_composition_are_composed_once_per_instance() {
    const VIEWS: usize = 16;
    let metadata = stub::start(Canned {
        delay: Duration::from_millis(300),
        ..Canned::json(
            200,
            json!({"id": "m1", "title": "Busy", "description": "", "director": ""}),
        )
    })
    .await;
    let mut variables = common::long_lived_cache();
    variables.insert("metadata_url".into(), metadata.url());
    variables.insert("upstream_timeout_ms".into(), "5000".into());
    variables.insert("request_budget_ms".into(), "10000".into());
    let app = common::movie_system_with(AppOptions {
        variables,
        ..AppOptions::default()
    });
    // One instance up and idle first, so that the views find it rather than each starting one.
    let about = app.request(Method::GET, "/movies/about", None).await;
    assert_eq!(about.expect("GET /movies/about").status, StatusCode::OK);
    let movie = app.stats("movie").expect("movie's stats");
    // An instance takes another request only once its tasks wait on I/O, as Spin's does: a
    // burst all at once gets an instance per request. So the views come 10 ms apart, all
    // within metadata's 300 ms.
    let views = (0..VIEWS).map(|i| {
        let app = &app;
        async move {
            tokio::time::sleep(Duration::from_millis(10 * i as u64)).await;
            app.request(Method::GET, "/movies/m1", None).await
        }
    });
    let statuses: Vec<StatusCode> = join_all(views)
        .await
        .into_iter()
        .map(|response| response.expect("the app answers").status)
        .collect();
    assert_eq!(
        (statuses, movie.trapped()),
        (vec![StatusCode::OK; VIEWS], 0),
        "statuses of {VIEWS} views, and movie instances trapped"
    );
    let instances = movie.instantiated();
    assert!(
        instances < VIEWS,
        "precondition: Spin's reuse shares instances ({instances} for {VIEWS} views)"
    );
    assert!(
        metadata.hits() <= instances,
        "{} metadata calls from {instances} instances for {VIEWS} views",
        metadata.hits()
    );
}
