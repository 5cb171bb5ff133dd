//! How each database keeps its data (`docs/storage.md`): the journal mode and synchronous level
//! the components' own connections run with after their migrations, on a fresh file and on a
//! file written before the databases moved to write-ahead logging. The host runs no pragma of
//! its own; it only reads the guest connections' settings.

use super::common;
use http::{Method, StatusCode};
use serde_json::json;
use spin_test_host::sqlite::ConnectionSettings;
use spin_test_host::{App, AppOptions, InstanceLimits, TestResponse};
use std::path::Path;
use std::time::Duration;

/// Instances kept while a test reads their connections' settings, however slow the machine.
fn patient() -> AppOptions {
    AppOptions {
        limits: InstanceLimits {
            idle_timeout: Duration::from_secs(120),
            ..InstanceLimits::default()
        },
        ..AppOptions::default()
    }
}

/// The settings of `component`'s open connections, as `(label, journal_mode, synchronous)`.
fn settings(app: &App, component: &str) -> Vec<(String, String, i64)> {
    let stats = app.stats(component).expect("component exists");
    stats
        .sqlite_connections
        .settings()
        .into_iter()
        .map(
            |ConnectionSettings {
                 label,
                 journal_mode,
                 synchronous,
             }| (label, journal_mode, synchronous),
        )
        .collect()
}

/// Writes `m1` and one rating of it, so both databases are opened and migrated.
async fn write_one_of_each(app: &App) {
    for (path, body) in [
        ("/metadata/m1", json!({"title": "Stored"})),
        ("/ratings/movie/m1/users/u1", json!({"value": 4})),
    ] {
        let response = app.request(Method::PUT, path, Some(body)).await.unwrap();
        assert!(
            response.status.is_success(),
            "PUT {path}: {}",
            response.status
        );
    }
}

fn journal_mode_of_file(file: &Path) -> String {
    rusqlite::Connection::open(file)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap()
}

/// Drops `app` and waits until its instances, idle, have closed every connection: only then
/// may another process change a file's journal mode.
async fn stop(app: App) {
    let stats: Vec<_> = ["metadata", "rating"]
        .iter()
        .map(|component| app.stats(component).expect("component exists"))
        .collect();
    drop(app);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while stats.iter().any(|s| s.sqlite_connections.open_files() > 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "connections still open 30 s after the app was dropped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A storage root whose files hold `m1` and its rating in SQLite's rollback journal, as every
/// database was before write-ahead logging: written by the app, then switched back.
async fn rollback_journal_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let app = common::load_in(root.path(), AppOptions::default());
    write_one_of_each(&app).await;
    stop(app).await;
    for file in ["metadata.db", "ratings.db"] {
        let path = root.path().join(".spin").join(file);
        let mode: String = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0))
            .unwrap();
        assert_eq!(
            mode, "delete",
            "{file} switched back to the rollback journal"
        );
    }
    root
}

/// The settings of `component`'s connections after the first writes to fresh files.
async fn settings_on_fresh_files(component: &str) -> Vec<(String, String, i64)> {
    let app = common::movie_system_with(patient());
    write_one_of_each(&app).await;
    settings(&app, component)
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_fresh_file_metadata_runs_in_wal_with_full_sync() {
    assert_eq!(
        settings_on_fresh_files("metadata").await,
        [("metadata".to_owned(), "wal".to_owned(), 2)],
        "metadata's connections after its first write"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_fresh_file_ratings_run_in_wal_with_normal_sync() {
    assert_eq!(
        settings_on_fresh_files("rating").await,
        [("ratings".to_owned(), "wal".to_owned(), 1)],
        "rating's connections after its first write"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn movies_counts_run_in_wal_with_normal_sync() {
    let app = common::movie_system_with(patient());
    write_one_of_each(&app).await;
    let view = common::get_uncached(&app, "/movies/m1").await;
    assert_eq!(view.status, http::StatusCode::OK, "GET /movies/m1");
    assert_eq!(
        settings(&app, "movie"),
        [("movie".to_owned(), "wal".to_owned(), 1)],
        "movie's connections after its first composed view"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn auths_clients_run_in_wal_with_full_sync() {
    let app = common::movie_system_with(patient());
    let form = "grant_type=client_credentials&client_id=nobody&client_secret=x";
    let request = http::Request::post("/auth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(bytes::Bytes::from(form))
        .unwrap();
    let refused = app.send(request).await.unwrap();
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "POST /auth/token");
    assert_eq!(
        settings(&app, "auth"),
        [("auth".to_owned(), "wal".to_owned(), 2)],
        "auth's connections after its first token request"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_journal_file_is_switched_to_wal_by_the_first_connection() {
    let root = rollback_journal_root().await;
    let app = common::load_in(root.path(), patient());
    let response = app
        .request(Method::GET, "/ratings/movie/m1", None)
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK, "GET /ratings/movie/m1");
    let response = app
        .request(Method::GET, "/metadata/m1", None)
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK, "GET /metadata/m1");
    assert_eq!(
        (settings(&app, "metadata"), settings(&app, "rating")),
        (
            vec![("metadata".to_owned(), "wal".to_owned(), 2)],
            vec![("ratings".to_owned(), "wal".to_owned(), 1)]
        ),
        "connections of the first reads of files in the rollback journal"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_switch_to_wal_is_kept_in_the_file() {
    let root = rollback_journal_root().await;
    let app = common::load_in(root.path(), AppOptions::default());
    write_one_of_each(&app).await;
    stop(app).await;
    let modes: Vec<String> = ["metadata.db", "ratings.db"]
        .iter()
        .map(|file| journal_mode_of_file(&root.path().join(".spin").join(file)))
        .collect();
    assert_eq!(
        modes,
        ["wal", "wal"],
        "journal modes of the files read by a new connection after the app stopped"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_to_wal_keeps_the_data() {
    let root = rollback_journal_root().await;
    let app = common::load_in(root.path(), AppOptions::default());
    let response = app
        .request(Method::GET, "/ratings/movie/m1", None)
        .await
        .unwrap();
    assert_eq!(
        (response.status, response.json()["average"].clone()),
        (StatusCode::OK, json!(4.0)),
        "GET /ratings/movie/m1 after the switch"
    );
}

/// Holds the ratings database's write lock from another connection (another instance, or
/// another process) for `held`.
fn hold_write_lock(file: std::path::PathBuf, held: Duration) -> std::thread::JoinHandle<()> {
    let (locked, wait) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let db = rusqlite::Connection::open(file).unwrap();
        db.execute_batch("BEGIN IMMEDIATE").unwrap();
        locked.send(()).unwrap();
        std::thread::sleep(held);
        db.execute_batch("COMMIT").unwrap();
    });
    wait.recv().expect("the lock is taken");
    holder
}

/// PUTs a second rating of `m1` while another connection holds the ratings database's write
/// lock for `held`; returns the answer and how many statements the rating component ran for it.
async fn rate_while_locked(app: &common::MovieSystem, held: Duration) -> (TestResponse, usize) {
    let rating = app.stats("rating").expect("component exists");
    let before = rating.sqlite_statements();
    let holder = hold_write_lock(app.root.path().join(".spin/ratings.db"), held);
    let response = app
        .request(
            Method::PUT,
            "/ratings/movie/m1/users/u2",
            Some(json!({"value": 2})),
        )
        .await
        .unwrap();
    holder.join().expect("the holder commits");
    (response, rating.sqlite_statements() - before)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_that_finds_the_database_locked_tries_again_until_it_is_free() {
    let app = common::movie_system_with(patient());
    write_one_of_each(&app).await;
    let (response, statements) = rate_while_locked(&app, Duration::from_millis(300)).await;
    // SQLite's own busy handler would have waited inside one statement; the kit's waits show
    // as tries of the statement, the connection free between them.
    assert_eq!(
        (response.status, statements > 1),
        (StatusCode::CREATED, true),
        "PUT /ratings/movie/m1/users/u2 while another connection held the lock for 300 ms, \
         and whether it took more than one try"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_that_finds_the_database_locked_for_five_seconds_is_a_503_that_stored_nothing() {
    let app = common::movie_system_with(patient());
    write_one_of_each(&app).await;
    let (response, _) = rate_while_locked(&app, Duration::from_secs(7)).await;
    assert_eq!(
        (response.status, response.header("retry-after")),
        (StatusCode::SERVICE_UNAVAILABLE, Some("1")),
        "PUT /ratings/movie/m1/users/u2 while another connection held the lock for 7 s"
    );
    let aggregate = app
        .request(Method::GET, "/ratings/movie/m1", None)
        .await
        .unwrap();
    assert_eq!(
        aggregate.json()["count"],
        json!(1),
        "ratings of m1 after the refused write"
    );
}

/// A statement the database does not answer (a libSQL server under write contention on one
/// row was seen to hold statements for 10 to 20 s) ends its request with a 503 and
/// `Retry-After` once the statement budget (6 s) is spent, instead of hanging; the next
/// request runs on another connection.
#[tokio::test(flavor = "multi_thread")]
async fn a_statement_without_an_answer_is_a_503_once_its_budget_is_spent() {
    let app = common::movie_system();
    let rating = app.stats("rating").expect("rating");
    let pause = rating.pause_statement("INSERT INTO ratings (", 1);
    let started = std::time::Instant::now();
    let stalled = app
        .request(
            Method::PUT,
            "/ratings/movie/m1/users/u1",
            Some(json!({"value": 3})),
        )
        .await
        .expect("the app answers");
    let took = started.elapsed();
    common::assert_problem(
        &stalled,
        StatusCode::SERVICE_UNAVAILABLE,
        "PUT whose statement gets no answer",
    );
    assert!(
        stalled.header("retry-after").is_some()
            && took >= Duration::from_secs(6)
            && took < Duration::from_secs(9),
        "503 with Retry-After after the 6 s budget, not {took:?}"
    );
    let _ = pause.release.send(());
    let next = app
        .request(
            Method::PUT,
            "/ratings/movie/m1/users/u2",
            Some(json!({"value": 4})),
        )
        .await
        .expect("the app answers");
    assert_eq!(
        next.status,
        StatusCode::CREATED,
        "the next PUT: {}",
        next.json()
    );
}
