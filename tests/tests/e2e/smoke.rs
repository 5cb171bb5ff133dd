//! The quickest sign of life: one write and one read through the real component.

use super::common;

use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn metadata_round_trips_through_the_real_component() {
    let app = common::movie_system();
    let put = app
        .request(
            Method::PUT,
            "/metadata/m1",
            Some(json!({"title": "The Godfather"})),
        )
        .await
        .unwrap();
    assert_eq!(
        put.status,
        StatusCode::CREATED,
        "PUT /metadata/m1: {:?}",
        put.body
    );
    let get = app
        .request(Method::GET, "/metadata/m1", None)
        .await
        .unwrap();
    assert_eq!(get.json()["title"], "The Godfather", "GET /metadata/m1");
}
