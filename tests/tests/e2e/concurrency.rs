//! Concurrent requests, sharing instances (Spin's reuse) or not, give the same results.

use super::common;

use futures::future::join_all;
use http::{Method, StatusCode};
use serde_json::json;
use spin_test_host::{AppOptions, InstanceLimits};

async fn concurrent_ratings(limits: InstanceLimits) -> (serde_json::Value, usize) {
    let app = common::movie_system_with(AppOptions {
        limits,
        ..AppOptions::default()
    });
    app.request(Method::PUT, "/metadata/m1", Some(json!({"title": "Busy"})))
        .await
        .unwrap();
    let users = 48;
    let writes = (0..users).map(|i| {
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
            let movie = app.request(Method::GET, "/movies/m1", None).await.unwrap();
            (first.status, again.status, movie.status)
        }
    });
    for (first, again, movie) in join_all(writes).await {
        assert_eq!(
            (first, again, movie),
            (StatusCode::CREATED, StatusCode::OK, StatusCode::OK)
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
    (aggregate, instances)
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writes_and_reads_agree_with_and_without_instance_reuse() {
    let (shared, shared_instances) = concurrent_ratings(InstanceLimits::default()).await;
    let (fresh, fresh_instances) = concurrent_ratings(InstanceLimits::NO_REUSE).await;
    // 48 users rate 1..5 in turn: ten each of 1, 2, 3, and nine each of 4, 5.
    let expected =
        json!({"recordType": "movie", "recordId": "m1", "average": 141.0 / 48.0, "count": 48});
    assert_eq!(shared, expected);
    assert_eq!(fresh, expected);
    assert!(
        shared_instances < 96,
        "Spin's reuse shares instances ({shared_instances})"
    );
    assert!(
        fresh_instances >= 96 + 48,
        "no reuse means one instance per request ({fresh_instances})"
    );
}
