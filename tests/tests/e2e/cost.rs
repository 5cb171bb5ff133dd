//! What a request costs in host calls, counted by the host: one SQLite statement per read, no
//! store opens and no DDL once an instance is warm, and exactly two upstream calls per movie.

use super::common;
use http::{Method, StatusCode};
use serde_json::json;
use spin_test_host::App;
use spin_test_host::component::ComponentStats;
use std::sync::Arc;

fn stats(app: &App, component: &str) -> Arc<ComponentStats> {
    app.stats(component).expect("component exists")
}

/// Host calls so far: metadata statements and opens, rating statements and opens, movie
/// outbound requests and key-value opens.
fn host_calls(app: &App) -> [usize; 6] {
    let (metadata, rating, movie) = (
        stats(app, "metadata"),
        stats(app, "rating"),
        stats(app, "movie"),
    );
    [
        metadata.sqlite_statements(),
        metadata.sqlite_opens(),
        rating.sqlite_statements(),
        rating.sqlite_opens(),
        movie.outbound_requests(),
        movie.key_value_opens(),
    ]
}

async fn get_movie(app: &App) {
    let response = app.request(Method::GET, "/movies/m1", None).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_reads_cost_one_statement_and_movies_two_upstream_calls() {
    let app = common::movie_system();
    app.request(Method::PUT, "/metadata/m1", Some(json!({"title": "Cheap"})))
        .await
        .unwrap();
    app.request(
        Method::PUT,
        "/ratings/movie/m1/users/u1",
        Some(json!({"value": 4})),
    )
    .await
    .unwrap();
    // Warm: the first movie request may open connections and check the schema.
    get_movie(&app).await;

    let before = host_calls(&app);
    let reads = 10;
    for _ in 0..reads {
        get_movie(&app).await;
    }
    let spent: Vec<usize> = host_calls(&app)
        .iter()
        .zip(before)
        .map(|(after, before)| after - before)
        .collect();
    assert_eq!(spent, [reads, 0, reads, 0, 2 * reads, 0]);
    assert_eq!(
        stats(&app, "metadata").instantiated(),
        1,
        "reads reused one metadata instance"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_instance_checks_the_schema_once_and_a_write_is_one_statement() {
    let app = common::movie_system();
    let metadata = stats(&app, "metadata");
    app.request(Method::PUT, "/metadata/m1", Some(json!({"title": "A"})))
        .await
        .unwrap();
    // Fresh database: read user_version, BEGIN IMMEDIATE, read it again inside the transaction,
    // CREATE TABLE, set user_version, COMMIT; then the upsert.
    let cold = metadata.sqlite_statements();
    assert_eq!((cold, metadata.sqlite_opens()), (7, 1));
    app.request(Method::PUT, "/metadata/m1", Some(json!({"title": "B"})))
        .await
        .unwrap();
    assert_eq!(
        metadata.sqlite_statements() - cold,
        1,
        "a warm write is one statement"
    );
}
