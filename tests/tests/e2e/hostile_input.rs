//! Hostile input through the real components: oversized, malformed and deceptive requests are
//! refused with a 4xx problem, never a 500, and a refused write changes nothing. SQL
//! metacharacters are data: stored and answered verbatim.

use super::common;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde_json::json;
use spin_test_host::movie_system::editor_token;
use spin_test_host::{App, TestResponse};

/// A request with the editor's token and a JSON media type, carrying `body` as given.
fn raw(method: Method, path: &str, body: impl Into<Bytes>) -> Request<Bytes> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", editor_token()))
        .header("content-type", "application/json")
        .body(body.into())
        .expect("a request")
}

async fn send(app: &App, request: Request<Bytes>) -> TestResponse {
    let name = format!("{} {}", request.method(), request.uri());
    app.send(request)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

/// Asserts a 4xx problem, naming `what`.
fn refused(response: &TestResponse, what: &str) {
    assert!(
        response.status.is_client_error(),
        "{what}: {} {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
}

/// How many movies the listing holds.
async fn movies(app: &App) -> usize {
    let page = app
        .request(Method::GET, "/metadata?limit=100", None)
        .await
        .unwrap();
    page.json()["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_the_limit_are_413_on_every_write_surface() {
    let app = common::movie_system();
    let huge = vec![b' '; 200 * 1024];
    for (method, path) in [
        (Method::PUT, "/metadata/m1"),
        (Method::PUT, "/ratings/movie/m1/users/u1"),
    ] {
        let response = send(&app, raw(method, path, huge.clone())).await;
        assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    let token = Request::post("/auth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(vec![b'a'; 200 * 1024]))
        .unwrap();
    assert_eq!(
        send(&app, token).await.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "/auth/token"
    );
    assert_eq!(movies(&app).await, 0, "nothing was stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_utf8_and_deeply_nested_json_are_400() {
    let app = common::movie_system();
    let nested = format!(
        "{{\"title\": {}1{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let bodies: [(&str, Vec<u8>); 3] = [
        ("invalid UTF-8", b"{\"title\": \"\xff\xfe\"}".to_vec()),
        ("nested 10,000 deep", nested.into_bytes()),
        (
            "a lone surrogate escape",
            br#"{"title": "\ud800"}"#.to_vec(),
        ),
    ];
    for (name, body) in bodies {
        let response = send(&app, raw(Method::PUT, "/metadata/m1", body)).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{name}");
        refused(&response, name);
    }
    assert_eq!(movies(&app).await, 0, "nothing was stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_metacharacters_are_stored_and_answered_verbatim() {
    let app = common::movie_system();
    let title = "Robert'); DROP TABLE metadata;-- \" % _ \\ \u{0} ;";
    let put = app
        .request(
            Method::PUT,
            "/metadata/m1",
            Some(json!({"title": title, "director": "' OR 1=1 --"})),
        )
        .await
        .unwrap();
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.json());
    let read = app
        .request(Method::GET, "/metadata/m1", None)
        .await
        .unwrap();
    assert_eq!(
        (
            read.json()["title"].as_str(),
            read.json()["director"].as_str()
        ),
        (Some(title), Some("' OR 1=1 --"))
    );
    assert_eq!(
        movies(&app).await,
        1,
        "the table is intact and holds one movie"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deceptive_ids_are_refused_and_store_nothing() {
    let app = common::movie_system();
    let ids = [
        "..",
        "%2E%2E",
        "a%2Fb",
        "a%2fb",
        "%2F",
        "m%EF%BC%91", // "m１": fullwidth digit one
        "%D0%BC1",    // "м1": Cyrillic em
        "m1%00",
        "m1%20",
        "%E2%80%8Bm1", // zero-width space
        &"a".repeat(65),
    ];
    for id in ids {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let path = format!("/metadata/{id}");
            let response = send(
                &app,
                raw(method.clone(), &path, json!({"title": "x"}).to_string()),
            )
            .await;
            refused(&response, &format!("{method} {path}"));
        }
        let rating = format!("/ratings/movie/{id}/users/u1");
        let response = send(
            &app,
            raw(Method::PUT, &rating, json!({"value": 3}).to_string()),
        )
        .await;
        refused(&response, &format!("PUT {rating}"));
        let movie = app
            .request(Method::GET, &format!("/movies/{id}"), None)
            .await
            .unwrap();
        refused(&movie, &format!("GET /movies/{id}"));
    }
    assert_eq!(movies(&app).await, 0, "nothing was stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_with_slashes_or_dot_segments_never_reaches_another_resource() {
    let app = common::movie_system();
    app.request(Method::PUT, "/metadata/m1", Some(json!({"title": "Kept"})))
        .await
        .unwrap();
    for path in [
        "/metadata/x/../m1",
        "/metadata/./m1",
        "/metadata//m1",
        "/metadata/m1/",
    ] {
        let response = send(&app, raw(Method::DELETE, path, Bytes::new())).await;
        assert!(
            response.status.is_client_error(),
            "DELETE {path}: {}",
            response.status
        );
    }
    let read = app
        .request(Method::GET, "/metadata/m1", None)
        .await
        .unwrap();
    assert_eq!(read.status, StatusCode::OK, "m1 survived");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_headers_and_query_strings_get_no_500() {
    let app = common::movie_system();
    let long = "a".repeat(100 * 1024);
    // Just under the longest URI the `http` crate (and so Spin's server) represents.
    let query = format!("/metadata?id={}", "a".repeat(60 * 1024));
    let response = app.request(Method::GET, &query, None).await.unwrap();
    assert_eq!(
        response.status,
        StatusCode::BAD_REQUEST,
        "GET /metadata?id=<60 KiB>"
    );
    let many_params = format!("/rating?{}", "id=m1&".repeat(5_000));
    assert!(many_params.len() < 60 * 1024);
    assert!(many_params.len() < 60 * 1024);
    let response = app.request(Method::GET, &many_params, None).await.unwrap();
    refused(&response, "5,000 query parameters");
    let mut request = raw(
        Method::PUT,
        "/metadata/m1",
        json!({"title": "x"}).to_string(),
    );
    request
        .headers_mut()
        .insert("x-padding", long.parse().unwrap());
    for n in 0..200 {
        request.headers_mut().insert(
            http::HeaderName::try_from(format!("x-extra-{n}")).unwrap(),
            "v".parse().unwrap(),
        );
    }
    let response = send(&app, request).await;
    assert!(
        !response.status.is_server_error(),
        "a write with 100 KiB of headers: {}",
        response.status
    );
    let huge_token = Request::put("/metadata/m2")
        .header("authorization", format!("Bearer {long}.{long}.{long}"))
        .header("content-type", "application/json")
        .body(Bytes::from(json!({"title": "x"}).to_string()))
        .unwrap();
    let response = send(&app, huge_token).await;
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "a 300 KiB bearer token"
    );
    let missing = app
        .request(Method::GET, "/metadata/m2", None)
        .await
        .unwrap();
    assert_eq!(
        missing.status,
        StatusCode::NOT_FOUND,
        "nothing stored under the huge token"
    );
}
