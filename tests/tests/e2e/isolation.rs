//! What each component of the real manifest may touch: the probe runs in a component's place
//! with that component's grants, and tries everything.

use super::common;

use http::Method;
use spin_test_host::AppOptions;

async fn probe_as(component: &str, prefix: &str, attempts: &[(&str, &str)]) {
    probe_with(component, prefix, AppOptions::default(), attempts).await;
}

async fn probe_with(component: &str, prefix: &str, options: AppOptions, attempts: &[(&str, &str)]) {
    let app = common::movie_system_with(AppOptions {
        replace_sources: [(component.to_owned(), common::probe::wasm())].into(),
        ..options
    });
    for (path, expected) in attempts {
        let response = app
            .request(Method::GET, &format!("{prefix}{path}"), None)
            .await
            .expect("request");
        let text = String::from_utf8_lossy(&response.body);
        assert!(text.starts_with(expected), "{component} {path}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_opens_only_its_own_database_and_reaches_only_the_signing_keys() {
    probe_as(
        "metadata",
        "/metadata",
        &[
            ("/sqlite/metadata", "ok"),
            ("/sqlite/ratings", "Error::AccessDenied"),
            ("/sqlite/movie", "Error::AccessDenied"),
            ("/sqlite/auth", "Error::AccessDenied"),
            ("/sqlite/default", "Error::AccessDenied"),
            ("/kv/cache", "Error::AccessDenied"),
            (
                "/fetch?url=http://auth.spin.internal/auth/.well-known/jwks.json",
                "status 200",
            ),
            ("/var/auth_signing_key", "Error::Undefined"),
            (
                "/fetch?url=http://rating.spin.internal/ratings/movie/m1",
                "ErrorCode::HttpRequestDenied",
            ),
            (
                "/fetch?url=http://127.0.0.1:9/",
                "ErrorCode::HttpRequestDenied",
            ),
            ("/var/rating_url", "Error::Undefined"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rating_opens_only_its_own_database_and_reaches_only_the_signing_keys() {
    probe_as(
        "rating",
        "/ratings",
        &[
            ("/sqlite/ratings", "ok"),
            ("/sqlite/metadata", "Error::AccessDenied"),
            ("/sqlite/movie", "Error::AccessDenied"),
            ("/sqlite/auth", "Error::AccessDenied"),
            ("/kv/cache", "Error::AccessDenied"),
            (
                "/fetch?url=http://auth.spin.internal/auth/.well-known/jwks.json",
                "status 200",
            ),
            ("/var/auth_signing_key", "Error::Undefined"),
            (
                "/fetch?url=http://metadata.spin.internal/metadata/m1",
                "ErrorCode::HttpRequestDenied",
            ),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn movie_reaches_only_its_cache_its_counts_and_its_two_upstreams() {
    probe_as(
        "movie",
        "/movies",
        &[
            ("/kv/cache", "ok"),
            ("/sqlite/movie", "ok"),
            ("/sqlite/default", "Error::AccessDenied"),
            ("/sqlite/metadata", "Error::AccessDenied"),
            ("/sqlite/ratings", "Error::AccessDenied"),
            ("/sqlite/auth", "Error::AccessDenied"),
            ("/var/metadata_url", "ok http://metadata.spin.internal"),
            ("/var/auth_signing_key", "Error::Undefined"),
            (
                "/fetch?url=http://auth.spin.internal/auth/.well-known/jwks.json",
                "ErrorCode::HttpRequestDenied",
            ),
            (
                "/fetch?url=http://metadata.spin.internal/metadata/m1",
                "status 404",
            ),
            (
                "/fetch?url=http://rating.spin.internal/ratings/movie/m1",
                "status 404",
            ),
            (
                "/fetch?url=http://movie.spin.internal/movies/m1",
                "ErrorCode::HttpRequestDenied",
            ),
            (
                "/fetch?url=http://127.0.0.1:9/",
                "ErrorCode::HttpRequestDenied",
            ),
        ],
    )
    .await;
}

/// The event log is rating's alone: rating reaches its address and no other Redis server;
/// no other component reaches Redis at all.
#[tokio::test(flavor = "multi_thread")]
async fn only_rating_reaches_the_event_log_and_only_its_address() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let log = spin_test_host::redis_server::RedisServer::start();
    let other = spin_test_host::redis_server::RedisServer::start();
    let options = || AppOptions {
        variables: [("events_redis_url".to_owned(), log.url())].into(),
        ..AppOptions::default()
    };
    let reach_log = format!("/redis?address={}", log.url());
    let reach_other = format!("/redis?address={}", other.url());
    probe_with(
        "rating",
        "/ratings",
        options(),
        &[
            (&reach_log, "ok [RedisResult::Status(\"PONG\")]"),
            (&reach_other, "Error::InvalidAddress"),
        ],
    )
    .await;
    for (component, prefix) in [
        ("metadata", "/metadata"),
        ("movie", "/movies"),
        ("auth", "/auth"),
    ] {
        probe_with(
            component,
            prefix,
            options(),
            &[(&reach_log, "Error::InvalidAddress")],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_opens_only_its_own_database_and_calls_nothing() {
    probe_as(
        "auth",
        "/auth",
        &[
            ("/sqlite/auth", "ok"),
            ("/sqlite/metadata", "Error::AccessDenied"),
            ("/sqlite/ratings", "Error::AccessDenied"),
            ("/sqlite/movie", "Error::AccessDenied"),
            ("/sqlite/default", "Error::AccessDenied"),
            ("/kv/cache", "Error::AccessDenied"),
            (
                "/fetch?url=http://metadata.spin.internal/metadata/m1",
                "ErrorCode::HttpRequestDenied",
            ),
            (
                "/fetch?url=http://127.0.0.1:9/",
                "ErrorCode::HttpRequestDenied",
            ),
            ("/var/metadata_url", "Error::Undefined"),
            ("/var/jwt_hs256_secret", "Error::Undefined"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_reference_opens_no_store_reads_no_variable_and_calls_nothing() {
    probe_as(
        "api-reference",
        "/api",
        &[
            ("/sqlite/auth", "Error::AccessDenied"),
            ("/sqlite/metadata", "Error::AccessDenied"),
            ("/sqlite/ratings", "Error::AccessDenied"),
            ("/sqlite/movie", "Error::AccessDenied"),
            ("/sqlite/default", "Error::AccessDenied"),
            ("/kv/cache", "Error::AccessDenied"),
            ("/kv/default", "Error::AccessDenied"),
            (
                "/fetch?url=http://auth.spin.internal/auth/.well-known/jwks.json",
                "ErrorCode::HttpRequestDenied",
            ),
            (
                "/fetch?url=http://127.0.0.1:9/",
                "ErrorCode::HttpRequestDenied",
            ),
            ("/var/auth_signing_key", "Error::Undefined"),
            ("/var/metadata_url", "Error::Undefined"),
        ],
    )
    .await;
}

/// Each gRPC service is served by its own component alone: a call (here an empty, invalid one,
/// so nothing is chained) runs exactly one fresh instance, of the component that owns the path.
#[tokio::test(flavor = "multi_thread")]
async fn each_grpc_path_runs_only_the_component_that_owns_it() {
    let system = common::movie_system_with(AppOptions {
        limits: spin_test_host::InstanceLimits::NO_REUSE,
        ..AppOptions::default()
    });
    let app = &system.app;
    let paths = [
        (movie_proto::paths::GET_METADATA, "metadata"),
        (movie_proto::paths::GET_AGGREGATED_RATING, "rating"),
        (movie_proto::paths::GET_RATING_SUMMARY, "rating"),
        (movie_proto::paths::GET_MOVIE_DETAILS, "movie"),
    ];
    for (path, owner) in paths {
        let before: Vec<usize> = ["metadata", "rating", "movie", "auth"]
            .iter()
            .map(|c| app.stats(c).unwrap().instantiated())
            .collect();
        let request = http::Request::post(path)
            .header("content-type", "application/grpc")
            .body(bytes::Bytes::from_static(&[0, 0, 0, 0, 0]))
            .unwrap();
        app.send(request).await.unwrap();
        let ran: Vec<&str> = ["metadata", "rating", "movie", "auth"]
            .iter()
            .zip(before)
            .filter(|(c, before)| app.stats(c).unwrap().instantiated() > *before)
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(ran, [owner], "POST {path} ran these components");
    }
}

/// The bulk routes, the job and the catalog entries stay inside their component: a warm
/// request runs statements only in the component that owns its path, and makes no outbound
/// call, no Redis command and no key-value access: the export, import and job read and write
/// only that component's own database.
#[tokio::test(flavor = "multi_thread")]
async fn the_bulk_routes_the_job_and_the_catalog_touch_only_their_own_database() {
    let system = common::movie_system();
    let app = &system.app;
    let components = ["metadata", "rating", "movie", "auth"];
    let lines = "{\"id\":\"m1\",\"title\":\"T\"}\n";
    let import = || {
        http::Request::post("/metadata/import")
            .header("content-type", "application/x-ndjson")
            .header("authorization", format!("Bearer {}", app.bearer().unwrap()))
            .body(bytes::Bytes::from_static(lines.as_bytes()))
            .unwrap()
    };
    // Warm: every instance has its connection and its signing keys.
    app.send(import()).await.unwrap();
    app.request(Method::POST, "/jobs/reconcile", None)
        .await
        .unwrap();
    let requests: [(&str, &str); 5] = [
        ("/metadata/export", "metadata"),
        ("/ratings/export", "rating"),
        ("/jobs/reconcile", "rating"),
        ("/metadata/import", "metadata"),
        ("/movies/about", "movie"),
    ];
    for (path, owner) in requests {
        let before: Vec<(usize, usize, usize, usize)> = components
            .iter()
            .map(|c| {
                let s = app.stats(c).unwrap();
                (
                    s.sqlite_statements(),
                    s.outbound_requests(),
                    s.redis_commands() + s.redis_opens(),
                    s.key_value_reads() + s.key_value_writes() + s.key_value_opens(),
                )
            })
            .collect();
        let response = match path {
            "/metadata/import" => app.send(import()).await.unwrap(),
            "/jobs/reconcile" => app.request(Method::POST, path, None).await.unwrap(),
            _ => app.request(Method::GET, path, None).await.unwrap(),
        };
        assert!(response.status.is_success(), "{path}: {}", response.status);
        for (component, before) in components.iter().zip(before) {
            let s = app.stats(component).unwrap();
            let outbound = s.outbound_requests() - before.1;
            let redis = s.redis_commands() + s.redis_opens() - before.2;
            let key_value =
                s.key_value_reads() + s.key_value_writes() + s.key_value_opens() - before.3;
            assert_eq!(
                (outbound, redis, key_value),
                (0, 0, 0),
                "{path}: {component}'s outbound calls, Redis and key-value use"
            );
            if *component != owner {
                assert_eq!(
                    s.sqlite_statements() - before.0,
                    0,
                    "{path} made {component} run statements"
                );
            }
        }
    }
}
