//! What the components tell their operator: one structured access line per request per
//! component, joined across the three services by the request id, with movie's upstream
//! calls and every failure's class and cause; and nothing but JSON lines in any log.

use super::common::stub::{self, Canned};
use super::common::{self, MovieSystem};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use spin_test_host::{App, AppOptions, TestResponse};

/// Every JSON line `component` wrote.
fn lines(app: &App, component: &str) -> Vec<Value> {
    app.log(component)
        .lines()
        .filter(|line| !line.starts_with("[host]"))
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|error| {
                panic!("{component} wrote a line that is not JSON ({error}): {line}")
            })
        })
        .collect()
}

/// The access lines `component` wrote for the request with `id`.
fn access_lines(app: &App, component: &str, id: &str) -> Vec<Value> {
    lines(app, component)
        .into_iter()
        .filter(|line| line["event.name"] == "http.server.request" && line["request.id"] == id)
        .collect()
}

/// The one access line `component` wrote for the request with `id`.
fn access_line(app: &App, component: &str, id: &str) -> Value {
    let found = access_lines(app, component, id);
    assert_eq!(
        found.len(),
        1,
        "{component} should write one access line for request {id}: {found:?}\n{}",
        app.log(component)
    );
    found.into_iter().next().unwrap_or_default()
}

async fn get(app: &App, path: &str, headers: &[(&str, &str)]) -> TestResponse {
    let mut request = http::Request::get(path).header("cache-control", "no-cache");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request.body(bytes::Bytes::new()).expect("request"))
        .await
        .expect("the app answers")
}

async fn system_with_movie() -> MovieSystem {
    let app = common::movie_system();
    for (path, body) in [
        ("/metadata/m1", json!({"title": "The Godfather"})),
        ("/ratings/movie/m1/users/u1", json!({"value": 5})),
    ] {
        let put = app
            .request(Method::PUT, path, Some(body))
            .await
            .expect("PUT");
        assert!(put.status.is_success(), "PUT {path}: {:?}", put.body);
    }
    app
}

#[tokio::test(flavor = "multi_thread")]
async fn one_view_is_one_access_line_in_each_service_sharing_the_request_id() {
    let app = system_with_movie().await;
    let response = get(&app, "/movies/m1", &[("x-request-id", "view-1")]).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    assert_eq!(
        response.header("x-request-id"),
        Some("view-1"),
        "the id is returned"
    );

    let movie = access_line(&app, "movie", "view-1");
    assert_eq!(movie["service.name"], "movie");
    assert_eq!(movie["http.request.method"], "GET");
    assert_eq!(movie["http.route"], "/movies/{id}");
    assert_eq!(movie["url.path"], "/movies/m1");
    assert_eq!(movie["http.response.status_code"], 200);
    assert_eq!(movie["level"], "info");
    assert!(
        movie["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{movie}"
    );

    let metadata = access_line(&app, "metadata", "view-1");
    assert_eq!(metadata["http.route"], "/metadata/{id}");
    let rating = access_line(&app, "rating", "view-1");
    assert_eq!(rating["http.route"], "/ratings/{recordType}/{recordId}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_view_is_logged_as_a_memory_hit_without_upstream_calls() {
    let app = system_with_movie().await;
    get(&app, "/movies/m1", &[]).await;
    let request = http::Request::get("/movies/m1")
        .header("x-request-id", "hit-1")
        .body(bytes::Bytes::new())
        .expect("request");
    app.send(request).await.expect("the app answers");
    let movie = access_line(&app, "movie", "hit-1");
    assert_eq!(movie["movie.cache.outcome"], "memory_hit", "{movie}");
    assert!(
        movie.get("upstreams").is_none(),
        "a hit calls no upstream: {movie}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn movies_access_line_lists_each_upstream_call_with_its_timing_and_outcome() {
    let app = system_with_movie().await;
    get(&app, "/movies/m1", &[("x-request-id", "view-2")]).await;
    let movie = access_line(&app, "movie", "view-2");
    let upstreams = movie["upstreams"].as_array().cloned().unwrap_or_default();
    let mut services: Vec<&str> = upstreams
        .iter()
        .filter_map(|u| u["service"].as_str())
        .collect();
    services.sort_unstable();
    assert_eq!(services, ["metadata", "rating"], "{movie}");
    for upstream in &upstreams {
        assert_eq!(upstream["outcome"], "found", "{upstream}");
        assert!(upstream["duration_ms"].is_f64(), "{upstream}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_without_an_id_gets_a_new_one_that_all_services_log() {
    let app = system_with_movie().await;
    let response = get(&app, "/movies/m1", &[]).await;
    let id = response
        .header("x-request-id")
        .unwrap_or_default()
        .to_owned();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "a generated id is 32 hex digits: {id:?}"
    );
    for component in ["movie", "metadata", "rating"] {
        access_line(&app, component, &id);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsafe_request_id_is_replaced_and_a_traceparent_supplies_one() {
    let app = system_with_movie().await;
    let unsafe_id = get(&app, "/movies/m1", &[("x-request-id", "a b\"c")]).await;
    let replaced = unsafe_id.header("x-request-id").unwrap_or_default();
    assert!(
        replaced.len() == 32 && replaced.bytes().all(|b| b.is_ascii_hexdigit()),
        "an id with a space and a quote is replaced: {replaced:?}"
    );
    let traced = get(
        &app,
        "/metadata/m1",
        &[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
    )
    .await;
    assert_eq!(
        traced.header("x-request-id"),
        Some("4bf92f3577b34da6a3ce929d0e0e4736"),
        "the trace id stands in for a missing x-request-id"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_network_upstream_receives_the_request_id() {
    let metadata = stub::start(Canned::json(
        200,
        json!({"id": "m1", "title": "T", "description": "", "director": ""}),
    ))
    .await;
    let app = common::movie_system_with(AppOptions {
        variables: [("metadata_url".to_owned(), metadata.url())].into(),
        ..AppOptions::default()
    });
    get(&app, "/movies/m1", &[("x-request-id", "net-1")]).await;
    let seen = metadata
        .request_ids
        .lock()
        .map(|ids| ids.clone())
        .unwrap_or_default();
    assert_eq!(seen, ["net-1"], "the stub upstream's x-request-id headers");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_degraded_view_is_a_warning_naming_the_failed_upstream_and_its_cause() {
    let rating = stub::start(Canned::json(503, json!({}))).await;
    let app = common::movie_system_with(AppOptions {
        variables: [("rating_url".to_owned(), rating.url())].into(),
        ..AppOptions::default()
    });
    let put = app
        .request(Method::PUT, "/metadata/m1", Some(json!({"title": "T"})))
        .await
        .expect("PUT");
    assert_eq!(put.status, StatusCode::CREATED);
    let response = get(&app, "/movies/m1", &[("x-request-id", "degraded-1")]).await;
    assert_eq!(response.header("movie-degraded"), Some("rating"));
    let movie = access_line(&app, "movie", "degraded-1");
    assert_eq!(movie["level"], "warn", "{movie}");
    let failed: Vec<&Value> = movie["upstreams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| u["service"] == "rating")
        .collect();
    assert!(!failed.is_empty(), "the rating calls are listed: {movie}");
    assert_eq!(movie["upstream.failed"], "rating", "{movie}");
    for call in failed {
        assert_eq!(call["outcome"], "status", "{call}");
        assert_eq!(call["error.message"], "unexpected status 503", "{call}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_request_is_an_error_line_with_its_class_and_cause() {
    let app = common::movie_system_with(AppOptions {
        variables: [("metadata_url".to_owned(), stub::dead_url())].into(),
        ..AppOptions::default()
    });
    let response = get(&app, "/movies/m1", &[("x-request-id", "down-1")]).await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    let movie = access_line(&app, "movie", "down-1");
    assert_eq!(movie["level"], "error", "{movie}");
    assert_eq!(movie["error.type"], "upstream_unavailable", "{movie}");
    let cause = movie["error.message"].as_str().unwrap_or_default();
    assert!(
        cause.contains("metadata"),
        "the cause names the upstream: {movie}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_error_is_an_info_line_typed_by_its_status() {
    let app = common::movie_system();
    let response = get(&app, "/metadata/nope", &[("x-request-id", "missing-1")]).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    let line = access_line(&app, "metadata", "missing-1");
    assert_eq!(line["level"], "info", "{line}");
    assert_eq!(line["error.type"], "not_found", "{line}");
    assert!(
        line.get("error.message").is_none(),
        "a 404 has no cause to log: {line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_path_is_logged_without_a_route() {
    let app = common::movie_system();
    let response = get(
        &app,
        "/metadata/m1/extra",
        &[("x-request-id", "unrouted-1")],
    )
    .await;
    let line = access_line(&app, "metadata", "unrouted-1");
    assert_eq!(
        line["http.response.status_code"],
        response.status.as_u16(),
        "{line}"
    );
    assert!(line.get("http.route").is_none(), "no route matched: {line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_line_every_component_writes_is_json_with_the_standard_fields() {
    let app = system_with_movie().await;
    get(&app, "/movies/m1", &[]).await;
    get(&app, "/movies/absent", &[]).await;
    get(&app, "/health/movie", &[]).await;
    app.request(
        Method::PUT,
        "/metadata/bad%20id",
        Some(json!({"title": "T"})),
    )
    .await
    .expect("PUT");
    for component in ["movie", "metadata", "rating", "auth"] {
        for line in lines(&app, component) {
            for field in ["timestamp", "level", "service.name", "event.name"] {
                assert!(
                    line.get(field).is_some(),
                    "{component}: no {field} in {line}"
                );
            }
        }
    }
    assert!(
        !lines(&app, "movie").is_empty(),
        "movie wrote nothing: the test proved nothing"
    );
}
