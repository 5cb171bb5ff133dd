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
        "{:?} {}",
        put.body,
        app.logs()
    );
    let get = app
        .request(Method::GET, "/metadata/m1", None)
        .await
        .unwrap();
    assert_eq!(get.status, StatusCode::OK);
    assert_eq!(get.json()["title"], "The Godfather");
}
