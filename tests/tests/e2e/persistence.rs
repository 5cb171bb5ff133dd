//! Data survives the app: written, host dropped, reloaded from the same files.

use super::common;

use http::{Method, StatusCode};
use serde_json::json;
use spin_test_host::{App, AppOptions};

async fn put(app: &App, path: &str, body: serde_json::Value) -> StatusCode {
    let response = app.request(Method::PUT, path, Some(body)).await;
    response
        .unwrap_or_else(|e| panic!("PUT {path}: {e:#}"))
        .status
}

/// Writes `m1` and two ratings, drops the app, and loads it again over the same files.
async fn restarted(root: &std::path::Path) -> App {
    let before = common::load_in(root, AppOptions::default());
    let status = put(&before, "/metadata/m1", json!({"title": "Kept"})).await;
    assert_eq!(status, StatusCode::CREATED, "PUT /metadata/m1");
    for (user, value) in [("u1", 2), ("u2", 4)] {
        let path = format!("/ratings/movie/m1/users/{user}");
        let status = put(&before, &path, json!({"value": value})).await;
        assert_eq!(status, StatusCode::CREATED, "PUT {path}");
    }
    drop(before);
    common::load_in(root, AppOptions::default())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stores_are_the_files_runtime_config_names() {
    let root = tempfile::tempdir().unwrap();
    let _app = restarted(root.path()).await;
    for file in ["metadata.db", "ratings.db", "cache.db"] {
        let path = root.path().join(".spin").join(file);
        assert!(path.exists(), "{} after a restart", path.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn data_written_before_a_restart_is_there_after_it() {
    let root = tempfile::tempdir().unwrap();
    let app = restarted(root.path()).await;
    let movie = app
        .request(Method::GET, "/movies/m1", None)
        .await
        .unwrap()
        .json();
    assert_eq!(
        (
            movie["metadata"]["title"].clone(),
            movie["rating"].clone(),
            movie["ratingCount"].clone()
        ),
        (json!("Kept"), json!(3.0), json!(2)),
        "GET /movies/m1 after a restart: {movie}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rating_given_before_a_restart_is_replaced_after_it() {
    let root = tempfile::tempdir().unwrap();
    let app = restarted(root.path()).await;
    let status = put(&app, "/ratings/movie/m1/users/u1", json!({"value": 4})).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "PUT /ratings/movie/m1/users/u1 after a restart"
    );
}
