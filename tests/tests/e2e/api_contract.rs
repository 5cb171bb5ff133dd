//! Every status code of the API contract, with its problem body, through the real components;
//! and that a rejected request changed nothing.

use super::common;

use common::assert_problem;
use common::stub::{self, Canned};
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use service_kit::testing::rejected_fields;
use spin_test_host::{App, AppOptions, TestResponse};

async fn call(app: &App, method: Method, path: &str, body: Option<Value>) -> TestResponse {
    app.request(method.clone(), path, body)
        .await
        .unwrap_or_else(|error| panic!("{method} {path}: {error:#}"))
}

/// Sends `request` as built, adding the test client's bearer token if it has none.
async fn send(app: &App, mut request: Request<bytes::Bytes>) -> TestResponse {
    let name = format!("{} {}", request.method(), request.uri());
    if let Some(token) = app.bearer() {
        let value = http::HeaderValue::try_from(format!("Bearer {token}")).expect("a header");
        request
            .headers_mut()
            .entry(http::header::AUTHORIZATION)
            .or_insert(value);
    }
    app.send(request)
        .await
        .unwrap_or_else(|error| panic!("{name}: {error:#}"))
}

/// The fields a 400 problem names.
fn fields(response: &TestResponse) -> Vec<String> {
    rejected_fields(&response.json())
}

/// `m1` with its metadata and one rating of 3.
async fn seeded() -> common::MovieSystem {
    let app = common::movie_system();
    let put = call(
        &app,
        Method::PUT,
        "/metadata/m1",
        Some(json!({"title": "Original", "director": "D"})),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "PUT /metadata/m1");
    let rate = call(
        &app,
        Method::PUT,
        "/ratings/movie/m1/users/u1",
        Some(json!({"value": 3})),
    )
    .await;
    assert_eq!(
        rate.status,
        StatusCode::CREATED,
        "PUT /ratings/movie/m1/users/u1"
    );
    app
}

/// Asserts that the seeded metadata and rating are as [`seeded`] left them.
async fn assert_unchanged(app: &App, after: &str) {
    let metadata = call(app, Method::GET, "/metadata/m1", None).await.json();
    assert_eq!(
        metadata,
        json!({"id": "m1", "title": "Original", "description": "", "director": "D"}),
        "GET /metadata/m1 after {after}"
    );
    let aggregate = call(app, Method::GET, "/ratings/movie/m1", None)
        .await
        .json();
    assert_eq!(
        (aggregate["average"].clone(), aggregate["count"].clone()),
        (json!(3.0), json!(1)),
        "GET /ratings/movie/m1 after {after}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_metadata_is_400_naming_every_bad_field() {
    let app = common::movie_system();
    let body = json!({"id": "m2", "title": "  ", "description": "d".repeat(4097), "director": 7, "year": 1972});
    let response = call(&app, Method::PUT, "/metadata/m1", Some(body)).await;
    assert_problem(&response, StatusCode::BAD_REQUEST, "PUT /metadata/m1");
    assert_eq!(
        fields(&response),
        ["id", "title", "description", "director", "year"],
        "PUT /metadata/m1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_rating_is_400_naming_path_and_body_fields() {
    let app = common::movie_system();
    let path = "/ratings/Movie/m1/users/u%201";
    let response = call(&app, Method::PUT, path, Some(json!({"value": 0}))).await;
    assert_problem(&response, StatusCode::BAD_REQUEST, &format!("PUT {path}"));
    assert_eq!(
        fields(&response),
        ["recordType", "userId", "value"],
        "PUT {path}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fractional_rating_value_is_rejected() {
    let app = common::movie_system();
    let path = "/ratings/movie/m1/users/u1";
    let response = call(&app, Method::PUT, path, Some(json!({"value": 4.5}))).await;
    assert_eq!(fields(&response), ["value"], "PUT {path} with 4.5");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_book_rating_route_rejects_a_value_out_of_range() {
    let app = common::movie_system();
    let path = "/rating?id=m1&type=movie&userId=u1&value=6";
    let response = call(&app, Method::PUT, path, None).await;
    assert_eq!(fields(&response), ["value"], "PUT {path}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listing_limit_over_100_is_rejected() {
    let app = common::movie_system();
    let response = call(&app, Method::GET, "/metadata?limit=500", None).await;
    assert_eq!(fields(&response), ["limit"], "GET /metadata?limit=500");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_movie_id_is_400_naming_id() {
    let app = common::movie_system();
    let response = call(&app, Method::GET, "/movies/bad%20id", None).await;
    assert_problem(&response, StatusCode::BAD_REQUEST, "GET /movies/bad%20id");
    assert_eq!(fields(&response), ["id"], "GET /movies/bad%20id");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_without_a_body_is_415() {
    let app = common::movie_system();
    let response = call(&app, Method::PUT, "/metadata/m1", None).await;
    assert_problem(
        &response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "PUT /metadata/m1 without a body",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_400() {
    let app = common::movie_system();
    let malformed = Request::put("/metadata/m1")
        .header("content-type", "application/json")
        .body("{\"title\":".into())
        .unwrap();
    let response = send(&app, malformed).await;
    assert_problem(
        &response,
        StatusCode::BAD_REQUEST,
        "PUT /metadata/m1 with {\"title\":",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_writes_change_nothing() {
    let app = seeded().await;
    let title = json!({"title": "  "});
    call(&app, Method::PUT, "/metadata/m1", Some(title)).await;
    let value = json!({"value": 9});
    call(&app, Method::PUT, "/ratings/movie/m1/users/u1", Some(value)).await;
    call(
        &app,
        Method::PUT,
        "/rating?id=m1&type=movie&userId=u1&value=0",
        None,
    )
    .await;
    call(&app, Method::PUT, "/metadata/m1", None).await;
    assert_unchanged(&app, "four rejected writes").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn absent_resources_are_404_problems() {
    let app = common::movie_system();
    for path in [
        "/metadata/nope",
        "/metadata?id=nope",
        "/ratings/movie/nope",
        "/rating?id=nope&type=movie",
        "/movies/nope",
        "/movie?id=nope",
        "/metadata/a/b",
    ] {
        let response = call(&app, Method::GET, path, None).await;
        assert_problem(&response, StatusCode::NOT_FOUND, &format!("GET {path}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_methods_are_405_with_allow() {
    let app = common::movie_system();
    for (method, path, allow) in [
        (Method::POST, "/metadata/m1", "GET, PUT, DELETE"),
        (Method::POST, "/metadata", "GET"),
        (Method::GET, "/ratings/movie/m1/users/u1", "PUT, DELETE"),
        (Method::DELETE, "/ratings/movie/m1", "GET"),
        (Method::POST, "/rating", "GET, PUT"),
        (Method::DELETE, "/movies/m1", "GET"),
        (Method::POST, "/movie?id=m1", "GET"),
        (Method::POST, "/health/metadata", "GET"),
        (Method::PUT, "/health/rating", "GET"),
        (Method::DELETE, "/health/movie", "GET"),
    ] {
        let request = format!("{method} {path}");
        let response = call(&app, method, path, None).await;
        assert_problem(&response, StatusCode::METHOD_NOT_ALLOWED, &request);
        assert_eq!(response.header("allow"), Some(allow), "{request}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_metadata_body_over_64_kib_is_413() {
    let app = common::movie_system();
    let huge = json!({"title": "x", "description": "d".repeat(70 * 1024)});
    let response = call(&app, Method::PUT, "/metadata/m1", Some(huge)).await;
    assert_problem(
        &response,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PUT /metadata/m1 of 70 KiB",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rating_body_padded_over_64_kib_is_413() {
    let app = common::movie_system();
    let padded = format!("{{\"value\": 5{}}}", " ".repeat(65 * 1024));
    let request = Request::put("/ratings/movie/m1/users/u1")
        .header("content-type", "application/json")
        .body(padded.into())
        .unwrap();
    let response = send(&app, request).await;
    assert_problem(
        &response,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PUT /ratings/movie/m1/users/u1 of 65 KiB",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_in_other_media_types_are_415() {
    let app = common::movie_system();
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        for (path, body) in [
            ("/metadata/m1", "{\"title\":\"New\"}"),
            ("/ratings/movie/m1/users/u1", "{\"value\":5}"),
        ] {
            let request = Request::put(path)
                .header("content-type", content_type)
                .body(body.into())
                .unwrap();
            let response = send(&app, request).await;
            let name = format!("PUT {path} as {content_type}");
            assert_problem(&response, StatusCode::UNSUPPORTED_MEDIA_TYPE, &name);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_mistyped_writes_change_nothing() {
    let app = seeded().await;
    let huge = json!({"title": "x", "description": "d".repeat(70 * 1024)});
    call(&app, Method::PUT, "/metadata/m1", Some(huge)).await;
    let text = Request::put("/ratings/movie/m1/users/u1")
        .header("content-type", "text/plain")
        .body("{\"value\":5}".into())
        .unwrap();
    send(&app, text).await;
    assert_unchanged(&app, "a 413 and a 415").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replacing_metadata_is_200() {
    let app = seeded().await;
    let body = json!({"title": "Original", "director": "D"});
    let replaced = call(&app, Method::PUT, "/metadata/m1", Some(body)).await;
    assert_eq!(replaced.status, StatusCode::OK, "second PUT /metadata/m1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conditional_get_with_the_current_etag_is_304_with_that_etag_and_no_body() {
    let app = seeded().await;
    let current = call(&app, Method::GET, "/metadata/m1", None).await;
    let etag = current
        .header("etag")
        .expect("GET /metadata/m1 has an ETag")
        .to_owned();
    let conditional = Request::get("/metadata/m1")
        .header("if-none-match", &etag)
        .body(Default::default())
        .unwrap();
    let response = send(&app, conditional).await;
    assert_eq!(
        (
            response.status,
            response.header("etag"),
            response.body.len()
        ),
        (StatusCode::NOT_MODIFIED, Some(etag.as_str()), 0),
        "GET /metadata/m1 with If-None-Match: {etag}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_metadata_is_204_and_it_is_gone() {
    let app = seeded().await;
    let deleted = call(&app, Method::DELETE, "/metadata/m1", None).await;
    assert_eq!(
        deleted.status,
        StatusCode::NO_CONTENT,
        "DELETE /metadata/m1"
    );
    let after = call(&app, Method::GET, "/metadata/m1", None).await;
    assert_eq!(
        after.status,
        StatusCode::NOT_FOUND,
        "GET /metadata/m1 after DELETE"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_absent_metadata_is_204() {
    let app = common::movie_system();
    let deleted = call(&app, Method::DELETE, "/metadata/never", None).await;
    assert_eq!(
        deleted.status,
        StatusCode::NO_CONTENT,
        "DELETE /metadata/never"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_only_rating_leaves_the_record_unrated() {
    let app = seeded().await;
    let path = "/ratings/movie/m1/users/u1";
    let deleted = call(&app, Method::DELETE, path, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "DELETE {path}");
    let after = call(&app, Method::GET, "/ratings/movie/m1", None).await;
    assert_eq!(
        after.status,
        StatusCode::NOT_FOUND,
        "GET /ratings/movie/m1 after DELETE"
    );
}

fn listed_ids(page: &Value) -> Vec<String> {
    let items = page["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect()
}

async fn five_movies() -> common::MovieSystem {
    let app = common::movie_system();
    for id in ["c", "a", "e", "b", "d"] {
        let path = format!("/metadata/{id}");
        let put = call(&app, Method::PUT, &path, Some(json!({"title": id}))).await;
        assert_eq!(put.status, StatusCode::CREATED, "PUT {path}");
    }
    app
}

#[tokio::test(flavor = "multi_thread")]
async fn the_listing_pages_through_every_movie_in_id_order() {
    let app = five_movies().await;
    let mut seen = Vec::new();
    let mut path = "/metadata?limit=2".to_owned();
    let mut pages = Vec::new();
    loop {
        let page = call(&app, Method::GET, &path, None).await.json();
        seen.extend(listed_ids(&page));
        pages.push(path.clone());
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/metadata?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"], "GET {pages:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_listing_holds_20_movies_by_default() {
    let app = five_movies().await;
    let page = call(&app, Method::GET, "/metadata", None).await.json();
    assert_eq!(
        (listed_ids(&page).len(), page["nextCursor"].clone()),
        (5, Value::Null),
        "GET /metadata"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_service_is_healthy_with_its_store() {
    let app = common::movie_system();
    for service in ["metadata", "rating", "movie"] {
        let path = format!("/health/{service}");
        let health = call(&app, Method::GET, &path, None).await;
        assert_eq!(
            (health.status, health.json()["status"].clone()),
            (StatusCode::OK, json!("pass")),
            "GET {path}"
        );
    }
}

/// The seeded system after its metadata table was dropped behind the component's back.
async fn broken_metadata_store() -> common::MovieSystem {
    let app = seeded().await;
    let file = app.root.path().join(".spin/metadata.db");
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute("DROP TABLE metadata", [])
        .unwrap();
    app
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_store_is_a_500_without_details() {
    let app = broken_metadata_store().await;
    let response = call(&app, Method::GET, "/metadata/m1", None).await;
    assert_problem(
        &response,
        StatusCode::INTERNAL_SERVER_ERROR,
        "GET /metadata/m1 without its table",
    );
    let text = String::from_utf8_lossy(&response.body).to_lowercase();
    assert!(
        !text.contains("sqlite") && !text.contains("table"),
        "GET /metadata/m1 without its table: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_store_is_logged_with_its_cause() {
    let app = broken_metadata_store().await;
    call(&app, Method::GET, "/metadata/m1", None).await;
    assert!(
        app.log("metadata").contains("no such table"),
        "the log after GET /metadata/m1 without its table: {}",
        app.log("metadata")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_store_makes_its_service_unhealthy() {
    let app = broken_metadata_store().await;
    let health = call(&app, Method::GET, "/health/metadata", None).await;
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("fail")),
        "GET /health/metadata without its table"
    );
}

/// The seeded system with `upstream` pointed at `url`.
async fn with_upstream(variable: &str, url: String) -> common::MovieSystem {
    let app = common::movie_system_with(AppOptions {
        variables: [(variable.to_owned(), url)].into(),
        ..AppOptions::default()
    });
    let put = call(
        &app,
        Method::PUT,
        "/metadata/m1",
        Some(json!({"title": "T"})),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "PUT /metadata/m1");
    app
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_rating_upstream_gives_a_degraded_view() {
    let broken = stub::start(Canned::json(500, json!({"oops": true}))).await;
    let app = with_upstream("rating_url", broken.url()).await;
    let response = call(&app, Method::GET, "/movies/m1", None).await;
    assert_eq!(
        (
            response.status,
            response.header("movie-degraded"),
            response.json()["degraded"].clone()
        ),
        (StatusCode::OK, Some("rating"), json!(["rating"])),
        "GET /movies/m1 with rating failing: {}",
        response.json()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_metadata_upstream_is_503_naming_it() {
    let broken = stub::start(Canned::json(500, json!({"oops": true}))).await;
    let app = with_upstream("metadata_url", broken.url()).await;
    let response = call(&app, Method::GET, "/movies/m1", None).await;
    assert_problem(
        &response,
        StatusCode::SERVICE_UNAVAILABLE,
        "GET /movies/m1 with metadata failing",
    );
    let detail = response.json()["detail"].clone();
    assert!(
        detail.as_str().unwrap_or_default().contains("metadata"),
        "GET /movies/m1 with metadata failing: {detail}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_movie_view_asks_the_failing_upstream_once() {
    let broken = stub::start(Canned::json(500, json!({"oops": true}))).await;
    let app = with_upstream("rating_url", broken.url()).await;
    call(&app, Method::GET, "/movies/m1", None).await;
    assert_eq!(broken.hits(), 1, "rating requests for one GET /movies/m1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_movie_is_404_even_when_rating_fails() {
    let broken = stub::start(Canned::json(500, json!({"oops": true}))).await;
    let app = with_upstream("rating_url", broken.url()).await;
    let response = call(&app, Method::GET, "/movies/absent", None).await;
    assert_problem(
        &response,
        StatusCode::NOT_FOUND,
        "GET /movies/absent with rating failing",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bare_404_from_an_upstream_is_a_wrong_url_and_502() {
    let bare_404 = stub::start(Canned {
        body: String::new(),
        ..Canned::json(404, json!(null))
    })
    .await;
    let app = with_upstream("metadata_url", bare_404.url()).await;
    let response = call(&app, Method::GET, "/movies/m1", None).await;
    assert_problem(
        &response,
        StatusCode::BAD_GATEWAY,
        "GET /movies/m1 with metadata answering a bare 404",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_states_its_length() {
    let app = seeded().await;
    for path in [
        "/metadata/m1",
        "/metadata",
        "/ratings/movie/m1",
        "/rating?id=m1&type=movie",
        "/movies/m1",
        "/movie?id=m1",
        "/health/movie",
        "/metadata/nope",
    ] {
        let response = call(&app, Method::GET, path, None).await;
        assert_eq!(
            response.header("content-length"),
            Some(response.body.len().to_string().as_str()),
            "GET {path}"
        );
    }
}
