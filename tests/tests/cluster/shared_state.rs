//! What the nodes share through Redis and libSQL besides the databases' rows: the composed
//! view cache, the upstreams' circuit breakers, and the event log one node's consumer drains
//! while the other node serves.

use crate::stub::{self, Canned};
use crate::{aggregate, rate};
use http::{Method, StatusCode};
use serde_json::json;
use spin_test_host::cluster::Cluster;
use std::time::{Duration, Instant};

/// Movie's cache settings that keep a stored view fresh for a minute.
const LONG_LIVED: [(&str, &str); 2] = [
    ("cache_memory_fresh_ms", "60000"),
    ("cache_store_fresh_ms", "60000"),
];

async fn put_metadata(node: &spin_test_host::App, id: &str) {
    let response = node
        .request(
            Method::PUT,
            &format!("/metadata/{id}"),
            Some(json!({ "title": "The Cluster", "director": "Valkey" })),
        )
        .await
        .expect("the node answers");
    assert!(response.status.is_success(), "{:?}", response.json());
}

async fn view(node: &spin_test_host::App, id: &str) -> spin_test_host::TestResponse {
    node.request(Method::GET, &format!("/movies/{id}"), None)
        .await
        .expect("the node answers")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_view_composed_on_one_node_is_a_store_hit_on_the_other() {
    let Some(cluster) = Cluster::start("a_view_composed_on_one_node") else {
        return;
    };
    let nodes = [cluster.node(&LONG_LIVED), cluster.node(&LONG_LIVED)];
    put_metadata(&nodes[0], "m1").await;
    rate(&nodes[0], "m1", "u1", 5).await;
    let composed = view(&nodes[0], "m1").await;
    assert_eq!(composed.status, StatusCode::OK, "{:?}", composed.json());
    let movie = nodes[1].stats("movie").expect("movie");
    let hit = view(&nodes[1], "m1").await;
    assert_eq!(
        (
            hit.status,
            hit.header("cache-status"),
            movie
                .outbound_requests
                .load(std::sync::atomic::Ordering::SeqCst)
        ),
        (StatusCode::OK, Some("movie; hit; detail=store"), 0),
        "node 2 serves node 1's view from Redis without calling an upstream"
    );
    assert_eq!(hit.json(), composed.json(), "the same view on both nodes");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_breaker_opened_on_one_node_is_open_on_the_other() {
    let Some(cluster) = Cluster::start("a_breaker_opened_on_one_node") else {
        return;
    };
    let rating = stub::start(Canned::json(503, json!({}))).await;
    let rating_url = rating.url();
    let settings = [
        ("rating_url", rating_url.as_str()),
        ("upstream_attempts", "1"),
        ("breaker_failures", "2"),
        ("breaker_cooldown_ms", "60000"),
    ];
    let nodes = [cluster.node(&settings), cluster.node(&settings)];
    put_metadata(&nodes[0], "m1").await;
    for _ in 0..2 {
        let request = http::Request::get("/movies/m1")
            .header("cache-control", "no-cache")
            .body(bytes::Bytes::new())
            .expect("request");
        nodes[0].send(request).await.expect("the node answers");
    }
    assert_eq!(rating.hits(), 2, "node 1 called the failing upstream twice");
    let request = http::Request::get("/movies/m1")
        .header("cache-control", "no-cache")
        .body(bytes::Bytes::new())
        .expect("request");
    let degraded = nodes[1].send(request).await.expect("the node answers");
    assert_eq!(
        (degraded.status, rating.hits()),
        (StatusCode::OK, 2),
        "node 2 skips the upstream node 1's failures opened the breaker on: {:?}",
        degraded.json()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_accepted_by_one_node_are_applied_by_the_consumer_on_another() {
    let Some(cluster) = Cluster::start("events_accepted_by_one_node") else {
        return;
    };
    let serving = cluster.node(&[]);
    let consumer = cluster.consumer_node(&[("events_claim_idle_ms", "300")]);
    let _listeners = consumer
        .start_redis()
        .await
        .expect("the consumer's Redis trigger starts");
    let events: Vec<_> = (0..20)
        .map(|n| {
            json!({"eventId": format!("e{n}"), "userId": format!("u{n}"), "recordId": "m7",
                   "recordType": "movie", "value": n % 5 + 1, "providerId": "cluster-test",
                   "eventType": "put"})
        })
        .collect();
    let accepted = serving
        .request(Method::POST, "/ratings/events", Some(json!(events)))
        .await
        .expect("the node answers");
    assert!(accepted.status.is_success(), "{:?}", accepted.json());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (count, sum) = aggregate(&serving, "m7").await;
        if count == 20 {
            assert_eq!(sum, 60.0, "the 20 events' values (1..=5, four times each)");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the consumer node never applied the events ({count} of 20):\n{}",
            consumer.logs()
        );
        cluster
            .redis
            .command::<i64>("PUBLISH", &["ratings:events:wake", "test"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
