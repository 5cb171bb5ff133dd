//! Every status code of the API contract, with its problem body, through the real components;
//! and that a rejected request changed nothing.

use super::common;

use common::stub::{self, Canned};
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use service_kit::testing::rejected_fields;
use spin_test_host::{App, AppOptions, TestResponse};

async fn call(app: &App, method: Method, path: &str, body: Option<Value>) -> TestResponse {
    app.request(method, path, body).await.expect("request")
}

fn assert_problem(response: &TestResponse, status: StatusCode) {
    assert_eq!(response.status, status, "{:?}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    let body = response.json();
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["type"], "about:blank");
    assert_eq!(body["title"], status.canonical_reason().unwrap_or_default());
    assert_eq!(
        response.header("content-length"),
        Some(response.body.len().to_string().as_str())
    );
}

/// The fields a 400 problem names.
fn fields(response: &TestResponse) -> Vec<String> {
    rejected_fields(&response.json())
}

async fn seed(app: &App) {
    let put = call(
        app,
        Method::PUT,
        "/metadata/m1",
        Some(json!({"title": "Original", "director": "D"})),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED);
    let rate = call(
        app,
        Method::PUT,
        "/ratings/movie/m1/users/u1",
        Some(json!({"value": 3})),
    )
    .await;
    assert_eq!(rate.status, StatusCode::CREATED);
}

async fn unchanged(app: &App) {
    let metadata = call(app, Method::GET, "/metadata/m1", None).await.json();
    assert_eq!(
        metadata,
        json!({"id": "m1", "title": "Original", "description": "", "director": "D"})
    );
    let aggregate = call(app, Method::GET, "/ratings/movie/m1", None)
        .await
        .json();
    assert_eq!(
        (aggregate["average"].clone(), aggregate["count"].clone()),
        (json!(3.0), json!(1))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_is_400_naming_every_bad_field_and_changes_nothing() {
    let app = common::movie_system();
    seed(&app).await;
    let body = json!({"id": "m2", "title": "  ", "description": "d".repeat(4097), "director": 7, "year": 1972});
    let response = call(&app, Method::PUT, "/metadata/m1", Some(body)).await;
    assert_problem(&response, StatusCode::BAD_REQUEST);
    assert_eq!(
        fields(&response),
        ["id", "title", "description", "director", "year"]
    );

    let response = call(
        &app,
        Method::PUT,
        "/ratings/Movie/m1/users/u%201",
        Some(json!({"value": 0})),
    )
    .await;
    assert_problem(&response, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&response), ["recordType", "userId", "value"]);
    let response = call(
        &app,
        Method::PUT,
        "/ratings/movie/m1/users/u1",
        Some(json!({"value": 4.5})),
    )
    .await;
    assert_eq!(fields(&response), ["value"]);
    let response = call(
        &app,
        Method::PUT,
        "/rating?id=m1&type=movie&userId=u1&value=6",
        None,
    )
    .await;
    assert_eq!(fields(&response), ["value"]);
    let response = call(&app, Method::GET, "/metadata?limit=500", None).await;
    assert_eq!(fields(&response), ["limit"]);
    let response = call(&app, Method::GET, "/movies/bad%20id", None).await;
    assert_problem(&response, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&response), ["id"]);
    let response = call(&app, Method::PUT, "/metadata/m1", None).await;
    assert_eq!(response.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let malformed = Request::put("/metadata/m1")
        .header("content-type", "application/json")
        .body("{\"title\":".into())
        .unwrap();
    assert_problem(&app.send(malformed).await.unwrap(), StatusCode::BAD_REQUEST);
    unchanged(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn absent_resources_are_404_problems() {
    let app = common::movie_system();
    assert_problem(
        &call(&app, Method::GET, "/metadata/nope", None).await,
        StatusCode::NOT_FOUND,
    );
    assert_problem(
        &call(&app, Method::GET, "/metadata?id=nope", None).await,
        StatusCode::NOT_FOUND,
    );
    assert_problem(
        &call(&app, Method::GET, "/ratings/movie/nope", None).await,
        StatusCode::NOT_FOUND,
    );
    assert_problem(
        &call(&app, Method::GET, "/rating?id=nope&type=movie", None).await,
        StatusCode::NOT_FOUND,
    );
    assert_problem(
        &call(&app, Method::GET, "/movies/nope", None).await,
        StatusCode::NOT_FOUND,
    );
    assert_problem(
        &call(&app, Method::GET, "/movie?id=nope", None).await,
        StatusCode::NOT_FOUND,
    );
    assert_problem(
        &call(&app, Method::GET, "/metadata/a/b", None).await,
        StatusCode::NOT_FOUND,
    );
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
    ] {
        let response = call(&app, method, path, None).await;
        assert_problem(&response, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.header("allow"), Some(allow), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_64_kib_are_413_and_other_media_types_415_and_change_nothing() {
    let app = common::movie_system();
    seed(&app).await;
    let huge = json!({"title": "x", "description": "d".repeat(70 * 1024)});
    assert_problem(
        &call(&app, Method::PUT, "/metadata/m1", Some(huge)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    );
    let padded = format!("{{\"value\": 5{}}}", " ".repeat(65 * 1024));
    let request = Request::put("/ratings/movie/m1/users/u1")
        .header("content-type", "application/json")
        .body(padded.into())
        .unwrap();
    assert_problem(
        &app.send(request).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
    );
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let request = Request::put("/metadata/m1")
            .header("content-type", content_type)
            .body("{\"title\":\"New\"}".into())
            .unwrap();
        assert_problem(
            &app.send(request).await.unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        );
        let request = Request::put("/ratings/movie/m1/users/u1")
            .header("content-type", content_type)
            .body("{\"value\":5}".into())
            .unwrap();
        assert_problem(
            &app.send(request).await.unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        );
    }
    unchanged(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_answer_201_200_and_204_and_conditional_gets_304() {
    let app = common::movie_system();
    seed(&app).await;
    let replaced = call(
        &app,
        Method::PUT,
        "/metadata/m1",
        Some(json!({"title": "Original", "director": "D"})),
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK);
    let etag = replaced.header("etag").expect("etag").to_owned();
    let conditional = Request::get("/metadata/m1")
        .header("if-none-match", &etag)
        .body(Default::default())
        .unwrap();
    let not_modified = app.send(conditional).await.unwrap();
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));

    let deleted = call(&app, Method::DELETE, "/metadata/m1", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        call(&app, Method::DELETE, "/metadata/m1", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, Method::GET, "/metadata/m1", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, Method::DELETE, "/ratings/movie/m1/users/u1", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, Method::GET, "/ratings/movie/m1", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_listing_pages_through_every_movie_in_id_order() {
    let app = common::movie_system();
    for id in ["c", "a", "e", "b", "d"] {
        call(
            &app,
            Method::PUT,
            &format!("/metadata/{id}"),
            Some(json!({"title": id})),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut path = "/metadata?limit=2".to_owned();
    loop {
        let page = call(&app, Method::GET, &path, None).await.json();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/metadata?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    assert_eq!(
        call(&app, Method::GET, "/metadata", None).await.json()["items"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_store_is_a_500_without_details_and_an_unhealthy_service() {
    let app = common::movie_system();
    seed(&app).await;
    for service in ["metadata", "rating", "movie"] {
        let health = call(&app, Method::GET, &format!("/health/{service}"), None).await;
        assert_eq!(health.status, StatusCode::OK, "{service}");
        assert_eq!(health.json()["status"], "pass");
    }
    let file = app.root.path().join(".spin/metadata.db");
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute("DROP TABLE metadata", [])
        .unwrap();
    let response = call(&app, Method::GET, "/metadata/m1", None).await;
    assert_problem(&response, StatusCode::INTERNAL_SERVER_ERROR);
    let text = String::from_utf8_lossy(&response.body).to_lowercase();
    assert!(
        !text.contains("sqlite") && !text.contains("table"),
        "{text}"
    );
    let health = call(&app, Method::GET, "/health/metadata", None).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.json()["status"], "fail");
    assert!(
        app.log("metadata").contains("no such table"),
        "{}",
        app.log("metadata")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_failures_are_502_and_a_missing_movie_404() {
    let broken = stub::start(Canned::json(500, json!({"oops": true}))).await;
    let bare_404 = stub::start(Canned {
        body: String::new(),
        ..Canned::json(404, json!(null))
    })
    .await;
    let app = common::movie_system_with(AppOptions {
        variables: [("rating_url".to_owned(), broken.url())].into(),
        ..AppOptions::default()
    });
    seed(&app).await;
    let response = call(&app, Method::GET, "/movies/m1", None).await;
    assert_problem(&response, StatusCode::BAD_GATEWAY);
    assert!(
        response.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("rating")
    );
    assert_eq!(broken.hits(), 1);
    assert_problem(
        &call(&app, Method::GET, "/movies/absent", None).await,
        StatusCode::NOT_FOUND,
    );

    // A 404 without a problem body is a wrong URL, not an absent movie.
    let app = common::movie_system_with(AppOptions {
        variables: [("metadata_url".to_owned(), bare_404.url())].into(),
        ..AppOptions::default()
    });
    assert_problem(
        &call(&app, Method::GET, "/movies/m1", None).await,
        StatusCode::BAD_GATEWAY,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_states_its_length() {
    let app = common::movie_system();
    seed(&app).await;
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
            "{path}"
        );
    }
}
