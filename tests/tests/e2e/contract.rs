//! Schemathesis against `docs/openapi.json`, over the app served by the test host on loopback
//! with an editor's token: every operation, every check (server errors, status codes, content
//! types, headers, response schemas, schema-invalid requests rejected, schema-valid ones
//! accepted, stateful sequences), with the exceptions `tests/contract/schemathesis.toml` names.
//!
//! Needs `schemathesis` (`pip install -r tests/contract/requirements.txt`; `.ci/run` does), found
//! on `PATH` or at `$SCHEMATHESIS`.

use super::common::{self, repo_root};
use http::{Method, StatusCode};
use serde_json::json;
use spin_test_host::AppOptions;
use spin_test_host::movie_system::mint;
use spin_test_host::redis_server::RedisServer;
use std::process::Command;

fn schemathesis() -> std::path::PathBuf {
    spin_test_host::tools::SCHEMATHESIS
        .find()
        .unwrap_or_else(|| "schemathesis".into())
}

/// How many operations `docs/openapi.json` has.
fn documented_operations() -> usize {
    let text =
        std::fs::read_to_string(repo_root().join("docs/openapi.json")).expect("the document");
    let document: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| {
            item.as_object()
                .map_or(0, |item| item.keys().filter(|k| *k != "parameters").count())
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_failure_in_any_operation() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    spin_test_host::require!(spin_test_host::tools::SCHEMATHESIS);
    // One client sends everything: no rate limits. The event log is up, as in a deployment
    // that offers `POST /ratings/events` (without it, that route is a 503 by design).
    let event_log = RedisServer::start();
    let app = common::movie_system_with(AppOptions {
        variables: [
            ("write_rate_limit", "0"),
            ("view_rate_limit", "0"),
            ("token_rate_limit", "0"),
            ("events_redis_url", &event_log.url()),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .into(),
        ..AppOptions::default()
    });
    let seeded = app
        .request(
            Method::PUT,
            "/metadata/tt0068646",
            Some(json!({"title": "The Godfather"})),
        )
        .await
        .unwrap();
    assert_eq!(
        seeded.status,
        StatusCode::CREATED,
        "seeding the movie the views ask for"
    );
    let server = app.serve().await.expect("serve");
    let token = mint(&service_kit::auth::sign::Issue {
        issuer: "movie-system-auth",
        audience: "movie-system",
        subject: "schemathesis",
        scope: "metadata:write ratings:write ratings:admin",
        id: "schemathesis",
        now: chrono::Utc::now(),
        lifetime: chrono::Duration::hours(1),
    });
    let root = repo_root();
    // Schemathesis keeps a cache in its working directory: a scratch one, not the repository.
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let run = tokio::task::spawn_blocking(move || {
        Command::new(schemathesis())
            .current_dir(scratch.path())
            .env("MOVIE_SYSTEM_TOKEN", token)
            // NDJSON bodies (tests/contract/hooks.py).
            .env("SCHEMATHESIS_HOOKS", "hooks")
            .env("PYTHONPATH", root.join("tests/contract"))
            .arg("--config-file")
            .arg(root.join("tests/contract/schemathesis.toml"))
            .arg("run")
            .arg(root.join("docs/openapi.json"))
            .args(["--url", &server.url(), "--workers", "1", "--no-color"])
            .output()
    })
    .await
    .expect("the run finishes");
    let output = run.unwrap_or_else(|error| {
        panic!(
            "schemathesis could not be started ({error}): install it with \
             `pip install -r tests/contract/requirements.txt` or set SCHEMATHESIS"
        )
    });
    let report = String::from_utf8_lossy(&output.stdout);
    let summary = report
        .lines()
        .filter(|line| line.contains("generated"))
        .collect::<Vec<_>>();
    println!("schemathesis: {}", summary.join(" | "));
    assert!(
        output.status.success(),
        "schemathesis failed:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tested = format!("Tested: {}", documented_operations());
    assert!(
        report.contains(&tested) && !report.contains("failure"),
        "every operation tested ({tested}), none failed:\n{report}"
    );
}
