//! Bulk export and import through the host: NDJSON streamed both ways in constant memory,
//! one snapshot per export, and an import that applies everything or, when its body is cut
//! off, nothing.

use super::common;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde_json::{Value, json};
use spin_test_host::triggers::http::{HostBody, RequestBody};
use spin_test_host::{App, TestResponse};
use std::path::Path;
use wasmtime_wasi_http::handler::ErrorCode;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode as P3ErrorCode;

const NDJSON: &str = "application/x-ndjson";

/// `count` movies as NDJSON lines, ids `m000000`... in order.
pub fn movie_lines(range: std::ops::Range<usize>) -> String {
    range
        .map(|i| {
            format!(
                "{{\"id\":\"m{i:06}\",\"title\":\"Title {i}\",\"description\":\"A movie about the number {i}\",\"director\":\"Director {}\"}}\n",
                i % 97
            )
        })
        .collect()
}

pub async fn import(app: &App, body: impl Into<Bytes>) -> TestResponse {
    let request = Request::post("/metadata/import")
        .header("content-type", NDJSON)
        .header(
            "authorization",
            format!("Bearer {}", app.bearer().expect("the editor's token")),
        )
        .body(body.into())
        .expect("request");
    app.send(request).await.expect("the app answers")
}

/// The export's response, its body not yet read.
async fn open_export(app: &App, path: &str) -> http::Response<HostBody> {
    let request = Request::get(path)
        .body(
            http_body_util::Empty::<Bytes>::new()
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .expect("request");
    app.handle(request, spin_test_host::triggers::http::client::TEST_CLIENT)
        .await
}

/// Every line of an export, parsed.
async fn export_lines(app: &App, path: &str) -> Vec<Value> {
    let response = TestResponse::read(open_export(app, path).await)
        .await
        .expect("the export reads to its end");
    assert_eq!(response.status, StatusCode::OK, "GET {path}");
    assert_eq!(response.header("content-type"), Some(NDJSON), "GET {path}");
    parse_lines(&response.body)
}

fn parse_lines(body: &[u8]) -> Vec<Value> {
    assert!(
        body.is_empty() || body.ends_with(b"\n"),
        "an export ends with a newline"
    );
    body.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).expect("each line is JSON"))
        .collect()
}

fn ids(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|line| line["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The first chunk of a response body, read before the rest.
async fn first_chunk(body: &mut HostBody) -> Bytes {
    body.frame()
        .await
        .expect("a first frame")
        .expect("readable")
        .into_data()
        .unwrap_or_default()
}

/// Asserts that `GET path` is 404: what `what` would have stored is not there.
async fn assert_absent(app: &App, path: &str, what: &str) {
    let response = app.request(Method::GET, path, None).await.unwrap();
    assert_eq!(response.status, StatusCode::NOT_FOUND, "GET {path}: {what}");
}

fn staged_rows(root: &Path) -> i64 {
    rusqlite::Connection::open(root.join(".spin/metadata.db"))
        .and_then(|c| {
            c.query_row("SELECT count(*) FROM metadata_import_staging", [], |row| {
                row.get(0)
            })
        })
        .expect("the staging table reads")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_then_an_export_give_back_every_movie_once_in_id_order() {
    let app = common::movie_system();
    let imported = import(&app, movie_lines(0..1234)).await;
    assert_eq!(
        imported.status,
        StatusCode::OK,
        "import: {:?}",
        imported.body
    );
    assert_eq!(
        imported.json(),
        json!({"lines": 1234, "accepted": 1234, "rejected": 0, "movies": 1234, "errors": [], "errorsTruncated": false})
    );
    let lines = export_lines(&app, "/metadata/export").await;
    let expected: Vec<String> = (0..1234).map(|i| format!("m{i:06}")).collect();
    assert_eq!(ids(&lines), expected, "exported ids");
    assert_eq!(
        lines[7],
        json!({"id": "m000007", "title": "Title 7", "description": "A movie about the number 7", "director": "Director 7"}),
        "an exported line is the movie as GET returns it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_rejects_bad_lines_by_number_and_field_and_applies_the_good_ones() {
    let app = common::movie_system();
    let body = concat!(
        "{\"id\":\"good1\",\"title\":\"Good\"}\n",
        "{\"id\":\"bad\",\"title\":\"   \"}\n",
        "\n",
        "{\"title\":\"no id\",\"rating\":5}\n",
        "{not json\n",
        "{\"id\":\"export\",\"title\":\"Reserved\"}\n",
        "{\"id\":\"good2\",\"title\":\"Also good\",\"director\":\"D\"}"
    );
    let report = import(&app, body).await;
    assert_eq!(report.status, StatusCode::OK, "import");
    let report = report.json();
    let described: Vec<(u64, Value)> = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["line"].as_u64().unwrap_or(0), e["field"].clone()))
        .collect();
    assert_eq!(
        described,
        [
            (2, json!("title")),
            (4, json!("id")),
            (4, json!("rating")),
            (5, Value::Null),
            (6, json!("id")),
        ],
        "rejected lines: {report}"
    );
    assert_eq!(
        (&report["accepted"], &report["rejected"], &report["lines"]),
        (&json!(2), &json!(4), &json!(7)),
        "{report}"
    );
    let good = app
        .request(Method::GET, "/metadata/good2", None)
        .await
        .unwrap();
    assert_eq!(good.json()["director"], "D", "a good line after bad ones");
    assert_absent(&app, "/metadata/bad", "a rejected line stored").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_is_refused_unread_when_not_ndjson_or_without_the_write_scope() {
    let app = common::movie_system();
    let as_json = Request::post("/metadata/import")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", app.bearer().unwrap()))
        .body(Bytes::from(movie_lines(0..1)))
        .unwrap();
    let status = app.send(as_json).await.unwrap().status;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "import as JSON");
    let anonymous = Request::post("/metadata/import")
        .header("content-type", NDJSON)
        .body(Bytes::from(movie_lines(0..1)))
        .unwrap();
    let status = app.send(anonymous).await.unwrap().status;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "import without a token");
    assert_absent(&app, "/metadata/m000000", "a refused import stored").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_mid_import_leaves_nothing_written_or_staged() {
    let system = common::movie_system();
    let app = &system.app;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, ErrorCode>>(4);
    let frames = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|frame| (frame, receiver))
    });
    let body: RequestBody = StreamBody::new(frames).boxed_unsync();
    let request = Request::post("/metadata/import")
        .header("content-type", NDJSON)
        .header("authorization", format!("Bearer {}", app.bearer().unwrap()))
        .body(body)
        .unwrap();
    let client = async move {
        // Enough lines for several staged batches, then the connection drops.
        for chunk in 0..30 {
            let lines = movie_lines(chunk * 100..(chunk + 1) * 100);
            sender
                .send(Ok(Frame::data(Bytes::from(lines))))
                .await
                .unwrap();
        }
        let reset = ErrorCode::P3(P3ErrorCode::ConnectionTerminated);
        sender.send(Err(reset)).await.unwrap();
    };
    let (response, ()) = tokio::join!(
        app.handle(request, spin_test_host::triggers::http::client::TEST_CLIENT),
        client
    );
    let response = TestResponse::read(response).await.unwrap();
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "the cut import");
    assert_absent(app, "/metadata/m000000", "a movie of the cut import").await;
    assert_eq!(staged_rows(system.root.path()), 0, "rows left staged");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_is_one_snapshot_whatever_is_written_while_it_is_read() {
    let app = common::movie_system();
    import(&app, movie_lines(0..3000)).await;
    let response = open_export(&app, "/metadata/export").await;
    let mut body = response.into_body();
    let first = first_chunk(&mut body).await;
    // Written after the export began: a movie after every exported one, and a delete.
    app.request(Method::PUT, "/metadata/zzz", Some(json!({"title": "Late"})))
        .await
        .unwrap();
    app.request(Method::DELETE, "/metadata/m002999", None)
        .await
        .unwrap();
    let rest = body.collect().await.expect("the rest").to_bytes();
    let lines = parse_lines(&[first.as_ref(), rest.as_ref()].concat());
    let ids = ids(&lines);
    assert_eq!(ids.len(), 3000, "movies exported");
    assert_eq!(
        ids.last().map(String::as_str),
        Some("m002999"),
        "deleted after the export began, still in it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_leaves_mid_export_is_logged_and_the_service_goes_on() {
    let app = common::movie_system();
    import(&app, movie_lines(0..3000)).await;
    let mut body = open_export(&app, "/metadata/export").await.into_body();
    first_chunk(&mut body).await;
    drop(body);
    let after = app
        .request(Method::GET, "/metadata/m000001", None)
        .await
        .unwrap();
    assert_eq!(after.status, StatusCode::OK, "a read after the client left");
    let log = app.log("metadata");
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while !app.log("metadata").contains("export.abandoned") {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no export.abandoned line in {log}"));
}

/// 100,000 movies in and out: the figures the README quotes come from the bench
/// (`cargo bench -p spin-test-host --bench bulk`); this asserts what must hold.
#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_thousand_movies_go_in_and_out_in_bounded_memory_with_the_first_line_early() {
    const MOVIES: usize = 100_000;
    let app = common::movie_system();
    let metadata = app.stats("metadata").expect("metadata");
    // A small round first: the memory a bulk request needs whatever its size.
    import(&app, movie_lines(0..1000)).await;
    export_lines(&app, "/metadata/export").await;
    let small = metadata.peak_memory_bytes();

    let body = movie_lines(0..MOVIES);
    let report = import(&app, body).await;
    assert_eq!(
        report.json()["movies"],
        json!(MOVIES),
        "{:?}",
        report.json()
    );
    let after_import = metadata.peak_memory_bytes();

    let statements_before = metadata.sqlite_statements();
    let response = open_export(&app, "/metadata/export").await;
    let mut body = response.into_body();
    let first = first_chunk(&mut body).await;
    let statements_at_first_byte = metadata.sqlite_statements() - statements_before;
    let pages = MOVIES / 500;
    assert!(
        statements_at_first_byte < pages / 4,
        "{statements_at_first_byte} statements ran before the first byte, of the {pages} pages"
    );
    let rest = body.collect().await.expect("the rest").to_bytes();
    let lines = parse_lines(&[first.as_ref(), rest.as_ref()].concat());
    assert_eq!(lines.len(), MOVIES, "movies exported");
    let after_export = metadata.peak_memory_bytes();
    eprintln!(
        "metadata peak memory: {small} bytes after 1,000 movies in and out; {after_import} after importing {MOVIES}; {after_export} after exporting them"
    );
    let bound = small + 2 * 1024 * 1024;
    assert!(
        after_export <= bound,
        "peak memory {after_export} bytes for {MOVIES} movies, against {small} for 1,000"
    );
}
