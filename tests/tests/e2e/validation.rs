//! One set of rules on every surface: the same refused value gets the same message over REST,
//! gRPC, rating events and import lines, and that message is the one README's validation
//! table gives for the field.

use super::common::{self, repo_root};
use super::grpc::call;
use http::{Method, Request, StatusCode};
use movie_proto::{self as proto, paths};
use serde_json::{Value, json};
use spin_test_host::App;
use spin_test_host::movie_system::editor_token;

/// The README table's row for `field` (the first cell names it in backticks).
fn readme_row(field: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let cell = format!("`{field}`");
    readme
        .lines()
        .filter(|line| line.starts_with('|'))
        .find(|line| {
            line.split('|')
                .nth(1)
                .is_some_and(|first| first.contains(&cell) || first.trim() == field)
        })
        .unwrap_or_else(|| panic!("README's validation table has no row for {field}"))
        .to_owned()
}

/// Asserts that every surface refused `field` with the same message, and that README's row
/// for `row` gives it.
fn assert_one_message(row: &str, field: &str, seen: &[(&str, Option<String>)]) {
    let messages: Vec<&str> = seen
        .iter()
        .map(|(surface, message)| {
            message
                .as_deref()
                .unwrap_or_else(|| panic!("{surface} did not refuse {field}"))
        })
        .collect();
    let first = messages[0];
    for ((surface, _), message) in seen.iter().zip(&messages) {
        assert_eq!(
            *message, first,
            "{surface}'s message for {field}, against {}'s",
            seen[0].0
        );
    }
    let readme = readme_row(row);
    assert!(
        readme.contains(&format!("`{first}`")),
        "README's row for {row} does not give the message {first:?}: {readme}"
    );
}

/// The message a problem body gives `field`.
fn problem_message(body: &Value, field: &str) -> Option<String> {
    body["errors"]
        .as_array()?
        .iter()
        .find(|e| e["field"] == field)
        .and_then(|e| e["message"].as_str())
        .map(str::to_owned)
}

async fn rest(
    app: &App,
    method: Method,
    path: &str,
    body: Option<Value>,
    field: &str,
) -> Option<String> {
    let response = app.request(method, path, body).await.unwrap();
    assert_eq!(
        response.status,
        StatusCode::BAD_REQUEST,
        "{path}: {:?}",
        response.json()
    );
    problem_message(&response.json(), field)
}

/// The message an import's report gives `field` of its only line.
async fn import_line(app: &App, line: Value, field: &str) -> Option<String> {
    let request = Request::post("/metadata/import")
        .header("content-type", "application/x-ndjson")
        .header("authorization", format!("Bearer {}", editor_token()))
        .body(bytes::Bytes::from(format!("{line}\n")))
        .unwrap();
    let report = app.send(request).await.unwrap().json();
    problem_message(&report, field)
}

/// The message of one event's `field` in a refused batch.
async fn event(app: &App, fields: Value, field: &str) -> Option<String> {
    let mut event = json!({"eventId": "e1", "userId": "u1", "recordId": "r1", "recordType": "movie",
        "value": 4, "providerId": "p1", "eventType": "put"});
    if let (Some(event), Some(fields)) = (event.as_object_mut(), fields.as_object()) {
        event.extend(fields.clone());
    }
    rest(
        app,
        Method::POST,
        "/ratings/events",
        Some(json!([event])),
        &format!("[0].{field}"),
    )
    .await
}

/// The message a gRPC status gives `field` (`field: message` in its text).
fn grpc_message<T: std::fmt::Debug>(
    outcome: Result<T, tonic::Status>,
    field: &str,
) -> Option<String> {
    let status = outcome.err()?;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let prefix = format!("{field}: ");
    status
        .message()
        .split(['\u{3b}'])
        .map(str::trim)
        .flat_map(|part| part.split_once(&prefix).map(|(_, m)| m.to_owned()))
        .next()
}

async fn put_metadata_rpc(
    url: &str,
    metadata: proto::Metadata,
) -> Result<proto::PutMetadataResponse, tonic::Status> {
    let put = proto::PutMetadataRequest {
        metadata: Some(metadata),
    };
    call(url, paths::PUT_METADATA, put, Some(&editor_token())).await
}

async fn put_rating_rpc(
    url: &str,
    record_type: &str,
    value: i32,
) -> Result<proto::PutRatingResponse, tonic::Status> {
    let put = proto::PutRatingRequest {
        user_id: "u1".into(),
        record_id: "r1".into(),
        record_type: record_type.into(),
        rating_value: value,
    };
    call(url, paths::PUT_RATING, put, Some(&editor_token())).await
}

fn movie(id: &str) -> proto::Metadata {
    proto::Metadata {
        id: id.into(),
        title: "T".into(),
        ..proto::Metadata::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_surface_refuses_each_value_with_the_message_readme_gives() {
    let system = common::movie_system();
    let server = system.app.serve().await.expect("serving the app");
    let url = server.url();
    let app = &system.app;

    let blank = proto::Metadata {
        title: " ".into(),
        ..movie("m1")
    };
    assert_one_message(
        "title",
        "title",
        &[
            (
                "REST",
                rest(
                    app,
                    Method::PUT,
                    "/metadata/m1",
                    Some(json!({"title": " "})),
                    "title",
                )
                .await,
            ),
            (
                "import",
                import_line(app, json!({"id": "m1", "title": " "}), "title").await,
            ),
            (
                "gRPC",
                grpc_message(put_metadata_rpc(&url, blank).await, "metadata.title"),
            ),
        ],
    );

    let long = "d".repeat(4097);
    let described = proto::Metadata {
        description: long.clone(),
        ..movie("m1")
    };
    assert_one_message(
        "description",
        "description",
        &[
            (
                "REST",
                rest(
                    app,
                    Method::PUT,
                    "/metadata/m1",
                    Some(json!({"title": "T", "description": long})),
                    "description",
                )
                .await,
            ),
            (
                "import",
                import_line(
                    app,
                    json!({"id": "m1", "title": "T", "description": long}),
                    "description",
                )
                .await,
            ),
            (
                "gRPC",
                grpc_message(
                    put_metadata_rpc(&url, described).await,
                    "metadata.description",
                ),
            ),
        ],
    );

    for id in ["export", "a b", ".."] {
        assert_one_message(
            "id",
            "id",
            &[
                (
                    "REST query",
                    rest(
                        app,
                        Method::GET,
                        &format!("/metadata?id={}", id.replace(' ', "%20")),
                        None,
                        "id",
                    )
                    .await,
                ),
                (
                    "import",
                    import_line(app, json!({"id": id, "title": "T"}), "id").await,
                ),
                (
                    "gRPC",
                    grpc_message(put_metadata_rpc(&url, movie(id)).await, "metadata.id"),
                ),
            ],
        );
    }
    let movie_view = rest(app, Method::GET, "/movies/export", None, "id").await;
    assert_one_message(
        "id",
        "id",
        &[
            ("movie REST", movie_view),
            (
                "import",
                import_line(app, json!({"id": "export", "title": "T"}), "id").await,
            ),
        ],
    );

    assert_one_message(
        "recordType",
        "recordType",
        &[
            (
                "REST",
                rest(
                    app,
                    Method::PUT,
                    "/ratings/Movie/r1/users/u1",
                    Some(json!({"value": 4})),
                    "recordType",
                )
                .await,
            ),
            (
                "events",
                event(app, json!({"recordType": "Movie"}), "recordType").await,
            ),
            (
                "gRPC",
                grpc_message(put_rating_rpc(&url, "Movie", 4).await, "record_type"),
            ),
        ],
    );

    assert_one_message(
        "value",
        "value",
        &[
            (
                "REST",
                rest(
                    app,
                    Method::PUT,
                    "/ratings/movie/r1/users/u1",
                    Some(json!({"value": 6})),
                    "value",
                )
                .await,
            ),
            (
                "book REST",
                rest(
                    app,
                    Method::PUT,
                    "/rating?id=r1&type=movie&userId=u1&value=6",
                    None,
                    "value",
                )
                .await,
            ),
            ("events", event(app, json!({"value": 6}), "value").await),
            (
                "gRPC",
                grpc_message(put_rating_rpc(&url, "movie", 6).await, "rating_value"),
            ),
        ],
    );

    assert_one_message(
        "eventType",
        "eventType",
        &[(
            "events",
            event(app, json!({"eventType": "upsert"}), "eventType").await,
        )],
    );

    assert_one_message(
        "any other member",
        "rating",
        &[
            (
                "REST",
                rest(
                    app,
                    Method::PUT,
                    "/metadata/m1",
                    Some(json!({"title": "T", "rating": 5})),
                    "rating",
                )
                .await,
            ),
            (
                "import",
                import_line(
                    app,
                    json!({"id": "m1", "title": "T", "rating": 5}),
                    "rating",
                )
                .await,
            ),
            ("events", event(app, json!({"rating": 5}), "rating").await),
        ],
    );

    assert_one_message(
        "a member of the wrong JSON type",
        "title",
        &[
            (
                "REST",
                rest(
                    app,
                    Method::PUT,
                    "/metadata/m1",
                    Some(json!({"title": 7})),
                    "title",
                )
                .await,
            ),
            (
                "import",
                import_line(app, json!({"id": "m1", "title": 7}), "title").await,
            ),
        ],
    );

    let stored = app
        .request(Method::GET, "/metadata/m1", None)
        .await
        .unwrap();
    assert_eq!(
        stored.status,
        StatusCode::NOT_FOUND,
        "a refused value was stored somewhere"
    );
}
