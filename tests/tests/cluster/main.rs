//! The movie system as a cluster: every database on a libSQL server (`sqld`), the view cache
//! and event log on Redis with the deployment's ACL users, and two nodes of the app over them
//! (`spin_test_host::cluster`). What must hold across nodes, proved with the real servers.
//!
//! Each test needs `sqld`; without it (and without `CI` set) it prints one line saying so and
//! passes, so a clone without the libSQL server still runs the rest of the suite.

mod consistency;
mod faults;
mod shared_state;
#[path = "../e2e/common/stub.rs"]
#[allow(
    dead_code,
    reason = "the end-to-end suite's stub upstream; this suite uses part of it"
)]
mod stub;

use http::Method;
use spin_test_host::{App, TestResponse};

/// `PUT` of `user`'s rating of movie `record`.
pub async fn rate(node: &App, record: &str, user: &str, value: u8) -> TestResponse {
    node.request(
        Method::PUT,
        &format!("/ratings/movie/{record}/users/{user}"),
        Some(serde_json::json!({ "value": value })),
    )
    .await
    .expect("the node answers")
}

/// The aggregate of movie `record`: its ratings' count and their sum (none yet: 0 and 0).
pub async fn aggregate(node: &App, record: &str) -> (i64, f64) {
    let response = node
        .request(Method::GET, &format!("/ratings/movie/{record}"), None)
        .await
        .expect("the node answers");
    if response.status == 404 {
        return (0, 0.0);
    }
    assert_eq!(
        response.status,
        200,
        "GET /ratings/movie/{record}: {:?}",
        response.json()
    );
    let body = response.json();
    let count = body["count"].as_i64().unwrap_or_default();
    let average = body["average"].as_f64().unwrap_or_default();
    (count, average * count as f64)
}
