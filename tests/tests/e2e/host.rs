//! Self-tests of the test host against what Spin was observed to do (`docs/spin-facts.md`),
//! with the probe component.

use super::common;

use common::stub::{self, Canned};
use http::{Method, StatusCode};
use spin_test_host::redis_server::RedisServer;
use spin_test_host::triggers::redis::{RedisListeners, Subscription};
use spin_test_host::{App, AppOptions, InstanceLimits, TestResponse};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn probe_dir() -> PathBuf {
    common::repo_root().join("tests/fixtures/probe-app")
}

struct ProbeApp {
    app: App,
    root: tempfile::TempDir,
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
    Ok(ProbeApp { app, root })
}

fn probe(upstream: &str) -> ProbeApp {
    load(
        &[("who", "world"), ("upstream", upstream)],
        InstanceLimits::default(),
    )
    .expect("probe app loads")
}

/// A probe app whose upstream is a port nobody listens on.
fn probe_alone() -> ProbeApp {
    probe("http://127.0.0.1:9")
}

async fn get(app: &App, path: &str) -> TestResponse {
    app.request(Method::GET, path, None)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e:#}"))
}

async fn text(app: &App, path: &str) -> String {
    String::from_utf8_lossy(&get(app, path).await.body).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exact_route_beats_a_wildcard() {
    let p = probe_alone();
    let exact = get(&p.app, "/probe/exact").await.json();
    assert_eq!(
        exact["spin-raw-component-route"], "/probe/exact",
        "GET /probe/exact: {exact}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wildcard_route_passes_spins_headers_and_an_absolute_uri() {
    let p = probe_alone();
    let seen = get(&p.app, "/probe/other/thing?q=1").await.json();
    let url = "http://127.0.0.1:3000/probe/other/thing?q=1";
    let expected = serde_json::json!({
        "spin-raw-component-route": "/probe/...",
        "spin-component-route": "/probe",
        "spin-path-info": "/other/thing",
        "spin-matched-route": "/probe/...",
        "spin-base-path": "/",
        "spin-full-url": url,
        "uri": url,
        "spin-client-addr": "127.0.0.1:50000",
    });
    for (name, value) in expected.as_object().into_iter().flatten() {
        assert_eq!(&seen[name], value, "{name} of GET /probe/other/thing?q=1");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn named_segments_are_passed_on_as_headers() {
    let p = probe_alone();
    let named = get(&p.app, "/m/42/x/rest").await.json();
    assert_eq!(
        (
            named["spin-path-match-id"].clone(),
            named["spin-path-info"].clone()
        ),
        (serde_json::json!("42"), serde_json::json!("/rest")),
        "GET /m/42/x/rest: {named}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unrouted_path_is_404_with_an_empty_body() {
    let p = probe_alone();
    let response = get(&p.app, "/nowhere").await;
    assert_eq!(
        (
            response.status,
            response.body.len(),
            response.header("content-length")
        ),
        (StatusCode::NOT_FOUND, 0, Some("0")),
        "GET /nowhere"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn spins_own_health_path_answers_ok_without_running_a_component() {
    let p = probe_alone();
    let before = p.app.stats("probe").map(|s| s.instantiated());
    let health = get(&p.app, "/.well-known/spin/health").await;
    assert_eq!(
        (
            health.status,
            health.body.as_ref(),
            health.header("content-length")
        ),
        (StatusCode::OK, b"OK".as_slice(), Some("2")),
        "GET /.well-known/spin/health"
    );
    assert_eq!(
        p.app.stats("probe").map(|s| s.instantiated()),
        before,
        "no instance ran"
    );
    let other = get(&p.app, "/.well-known/spin/nothing").await;
    assert_eq!(
        other.status,
        StatusCode::NOT_FOUND,
        "another path of Spin's own"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn granted_stores_open() {
    let p = probe_alone();
    assert_eq!(
        text(&p.app, "/probe/kv/cache").await,
        "ok Ok(Some([118]))",
        "GET /probe/kv/cache"
    );
    assert_eq!(
        text(&p.app, "/probe/sqlite/data").await,
        "ok Ok(1)",
        "GET /probe/sqlite/data"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attaching_another_file_to_a_granted_database_is_not_authorized() {
    let p = probe_alone();
    let elsewhere = p.root.path().join(".spin/other.db");
    let path = format!("/probe/sqlite/data/attach?file={}", elsewhere.display());
    assert_eq!(
        text(&p.app, &path).await,
        "ok Err(Error::Io(\"not authorized\"))",
        "GET {path}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attaching_an_in_memory_database_is_allowed() {
    let p = probe_alone();
    let path = "/probe/sqlite/data/attach?file=:memory:";
    assert_eq!(text(&p.app, path).await, "ok Ok(0)", "GET {path}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stores_not_granted_deny_access_whether_or_not_they_exist() {
    let p = probe_alone();
    for path in [
        "/probe/kv/default",
        "/probe/kv/missing",
        "/probe/sqlite/other",
        "/probe/sqlite/default",
        "/probe/sqlite/missing",
    ] {
        assert_eq!(
            text(&p.app, path).await,
            "Error::AccessDenied",
            "GET {path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_granted_an_undeclared_store_does_not_load() {
    spin_test_host::build::build_once(&probe_dir().join("spin.toml")).expect("the probe builds");
    let manifest = std::fs::read_to_string(probe_dir().join("spin.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = common::repo_root().join("target");
    let broken = manifest
        .replace("../../../target", &target.display().to_string())
        .replace(
            "key_value_stores = [\"cache\"]",
            "key_value_stores = [\"undeclared\"]",
        );
    std::fs::write(dir.path().join("spin.toml"), broken).unwrap();
    let options = AppOptions {
        variables: [("who".to_owned(), "x".to_owned())].into(),
        storage_root: Some(dir.path().to_owned()),
        ..AppOptions::default()
    };
    let loaded = App::load(
        &dir.path().join("spin.toml"),
        Some(&probe_dir().join("runtime-config.toml")),
        options,
    );
    let error = loaded.err().map(|e| format!("{e:#}")).unwrap_or_default();
    assert!(
        error.contains("undeclared"),
        "loading with an undeclared store: {error:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_variable_renders_its_template() {
    let p = probe_alone();
    assert_eq!(
        text(&p.app, "/probe/var/greeting").await,
        "ok hello world",
        "GET /probe/var/greeting"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undeclared_variable_is_undefined_with_spins_message() {
    let p = probe_alone();
    assert_eq!(
        text(&p.app, "/probe/var/nope").await,
        "Error::Undefined(\"no variable for \\\"probe\\\".\\\"nope\\\"\")",
        "GET /probe/var/nope"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_required_variable_without_a_value_stops_the_load() {
    assert!(
        load(&[], InstanceLimits::default()).is_err(),
        "loading the probe app without `who`"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outbound_request_reaches_an_allowed_host_rendered_from_a_template() {
    let upstream = stub::start(Canned::json(200, serde_json::json!({"up": true}))).await;
    let p = probe(&upstream.url());
    let path = format!("/probe/fetch?url={}/x", upstream.url());
    assert_eq!(
        text(&p.app, &path).await,
        "status 200 {\"up\":true}",
        "GET {path}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outbound_request_to_another_host_is_denied_without_leaving_the_host() {
    let upstream = stub::start(Canned::json(200, serde_json::json!({"up": true}))).await;
    let other = stub::start(Canned::json(200, serde_json::json!({"other": true}))).await;
    let p = probe(&upstream.url());
    let path = format!("/probe/fetch?url={}/x", other.url());
    assert_eq!(
        (text(&p.app, &path).await.as_str(), other.hits()),
        ("ErrorCode::HttpRequestDenied", 0),
        "GET {path}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chaining_to_a_component_not_granted_is_denied() {
    let p = probe_alone();
    let path = "/probe/fetch?url=http://rating.spin.internal/x";
    assert_eq!(
        text(&p.app, path).await,
        "ErrorCode::HttpRequestDenied",
        "GET {path}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn service_chaining_reaches_private_components_with_spins_headers() {
    let p = probe_alone();
    let path = "/probe/fetch?url=http://hidden.spin.internal/deep/path?x=1";
    let body = text(&p.app, path).await;
    let seen: serde_json::Value =
        serde_json::from_str(body.trim_start_matches("status 200 ")).unwrap_or_default();
    let expected = serde_json::json!({
        "spin-path-info": "/deep/path",
        "spin-matched-route": "/...",
        "spin-component-route": "",
        "spin-client-addr": "0.0.0.0:0",
        "uri": "http://hidden.spin.internal/deep/path?x=1",
    });
    for (name, value) in expected.as_object().into_iter().flatten() {
        assert_eq!(&seen[name], value, "{name} of GET {path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chained_component_keeps_its_own_outbound_grants() {
    let p = probe_alone();
    // `exact` has no allowed hosts: a chained request into it cannot go further.
    let path =
        "/probe/fetch?url=http://exact.spin.internal/fetch%3Furl%3Dhttp://hidden.spin.internal/";
    assert_eq!(
        text(&p.app, path).await,
        "status 200 ErrorCode::HttpRequestDenied",
        "GET {path}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_is_a_500_with_an_empty_body() {
    let p = probe_alone();
    let response = get(&p.app, "/probe/panic").await;
    assert_eq!(
        (
            response.status,
            response.body.len(),
            response.header("content-length")
        ),
        (StatusCode::INTERNAL_SERVER_ERROR, 0, Some("0")),
        "GET /probe/panic"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_panic_the_next_request_gets_a_new_instance() {
    let p = probe_alone();
    assert_eq!(
        text(&p.app, "/probe/count").await,
        "1",
        "first GET /probe/count"
    );
    get(&p.app, "/probe/panic").await;
    assert_eq!(
        text(&p.app, "/probe/count").await,
        "1",
        "GET /probe/count after GET /probe/panic starts counting again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_message_goes_to_the_components_log() {
    let p = probe_alone();
    get(&p.app, "/probe/panic").await;
    let log = p.app.log("probe");
    assert!(
        log.contains("the probe was asked to panic"),
        "log after GET /probe/panic: {log}"
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
        let statuses = (first.status, second.status, panicked.status);
        let failed = StatusCode::INTERNAL_SERVER_ERROR;
        assert_eq!(
            (statuses, started.elapsed() < Duration::from_secs(4)),
            ((failed, failed, failed), true),
            "two GET {path} in flight when GET /probe/panic ran on their instance"
        );
        return;
    }
    panic!("the three requests never shared an instance");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_serves_up_to_its_reuse_limit() {
    let limits = InstanceLimits {
        max_reuse: 3,
        ..InstanceLimits::default()
    };
    let p = load(&[("who", "x")], limits).unwrap();
    let mut counts = Vec::new();
    for _ in 0..5 {
        counts.push(text(&p.app, "/probe/count").await);
    }
    assert_eq!(
        counts,
        ["1", "2", "3", "1", "2"],
        "five GET /probe/count, reuse limit 3"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_instance_is_dropped() {
    let limits = InstanceLimits {
        idle_timeout: Duration::from_millis(300),
        ..InstanceLimits::default()
    };
    let p = load(&[("who", "x")], limits).unwrap();
    text(&p.app, "/probe/count").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        text(&p.app, "/probe/count").await,
        "1",
        "GET /probe/count after 600 ms idle, idle timeout 300 ms"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_reuse_every_request_gets_a_new_instance() {
    let fresh = load(&[("who", "x")], InstanceLimits::NO_REUSE).unwrap();
    for _ in 0..3 {
        assert_eq!(
            text(&fresh.app, "/probe/count").await,
            "1",
            "GET /probe/count"
        );
    }
    assert_eq!(
        fresh.app.stats("probe").map(|s| s.instantiated()),
        Some(3),
        "instances after three GET /probe/count"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_speaks_http1() {
    let p = probe_alone();
    let server = p.app.serve().await.unwrap();
    let url = format!("{}/probe/exact", server.url());
    let response = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11, "GET {url}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_speaks_h2c_with_the_clients_address() {
    let p = probe_alone();
    let server = p.app.serve().await.unwrap();
    let url = format!("{}/probe/exact", server.url());
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2.get(&url).send().await.unwrap();
    let version = response.version();
    let json: serde_json::Value = response.json().await.unwrap();
    let client = json["spin-client-addr"].as_str().unwrap_or_default();
    assert_eq!(
        (version, client.starts_with("127.0.0.1:")),
        (reqwest::Version::HTTP_2, true),
        "GET {url} over h2c: {json}"
    );
}

/// The smallest valid component: no imports and no exports, so no `wasi:http/handler`.
const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

/// An app whose one component is [`EMPTY_COMPONENT`] under `trigger`, in `dir`.
fn app_with_empty_component(dir: &Path, trigger: &str) -> anyhow::Result<App> {
    std::fs::write(dir.join("empty.wasm"), EMPTY_COMPONENT)?;
    let manifest = format!(
        "spin_manifest_version = 2\n\
         [application]\nname = \"t\"\n\
         [variables]\nredis_host = {{ default = \"127.0.0.1\" }}\n\
         redis_channel = {{ default = \"ratings\" }}\n\
         {trigger}\n\
         [component.quiet]\nsource = \"empty.wasm\"\n"
    );
    std::fs::write(dir.join("spin.toml"), manifest)?;
    App::load(&dir.join("spin.toml"), None, AppOptions::default())
}

const REDIS_TRIGGER: &str = "[application.trigger.redis]\n\
     address = \"redis://{{ redis_host }}:6379\"\n\
     [[trigger.redis]]\nchannel = \"{{ redis_channel }}\"\ncomponent = \"quiet\"";

#[tokio::test(flavor = "multi_thread")]
async fn a_component_without_wasi_http_loads_under_a_redis_trigger() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = app_with_empty_component(dir.path(), REDIS_TRIGGER);
    assert!(
        loaded.is_ok(),
        "loading a Redis-triggered component: {:?}",
        loaded.err()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_subscription_renders_its_address_and_channel_templates() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_empty_component(dir.path(), REDIS_TRIGGER).unwrap();
    let expected = Subscription {
        address: "redis://127.0.0.1:6379".into(),
        channel: "ratings".into(),
        component: "quiet".into(),
    };
    assert_eq!(
        app.redis_subscriptions(),
        [expected],
        "subscriptions of {REDIS_TRIGGER}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_without_wasi_http_under_an_http_trigger_stops_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let trigger = "[[trigger.http]]\nroute = \"/q/...\"\ncomponent = \"quiet\"";
    let error = app_with_empty_component(dir.path(), trigger)
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(
        error.contains("does not export wasi:http/handler"),
        "loading an HTTP-triggered component without the export: {error:?}"
    );
}

/// Spin applies `wasi:http` request options to calls over the network: a first-byte timeout
/// ends a call to a slow upstream with `ConnectionReadTimeout`.
#[tokio::test(flavor = "multi_thread")]
async fn a_network_call_honours_the_first_byte_timeout_with_spins_error_code() {
    let slow = stub::start(Canned {
        delay: Duration::from_secs(3),
        ..Canned::json(200, serde_json::json!(1))
    })
    .await;
    let p = probe(&slow.url());
    let started = Instant::now();
    let answer = text(
        &p.app,
        &format!("/probe/fetch?url={}/slow&first_byte_ms=100", slow.url()),
    )
    .await;
    assert!(
        answer.contains("ConnectionReadTimeout") && started.elapsed() < Duration::from_secs(2),
        "probe fetch of a 3 s upstream with a 100 ms first-byte timeout: {answer:?} after {:?}",
        started.elapsed()
    );
}

/// Spin answers a service-chained call in-process and awaits the target with no connect or
/// first-byte timeout, so the same option does not cut a slow chained call.
#[tokio::test(flavor = "multi_thread")]
async fn a_chained_call_ignores_the_first_byte_timeout() {
    let p = probe_alone();
    let answer = text(
        &p.app,
        "/probe/fetch?url=http://hidden.spin.internal/slow-400&first_byte_ms=50",
    )
    .await;
    assert_eq!(
        answer, "status 200 slept 400 ms",
        "chained call to a 400 ms handler with a 50 ms first-byte timeout"
    );
}

/// An app whose one component is the probe, subscribed to channel `c` of `redis`.
async fn probe_subscribed(dir: &Path, redis: &RedisServer) -> (App, RedisListeners) {
    let manifest = format!(
        "spin_manifest_version = 2\n\
         [application]\nname = \"t\"\n\
         [application.trigger.redis]\naddress = \"{}\"\n\
         [[trigger.redis]]\nchannel = \"c\"\ncomponent = \"probe\"\n\
         [component.probe]\nsource = \"{}\"\n",
        redis.url(),
        common::probe::wasm().display()
    );
    std::fs::write(dir.join("spin.toml"), manifest).unwrap();
    let app = App::load(&dir.join("spin.toml"), None, AppOptions::default()).unwrap();
    let listeners = app.start_redis().await.expect("the Redis trigger starts");
    (app, listeners)
}

/// Publishes each message on channel `c`, then waits until the trigger has handled them all.
async fn deliver(redis: &RedisServer, listeners: &RedisListeners, messages: &[&str]) {
    let before = listeners.handled();
    for message in messages {
        let receivers: i64 = redis.command("PUBLISH", &["c", message]);
        assert_eq!(receivers, 1, "the trigger is subscribed to c");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while listeners.handled() < before + messages.len() {
        assert!(std::time::Instant::now() < deadline, "messages not handled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The `start`/`end` lines the probe printed.
fn handled_lines(app: &App) -> Vec<String> {
    app.log("probe")
        .lines()
        .filter(|line| line.starts_with("start ") || line.starts_with("end "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_redis_trigger_handles_one_message_at_a_time() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (app, listeners) = probe_subscribed(dir.path(), &redis).await;
    deliver(&redis, &listeners, &["sleep-150", "sleep-100", "quick"]).await;
    assert_eq!(
        handled_lines(&app),
        [
            "start sleep-150",
            "end sleep-150",
            "start sleep-100",
            "end sleep-100",
            "start quick",
            "end quick"
        ],
        "each message ends before the next starts"
    );
    assert_eq!(
        app.stats("probe").unwrap().instantiated(),
        3,
        "a fresh instance per message"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_or_trapping_redis_handler_loses_its_message_and_the_next_one_runs() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (app, listeners) = probe_subscribed(dir.path(), &redis).await;
    deliver(&redis, &listeners, &["fail", "trap", "after"]).await;
    let log = app.log("probe");
    assert_eq!(
        (
            handled_lines(&app),
            log.contains("Redis handler returned an error"),
            app.stats("probe").unwrap().trapped()
        ),
        (
            vec![
                "start fail".to_owned(),
                "start trap".to_owned(),
                "start after".to_owned(),
                "end after".to_owned()
            ],
            true,
            1
        ),
        "an error is logged, a trap counted, and the next message handled:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_redis_trigger_exits_when_its_connection_drops() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let mut redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (_app, mut listeners) = probe_subscribed(dir.path(), &redis).await;
    redis.stop();
    let exit = tokio::time::timeout(Duration::from_secs(10), listeners.exit())
        .await
        .expect("the trigger exits");
    let server = redis.url().replace("redis://", "");
    assert_eq!(exit.to_string(), format!("disconnected from {server}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_redis_trigger_does_not_start_without_its_server() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let server = url.replace("redis://", "");
    drop(redis);
    let manifest = format!(
        "spin_manifest_version = 2\n[application]\nname = \"t\"\n\
         [application.trigger.redis]\naddress = \"{url}\"\n\
         [[trigger.redis]]\nchannel = \"c\"\ncomponent = \"probe\"\n\
         [component.probe]\nsource = \"{}\"\n",
        common::probe::wasm().display()
    );
    std::fs::write(dir.path().join("spin.toml"), manifest).unwrap();
    let app = App::load(&dir.path().join("spin.toml"), None, AppOptions::default()).unwrap();
    let error = app.start_redis().await.err().map(|e| e.to_string());
    assert_eq!(
        error,
        Some(format!("Redis trigger failed to connect to {server}")),
        "starting without the server"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guest_profiler_samples_the_profiled_component_under_load() {
    use spin_test_host::profiler::{ProfileOptions, frame_shares};
    let profiled = common::movie_system_with(AppOptions {
        profile: Some(ProfileOptions {
            component: "movie".into(),
            interval: Duration::from_millis(1),
        }),
        ..AppOptions::default()
    });
    let put = profiled
        .request(
            Method::PUT,
            "/metadata/m1",
            Some(serde_json::json!({"title": "T"})),
        )
        .await
        .expect("PUT");
    assert_eq!(put.status, StatusCode::CREATED);
    // Enough composed views to keep movie on the CPU for a good many 1 ms ticks.
    for _ in 0..150 {
        let view = common::get_uncached(&profiled, "/movies/m1").await;
        assert_eq!(view.status, StatusCode::OK, "a view under the profiler");
    }
    let mut written = Vec::new();
    profiled
        .write_profile(&mut written)
        .expect("the profile is written");
    let profile: serde_json::Value = serde_json::from_slice(&written).expect("profile JSON");
    let samples = profile["threads"][0]["samples"]["length"]
        .as_u64()
        .unwrap_or(0);
    assert!(samples > 0, "150 composed views gave no sample of movie");
    let frames = frame_shares(&profile).expect("the profile reads");
    assert!(!frames.is_empty(), "the samples name no frame");
    assert!(
        profiled.write_profile(Vec::new()).is_err(),
        "a profile is written once"
    );
}

#[test]
fn profiling_a_component_the_app_does_not_have_is_refused() {
    let root = tempfile::tempdir().expect("temp dir");
    let loaded = spin_test_host::movie_system::load(
        root.path(),
        AppOptions {
            profile: Some(spin_test_host::profiler::ProfileOptions {
                component: "nope".into(),
                interval: Duration::from_millis(1),
            }),
            ..AppOptions::default()
        },
    );
    let error = loaded.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("no component nope"), "{error}");
}
