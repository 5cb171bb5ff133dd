//! Self-tests of the test host against `SPIN-FACTS.md`, with the probe component.

use super::common;

use common::stub::{self, Canned};
use http::{Method, StatusCode};
use spin_test_host::{App, AppOptions, InstanceLimits, TestResponse};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn probe_dir() -> PathBuf {
    common::repo_root().join("tests/fixtures/probe-app")
}

struct ProbeApp {
    app: App,
    _root: tempfile::TempDir,
}

fn load(variables: &[(&str, &str)], limits: InstanceLimits) -> anyhow::Result<ProbeApp> {
    let manifest = probe_dir().join("spin.toml");
    spin_test_host::build::build_once(&manifest)?;
    let root = tempfile::tempdir()?;
    let options = AppOptions {
        variables: variables
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        limits,
        storage_root: Some(root.path().to_owned()),
        ignore_environment: true,
        ..AppOptions::default()
    };
    let app = App::load(
        &manifest,
        Some(&probe_dir().join("runtime-config.toml")),
        options,
    )?;
    Ok(ProbeApp { app, _root: root })
}

fn probe(upstream: &str) -> ProbeApp {
    load(
        &[("who", "world"), ("upstream", upstream)],
        InstanceLimits::default(),
    )
    .expect("probe app loads")
}

async fn get(app: &App, path: &str) -> TestResponse {
    app.request(Method::GET, path, None).await.expect("request")
}

async fn text(app: &App, path: &str) -> String {
    String::from_utf8_lossy(&get(app, path).await.body).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exact_route_beats_a_wildcard_and_named_segments_are_passed_on() {
    let p = probe("http://127.0.0.1:9");
    let exact = get(&p.app, "/probe/exact").await.json();
    assert_eq!(exact["spin-raw-component-route"], "/probe/exact");
    let wildcard = get(&p.app, "/probe/other/thing?q=1").await.json();
    assert_eq!(wildcard["spin-raw-component-route"], "/probe/...");
    assert_eq!(wildcard["spin-component-route"], "/probe");
    assert_eq!(wildcard["spin-path-info"], "/other/thing");
    assert_eq!(wildcard["spin-matched-route"], "/probe/...");
    assert_eq!(wildcard["spin-base-path"], "/");
    assert_eq!(
        wildcard["spin-full-url"],
        "http://127.0.0.1:3000/probe/other/thing?q=1"
    );
    assert_eq!(
        wildcard["uri"],
        "http://127.0.0.1:3000/probe/other/thing?q=1"
    );
    assert_eq!(wildcard["spin-client-addr"], "127.0.0.1:50000");
    let named = get(&p.app, "/m/42/x/rest").await.json();
    assert_eq!(named["spin-path-match-id"], "42");
    assert_eq!(named["spin-path-info"], "/rest");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unrouted_path_is_404_with_an_empty_body() {
    let p = probe("http://127.0.0.1:9");
    let response = get(&p.app, "/nowhere").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert!(response.body.is_empty());
    assert_eq!(response.header("content-length"), Some("0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stores_open_only_when_granted_and_otherwise_deny_access() {
    let p = probe("http://127.0.0.1:9");
    assert_eq!(text(&p.app, "/probe/kv/cache").await, "ok Ok(Some([118]))");
    assert_eq!(text(&p.app, "/probe/sqlite/data").await, "ok Ok(1)");
    for path in [
        "/probe/kv/default",
        "/probe/kv/missing",
        "/probe/sqlite/other",
        "/probe/sqlite/default",
        "/probe/sqlite/missing",
    ] {
        assert_eq!(text(&p.app, path).await, "Error::AccessDenied", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_granted_an_undeclared_store_does_not_load() {
    let manifest = std::fs::read_to_string(probe_dir().join("spin.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let broken = manifest.replace(
        "key_value_stores = [\"cache\"]",
        "key_value_stores = [\"undeclared\"]",
    );
    std::fs::write(dir.path().join("spin.toml"), broken).unwrap();
    let error = App::load(
        &dir.path().join("spin.toml"),
        Some(&probe_dir().join("runtime-config.toml")),
        AppOptions::default(),
    );
    assert!(error.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn variables_render_templates_and_undeclared_ones_are_undefined() {
    let p = probe("http://127.0.0.1:9");
    assert_eq!(text(&p.app, "/probe/var/greeting").await, "ok hello world");
    assert_eq!(
        text(&p.app, "/probe/var/nope").await,
        "Error::Undefined(\"no variable for \\\"probe\\\".\\\"nope\\\"\")"
    );
    assert!(
        load(&[], InstanceLimits::default()).is_err(),
        "a required variable without value must stop the load"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn outbound_requests_go_only_to_allowed_hosts_rendered_from_templates() {
    let upstream = stub::start(Canned::json(200, serde_json::json!({"up": true}))).await;
    let other = stub::start(Canned::json(200, serde_json::json!({"other": true}))).await;
    let p = probe(&upstream.url());
    let allowed = text(&p.app, &format!("/probe/fetch?url={}/x", upstream.url())).await;
    assert_eq!(allowed, "status 200 {\"up\":true}");
    let denied = text(&p.app, &format!("/probe/fetch?url={}/x", other.url())).await;
    assert_eq!(denied, "ErrorCode::HttpRequestDenied");
    assert_eq!(other.hits(), 0);
    let not_granted = text(&p.app, "/probe/fetch?url=http://rating.spin.internal/x").await;
    assert_eq!(not_granted, "ErrorCode::HttpRequestDenied");
}

#[tokio::test(flavor = "multi_thread")]
async fn service_chaining_reaches_private_components_with_spins_headers() {
    let p = probe("http://127.0.0.1:9");
    let body = text(
        &p.app,
        "/probe/fetch?url=http://hidden.spin.internal/deep/path?x=1",
    )
    .await;
    let json: serde_json::Value =
        serde_json::from_str(body.trim_start_matches("status 200 ")).unwrap();
    assert_eq!(json["spin-path-info"], "/deep/path");
    assert_eq!(json["spin-matched-route"], "/...");
    assert_eq!(json["spin-component-route"], "");
    assert_eq!(json["spin-client-addr"], "0.0.0.0:0");
    assert_eq!(json["uri"], "http://hidden.spin.internal/deep/path?x=1");
    // `exact` has no allowed hosts: a chained request into it cannot go further.
    let nested = text(
        &p.app,
        "/probe/fetch?url=http://exact.spin.internal/fetch%3Furl%3Dhttp://hidden.spin.internal/",
    )
    .await;
    assert_eq!(nested, "status 200 ErrorCode::HttpRequestDenied");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_is_a_500_with_an_empty_body_and_the_next_request_gets_a_new_instance() {
    let p = probe("http://127.0.0.1:9");
    assert_eq!(text(&p.app, "/probe/count").await, "1");
    let response = get(&p.app, "/probe/panic").await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.body.is_empty());
    assert_eq!(response.header("content-length"), Some("0"));
    assert_eq!(
        text(&p.app, "/probe/count").await,
        "1",
        "a fresh instance starts counting again"
    );
    assert!(
        p.app.log("probe").contains("the probe was asked to panic"),
        "{}",
        p.app.log("probe")
    );
}

/// Two requests wait on a slow upstream; a third panics on the same instance. Whether the
/// pool puts all three on one instance depends on timing (as in Spin), so the scenario is
/// repeated until it does; the assertion is about what happens then.
#[tokio::test(flavor = "multi_thread")]
async fn a_panic_kills_the_requests_in_flight_on_the_same_instance() {
    let slow = stub::start(Canned {
        delay: Duration::from_secs(5),
        ..Canned::json(200, serde_json::json!(1))
    })
    .await;
    for _attempt in 0..5 {
        let p = probe(&slow.url());
        assert_eq!(text(&p.app, "/probe/count").await, "1", "warm instance");
        let before = slow.hits();
        let hits_reach = |n: usize| {
            let slow = &slow;
            async move {
                while slow.hits() < before + n {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        };
        let started = Instant::now();
        let path = format!("/probe/fetch?url={}/slow", slow.url());
        // Requests arrive one after another, as from real clients, so the instance waiting on
        // I/O can take the next one (Spin's concurrent reuse).
        let second = async {
            hits_reach(1).await;
            get(&p.app, &path).await
        };
        let panic = async {
            hits_reach(2).await;
            get(&p.app, "/probe/panic").await
        };
        let (first, second, panicked) =
            futures::future::join3(get(&p.app, &path), second, panic).await;
        if p.app.stats("probe").map(|s| s.instantiated()) != Some(1) {
            continue;
        }
        assert_eq!(panicked.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(first.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(second.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the waiting requests died with the instance"
        );
        return;
    }
    panic!("the three requests never shared an instance");
}

#[tokio::test(flavor = "multi_thread")]
async fn instances_are_reused_up_to_the_limit_and_dropped_when_idle() {
    let limits = InstanceLimits {
        max_reuse: 3,
        max_concurrent: 16,
        idle_timeout: Duration::from_millis(300),
    };
    let p = load(&[("who", "x")], limits).unwrap();
    let mut counts = Vec::new();
    for _ in 0..5 {
        counts.push(text(&p.app, "/probe/count").await);
    }
    assert_eq!(counts, ["1", "2", "3", "1", "2"]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        text(&p.app, "/probe/count").await,
        "1",
        "an idle instance is dropped"
    );

    let fresh = load(&[("who", "x")], InstanceLimits::NO_REUSE).unwrap();
    for _ in 0..3 {
        assert_eq!(text(&fresh.app, "/probe/count").await, "1");
    }
    assert_eq!(fresh.app.stats("probe").map(|s| s.instantiated()), Some(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_speaks_http1_and_h2c() {
    let p = probe("http://127.0.0.1:9");
    let server = p.app.serve().await.unwrap();
    let url = format!("{}/probe/exact", server.url());
    let http1 = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(http1.version(), reqwest::Version::HTTP_11);
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2.get(&url).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["spin-raw-component-route"], "/probe/exact");
    assert!(
        json["spin-client-addr"]
            .as_str()
            .unwrap_or_default()
            .starts_with("127.0.0.1:")
    );
}
