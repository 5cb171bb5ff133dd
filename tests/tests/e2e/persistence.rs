//! Data survives the app: written, host dropped, reloaded from the same files.

use super::common;

use http::{Method, StatusCode};
use serde_json::json;
use spin_test_host::AppOptions;

#[tokio::test(flavor = "multi_thread")]
async fn data_written_before_a_restart_is_there_after_it() {
    let root = tempfile::tempdir().unwrap();
    {
        let app = common::load_in(root.path(), AppOptions::default());
        let put = app
            .request(Method::PUT, "/metadata/m1", Some(json!({"title": "Kept"})))
            .await
            .unwrap();
        assert_eq!(put.status, StatusCode::CREATED);
        for (user, value) in [("u1", 2), ("u2", 4)] {
            let path = format!("/ratings/movie/m1/users/{user}");
            app.request(Method::PUT, &path, Some(json!({"value": value})))
                .await
                .unwrap();
        }
    }
    for file in ["metadata.db", "ratings.db", "cache.db"] {
        assert!(
            root.path().join(".spin").join(file).exists(),
            "{file} is where runtime-config.toml says"
        );
    }
    let app = common::load_in(root.path(), AppOptions::default());
    let movie = app
        .request(Method::GET, "/movies/m1", None)
        .await
        .unwrap()
        .json();
    assert_eq!(movie["metadata"]["title"], "Kept");
    assert_eq!(
        (movie["rating"].clone(), movie["ratingCount"].clone()),
        (json!(3.0), json!(2))
    );
    // Replacing after the restart still counts the earlier rating as the user's own.
    let again = app
        .request(
            Method::PUT,
            "/ratings/movie/m1/users/u1",
            Some(json!({"value": 4})),
        )
        .await
        .unwrap();
    assert_eq!(again.status, StatusCode::OK);
}
