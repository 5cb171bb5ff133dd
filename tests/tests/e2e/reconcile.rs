//! Rating's reconciliation job under its lease, through the host on real SQLite: drift
//! repaired, one run at a time, a paused holder fenced off by the database, and a run cut
//! off resumed from its checkpoint.

use super::common;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use spin_test_host::TestResponse;
use spin_test_host::movie_system::token;
use std::path::Path;
use std::time::Duration;

/// The movie system with records `r0`..`r{n-1}`, each rated 4 by `u1` and 2 by `u2`.
async fn rated(n: usize) -> common::MovieSystem {
    let system = common::movie_system();
    for i in 0..n {
        for (user, value) in [("u1", 4), ("u2", 2)] {
            let path = format!("/ratings/movie/r{i}/users/{user}");
            let put = system
                .request(Method::PUT, &path, Some(json!({"value": value})))
                .await
                .unwrap();
            assert_eq!(put.status, StatusCode::CREATED, "PUT {path}");
        }
    }
    system
}

fn ratings_db(root: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(root.join(".spin/ratings.db")).expect("the ratings database")
}

/// Makes `r{i}`'s aggregate wrong, as a bad restore would.
fn drift(root: &Path, i: usize) {
    let changed = ratings_db(root)
        .execute(
            "UPDATE rating_totals SET total = total + 10 WHERE record_type = 'movie' AND record_id = ?1",
            [format!("r{i}")],
        )
        .expect("drift written");
    assert_eq!(changed, 1, "drift of r{i}");
}

async fn average(app: &spin_test_host::App, i: usize) -> Value {
    let path = format!("/ratings/movie/r{i}");
    app.request(Method::GET, &path, None).await.unwrap().json()["average"].clone()
}

async fn reconcile(app: &spin_test_host::App, query: &str) -> TestResponse {
    app.request(Method::POST, &format!("/jobs/reconcile{query}"), None)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_repairs_wrong_missing_and_orphaned_aggregates() {
    let system = rated(12).await;
    let root = system.root.path();
    drift(root, 3);
    let db = ratings_db(root);
    db.execute("DELETE FROM rating_totals WHERE record_id = 'r7'", [])
        .unwrap();
    db.execute(
        "INSERT INTO rating_totals VALUES ('movie', 'orphan', 5, 1)",
        [],
    )
    .unwrap();
    let run = reconcile(&system, "?chunk=5").await;
    assert_eq!(run.status, StatusCode::OK, "{:?}", run.json());
    let report = run.json();
    assert_eq!(
        (
            &report["status"],
            &report["records"],
            &report["repaired"],
            &report["chunks"]
        ),
        (&json!("complete"), &json!(13), &json!(3), &json!(3)),
        "{report}"
    );
    assert_eq!(
        (average(&system, 3).await, average(&system, 7).await),
        (json!(3.0), json!(3.0))
    );
    let orphan = system
        .request(Method::GET, "/ratings/movie/orphan", None)
        .await
        .unwrap();
    assert_eq!(
        orphan.status,
        StatusCode::NOT_FOUND,
        "the orphaned aggregate"
    );
    let again = reconcile(&system, "").await.json();
    assert_eq!(
        again["repaired"],
        json!(0),
        "a second run finds nothing: {again}"
    );
    let log = system.log("rating");
    assert!(
        log.lines().any(
            |line| line.contains("\"event.name\":\"reconcile.finished\"")
                && line.contains("\"reconcile.repaired\":3")
        ),
        "a reconcile.finished line with the repairs: {log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_while_a_run_holds_the_lease_is_409_naming_the_holder_and_its_expiry() {
    let system = rated(3).await;
    let rating = system.stats("rating").unwrap();
    let pause = rating.pause_statement("BEGIN IMMEDIATE", 1);
    let first = reconcile(&system, "");
    let second = async {
        pause
            .arrived
            .await
            .expect("the first run reaches its chunk");
        let second = reconcile(&system, "").await;
        let _ = pause.release.send(());
        second
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(second.status, StatusCode::CONFLICT, "{:?}", second.json());
    let problem = second.json();
    assert_eq!(problem["holder"], first.json()["holder"], "{problem}");
    assert!(
        problem["expiresAt"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z')),
        "{problem}"
    );
    assert!(second.header("retry-after").is_some(), "Retry-After");
    assert_eq!(first.status, StatusCode::OK, "the holder's run");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_holder_whose_lease_was_taken_over_cannot_write() {
    let system = rated(10).await;
    let root = system.root.path();
    let rating = system.stats("rating").unwrap();
    // The first run stops before its second chunk, long enough for its lease to expire.
    let pause = rating.pause_statement("BEGIN IMMEDIATE", 2);
    let stale = reconcile(&system, "?chunk=5&leaseMs=1000");
    let takeover = async {
        pause
            .arrived
            .await
            .expect("the first run reaches its second chunk");
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let newer = reconcile(&system, "?chunk=50").await;
        // Drift in the stale run's second chunk, which it would repair if it could write.
        drift(root, 8);
        let _ = pause.release.send(());
        newer
    };
    let (stale, newer) = tokio::join!(stale, takeover);
    assert_eq!(
        newer.status,
        StatusCode::OK,
        "the newer run: {:?}",
        newer.json()
    );
    assert_eq!(
        stale.status,
        StatusCode::CONFLICT,
        "the stale run: {:?}",
        stale.json()
    );
    assert_eq!(
        average(&system, 8).await,
        json!(8.0),
        "the stale run's repair was refused"
    );
    let (token, checkpoint): (i64, Option<String>) = ratings_db(root)
        .query_row(
            "SELECT token, checkpoint FROM leases WHERE name = 'rating.reconcile'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (token, checkpoint),
        (2, None),
        "the lease as the newer run left it"
    );
    let detail = stale.json()["detail"].clone();
    assert!(
        detail.as_str().is_some_and(|d| d.contains("taken over")),
        "the stale run's answer: {detail}"
    );
    assert!(
        system
            .log("rating")
            .contains("\"event.name\":\"reconcile.superseded\""),
        "a reconcile.superseded line"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_cut_off_is_resumed_from_its_checkpoint_once_its_lease_expires() {
    let system = rated(10).await;
    let rating = system.stats("rating").unwrap();
    let pause = rating.pause_statement("BEGIN IMMEDIATE", 2);
    let cut = reconcile(&system, "?chunk=3&leaseMs=1000");
    let kill = async {
        pause
            .arrived
            .await
            .expect("the run reaches its second chunk");
        // The statement after the held BEGIN traps the instance: the run dies mid-chunk.
        rating.trap_at_statement(2);
        let _ = pause.release.send(());
    };
    let (cut, ()) = tokio::join!(cut, kill);
    assert_eq!(
        cut.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "the run that was cut off"
    );
    let early = reconcile(&system, "").await;
    assert_eq!(
        early.status,
        StatusCode::CONFLICT,
        "while the dead run's lease lasts"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resumed = reconcile(&system, "?chunk=3").await;
    let report = resumed.json();
    assert_eq!(resumed.status, StatusCode::OK, "{report}");
    assert_eq!(
        (&report["resumedFrom"], &report["records"]),
        (&json!("movie/r2"), &json!(7)),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_out_of_budget_answers_202_with_the_checkpoint() {
    let system = rated(6).await;
    let partial = reconcile(&system, "?chunk=2&budgetMs=100").await;
    // Each chunk takes far less than 100 ms here; a slow machine may need more chunks.
    assert!(
        partial.status == StatusCode::ACCEPTED || partial.status == StatusCode::OK,
        "{:?}",
        partial.json()
    );
    let mut report = partial.json();
    while report["status"] == "partial" {
        assert!(report["checkpoint"].is_string(), "{report}");
        report = reconcile(&system, "?chunk=2&budgetMs=100").await.json();
    }
    assert_eq!(report["status"], "complete", "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_job_needs_ratings_admin_and_checks_its_parameters() {
    let system = rated(1).await;
    let writer = token("someone", "ratings:write");
    let refused = system
        .request_as(Some(&writer), Method::POST, "/jobs/reconcile", None)
        .await
        .unwrap();
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "ratings:write only");
    let invalid = reconcile(&system, "?chunk=0&leaseMs=10").await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    let fields: Vec<Value> = invalid.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(fields, [json!("chunk"), json!("leaseMs")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ratings_export_streams_every_rating_to_an_admin_only() {
    let system = rated(4).await;
    let export = system
        .request(Method::GET, "/ratings/export", None)
        .await
        .unwrap();
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(export.header("content-type"), Some("application/x-ndjson"));
    let lines: Vec<Value> = export
        .body
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 8, "two ratings of four records");
    assert_eq!(
        lines[1],
        json!({"recordType": "movie", "recordId": "r0", "userId": "u2", "value": 2})
    );
    let writer = token("u1", "ratings:write");
    let refused = system
        .request_as(Some(&writer), Method::GET, "/ratings/export", None)
        .await
        .unwrap();
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "a user's token");
}
