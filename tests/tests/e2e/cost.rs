//! What a request costs in host calls, counted by the host: one SQLite statement per read, no
//! store opens and no DDL once an instance is warm; a movie view from the instance's memory
//! costs nothing, from the key-value store one read, and composed two upstream calls.

use super::common;
use http::{Method, StatusCode};
use serde_json::json;
use spin_test_host::component::ComponentStats;
use spin_test_host::{App, AppOptions, InstanceLimits};
use std::sync::Arc;

fn stats(app: &App, component: &str) -> Arc<ComponentStats> {
    app.stats(component).expect("component exists")
}

/// The host calls the three components have made so far, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct HostCalls {
    metadata_statements: usize,
    metadata_opens: usize,
    rating_statements: usize,
    rating_opens: usize,
    movie_outbound_requests: usize,
    movie_key_value_opens: usize,
    movie_key_value_reads: usize,
    movie_key_value_writes: usize,
}

impl HostCalls {
    fn of(app: &App) -> Self {
        let (metadata, rating, movie) = (
            stats(app, "metadata"),
            stats(app, "rating"),
            stats(app, "movie"),
        );
        Self {
            metadata_statements: metadata.sqlite_statements(),
            metadata_opens: metadata.sqlite_opens(),
            rating_statements: rating.sqlite_statements(),
            rating_opens: rating.sqlite_opens(),
            movie_outbound_requests: movie.outbound_requests(),
            movie_key_value_opens: movie.key_value_opens(),
            movie_key_value_reads: movie.key_value_reads(),
            movie_key_value_writes: movie.key_value_writes(),
        }
    }

    /// The calls made since `earlier`.
    fn since(self, earlier: Self) -> Self {
        Self {
            metadata_statements: self.metadata_statements - earlier.metadata_statements,
            metadata_opens: self.metadata_opens - earlier.metadata_opens,
            rating_statements: self.rating_statements - earlier.rating_statements,
            rating_opens: self.rating_opens - earlier.rating_opens,
            movie_outbound_requests: self.movie_outbound_requests - earlier.movie_outbound_requests,
            movie_key_value_opens: self.movie_key_value_opens - earlier.movie_key_value_opens,
            movie_key_value_reads: self.movie_key_value_reads - earlier.movie_key_value_reads,
            movie_key_value_writes: self.movie_key_value_writes - earlier.movie_key_value_writes,
        }
    }
}

async fn get_movie(app: &App) {
    let response = app.request(Method::GET, "/movies/m1", None).await.unwrap();
    assert_eq!(response.status, StatusCode::OK, "GET /movies/m1");
}

/// The movie system with `m1` stored and rated, and one movie view served so every instance
/// is warm and the view cached (fresh for a minute).
async fn warm_system() -> common::MovieSystem {
    warm_system_with(InstanceLimits::default()).await
}

async fn warm_system_with(limits: InstanceLimits) -> common::MovieSystem {
    let app = common::movie_system_with(AppOptions {
        variables: common::long_lived_cache(),
        limits,
        ..AppOptions::default()
    });
    let put = app
        .request(Method::PUT, "/metadata/m1", Some(json!({"title": "Cheap"})))
        .await
        .unwrap();
    assert_eq!(put.status, StatusCode::CREATED, "PUT /metadata/m1");
    let rate = app
        .request(
            Method::PUT,
            "/ratings/movie/m1/users/u1",
            Some(json!({"value": 4})),
        )
        .await
        .unwrap();
    assert_eq!(
        rate.status,
        StatusCode::CREATED,
        "PUT /ratings/movie/m1/users/u1"
    );
    get_movie(&app).await;
    app
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_memory_hit_makes_no_host_call() {
    let app = warm_system().await;
    let before = HostCalls::of(&app);
    let views = 10;
    for _ in 0..views {
        get_movie(&app).await;
    }
    assert_eq!(
        HostCalls::of(&app).since(before),
        HostCalls::default(),
        "{views} GET /movies/m1 served from the instance's memory"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_store_hit_is_one_store_read_and_no_upstream_call() {
    // A fresh instance per request: its memory is empty, so the view comes from the store.
    let app = warm_system_with(InstanceLimits::NO_REUSE).await;
    let before = HostCalls::of(&app);
    let views = 5;
    for _ in 0..views {
        get_movie(&app).await;
    }
    let expected = HostCalls {
        movie_key_value_opens: views,
        movie_key_value_reads: views,
        ..HostCalls::default()
    };
    assert_eq!(
        HostCalls::of(&app).since(before),
        expected,
        "{views} GET /movies/m1 on fresh instances"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_composed_view_costs_one_statement_per_upstream_two_outbound_calls_and_no_store_read() {
    let app = warm_system().await;
    let views = 5;
    assert_composed(
        composing(&app, views).await,
        views,
        &format!("{views} GET /movies/m1 with Cache-Control: no-cache"),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_view_composed_on_a_fresh_instance_reads_its_entry_and_the_breakers() {
    // A fresh instance per request: nothing in memory, so each view reads the store's entry
    // (for its validators) and the breakers.
    let app = warm_system_with(InstanceLimits::NO_REUSE).await;
    let views = 3;
    let spent = composing(&app, views).await;
    assert_eq!(
        (
            spent.movie_key_value_opens,
            spent.movie_key_value_reads,
            spent.movie_key_value_writes,
            spent.movie_outbound_requests,
        ),
        (views, 2 * views, 0, 2 * views),
        "movie's store opens, reads and writes and outbound calls for {views} GET /movies/m1 \
         (no-cache) on fresh instances"
    );
}

/// The host calls of `views` views of `m1` composed now (`Cache-Control: no-cache`).
async fn composing(app: &App, views: usize) -> HostCalls {
    let before = HostCalls::of(app);
    for _ in 0..views {
        let response = common::get_uncached(app, "/movies/m1").await;
        assert_eq!(response.status, StatusCode::OK, "GET /movies/m1 (no-cache)");
    }
    HostCalls::of(app).since(before)
}

/// What `views` composed views cost on a warm instance: a statement and an outbound call per
/// upstream. The instance holds the view, so it revalidates it without reading the store's
/// entry; the view is unchanged and was stored moments ago, so it is not written again.
fn composed(views: usize) -> HostCalls {
    HostCalls {
        metadata_statements: views,
        rating_statements: views,
        movie_outbound_requests: 2 * views,
        ..HostCalls::default()
    }
}

/// `actual` is what `views` composed views cost on a warm instance, give or take one read of
/// the breakers: an instance reads them once a second
/// (`movie::controller::guarded::BREAKERS_MEMO_MS`), and the clock is the machine's.
fn assert_composed(actual: HostCalls, views: usize, context: &str) {
    assert!(
        actual.movie_key_value_reads <= 1,
        "{context}: {} store reads, the breakers at most once",
        actual.movie_key_value_reads
    );
    let others = HostCalls {
        movie_key_value_reads: 0,
        ..actual
    };
    assert_eq!(others, composed(views), "{context}");
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_reads_reuse_one_instance() {
    let app = warm_system().await;
    for _ in 0..10 {
        common::get_uncached(&app, "/movies/m1").await;
    }
    assert_eq!(
        stats(&app, "metadata").instantiated(),
        1,
        "metadata instances after 11 sequential composed GET /movies/m1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_instance_on_a_fresh_database_migrates_in_one_transaction() {
    let app = common::movie_system();
    app.request(Method::PUT, "/metadata/m1", Some(json!({"title": "A"})))
        .await
        .unwrap();
    let metadata = stats(&app, "metadata");
    // Set busy_timeout and synchronous, read user_version and journal_mode, switch to WAL,
    // BEGIN IMMEDIATE, read user_version inside the transaction, three migrations (a CREATE
    // TABLE, a CREATE TABLE, a CREATE TABLE and its index; each then sets user_version),
    // COMMIT; then the rate limit (forget old clients once per instance, count this one) and
    // the upsert.
    assert_eq!(
        (metadata.sqlite_statements(), metadata.sqlite_opens()),
        (17, 1),
        "statements and opens of the first PUT /metadata/m1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_instance_on_a_migrated_database_sets_up_its_connection_in_three_statements_and_its_rate_limit_in_one()
 {
    let app = common::movie_system_with(AppOptions {
        limits: InstanceLimits::NO_REUSE,
        ..AppOptions::default()
    });
    let put = |title: &'static str| {
        app.request(Method::PUT, "/metadata/m1", Some(json!({ "title": title })))
    };
    put("A").await.unwrap();
    let metadata = stats(&app, "metadata");
    // The first instance closes its connection as it goes: the last connection to close
    // checkpoints the log, and a statement meeting that would be tried again (and counted).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while metadata.sqlite_connections.open_files() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first instance's connection still open after 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let migrated = metadata.sqlite_statements();
    put("B").await.unwrap();
    // Set busy_timeout and synchronous, read user_version and journal_mode (nothing to do);
    // forget old clients (once per instance) and count this one; then the upsert.
    assert_eq!(
        (
            metadata.sqlite_statements() - migrated,
            metadata.instantiated()
        ),
        (6, 2),
        "statements of PUT /metadata/m1 on a second, cold instance, and instances made"
    );
}

/// The write itself, and the client's count for the rate limit.
#[tokio::test(flavor = "multi_thread")]
async fn a_warm_write_is_two_statements() {
    let app = common::movie_system();
    app.request(Method::PUT, "/metadata/m1", Some(json!({"title": "A"})))
        .await
        .unwrap();
    let metadata = stats(&app, "metadata");
    let cold = metadata.sqlite_statements();
    app.request(Method::PUT, "/metadata/m1", Some(json!({"title": "B"})))
        .await
        .unwrap();
    assert_eq!(
        metadata.sqlite_statements() - cold,
        2,
        "statements of a second PUT /metadata/m1"
    );
}

/// A protected write verifies its token against keys fetched once per instance (over service
/// chaining, from auth's JWKS, which touches no storage); a warm write fetches nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_signing_keys_are_fetched_once_per_instance_and_cost_auth_no_statement() {
    let app = common::movie_system();
    let (metadata, auth) = (stats(&app, "metadata"), stats(&app, "auth"));
    for title in ["A", "B", "C"] {
        let put = app
            .request(Method::PUT, "/metadata/m1", Some(json!({ "title": title })))
            .await
            .unwrap();
        assert!(put.status.is_success(), "PUT /metadata/m1: {}", put.json());
    }
    assert_eq!(
        (
            metadata.outbound_requests(),
            metadata.instantiated(),
            auth.sqlite_statements()
        ),
        (1, 1, 0),
        "JWKS fetches by metadata, its instances, and auth's statements for three writes"
    );
}

/// A warm token request: the client's row and the rate limit's count.
#[tokio::test(flavor = "multi_thread")]
async fn a_warm_token_request_is_two_statements() {
    let app = common::movie_system();
    let db = app.root.path().join(".spin/auth.db");
    let printed = authctl::commands::run(
        &[
            "register",
            "--id",
            "cli",
            "--scopes",
            "ratings:write",
            "--db",
            db.to_str().unwrap(),
        ]
        .map(str::to_owned),
    )
    .expect("authctl register");
    let secret = printed
        .lines()
        .find_map(|line| line.strip_prefix("client_secret="))
        .unwrap()
        .to_owned();
    let request = || {
        http::Request::post("/auth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(bytes::Bytes::from(format!(
                "grant_type=client_credentials&client_id=cli&client_secret={secret}"
            )))
            .unwrap()
    };
    app.send(request()).await.unwrap();
    let auth = stats(&app, "auth");
    let warm = auth.sqlite_statements();
    let issued = app.send(request()).await.unwrap();
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.json());
    assert_eq!(
        auth.sqlite_statements() - warm,
        2,
        "statements of a second POST /auth/token"
    );
}

/// A unary gRPC call through the app, in process; answers the status from its trailers.
async fn grpc(app: &App, path: &str, message: &impl prost::Message) -> Option<String> {
    let request = http::Request::post(path)
        .header("content-type", "application/grpc")
        .body(service_kit::grpc::wire::frame(message))
        .unwrap();
    let response = app.send(request).await.unwrap();
    response.trailer("grpc-status").map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warm_grpc_read_costs_what_its_rest_route_does_one_statement() {
    let app = warm_system().await;
    let get = movie_proto::GetMetadataRequest {
        movie_id: "m1".into(),
    };
    grpc(&app, movie_proto::paths::GET_METADATA, &get).await;
    let before = HostCalls::of(&app);
    let calls = 5;
    for _ in 0..calls {
        let status = grpc(&app, movie_proto::paths::GET_METADATA, &get).await;
        assert_eq!(status.as_deref(), Some("0"), "GetMetadata m1");
    }
    let expected = HostCalls {
        metadata_statements: calls,
        ..HostCalls::default()
    };
    assert_eq!(
        HostCalls::of(&app).since(before),
        expected,
        "{calls} warm GetMetadata calls"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_view_composed_over_grpc_upstreams_costs_what_one_over_json_does() {
    let mut variables = common::long_lived_cache();
    variables.insert("upstream_protocol".into(), "grpc".into());
    let app = common::movie_system_with(AppOptions {
        variables,
        ..AppOptions::default()
    });
    let put = app
        .request(Method::PUT, "/metadata/m1", Some(json!({"title": "Cheap"})))
        .await
        .unwrap();
    assert_eq!(put.status, StatusCode::CREATED, "PUT /metadata/m1");
    common::get_uncached(&app, "/movies/m1").await;
    let views = 5;
    assert_composed(
        composing(&app, views).await,
        views,
        &format!("{views} GET /movies/m1 (no-cache) composed over gRPC"),
    );
}

/// `count` movies imported in one request (ids `b0000`...).
async fn import_movies(app: &App, count: usize) {
    let lines: String = (0..count)
        .map(|i| format!("{{\"id\":\"b{i:04}\",\"title\":\"T{i}\"}}\n"))
        .collect();
    let request = http::Request::post("/metadata/import")
        .header("content-type", "application/x-ndjson")
        .header("authorization", format!("Bearer {}", app.bearer().unwrap()))
        .body(bytes::Bytes::from(lines))
        .unwrap();
    let response = app.send(request).await.unwrap();
    assert_eq!(response.status, StatusCode::OK, "import of {count} movies");
}

/// The rate limit's count, one statement per staged batch of 500 lines, then the count of
/// staged movies, the one statement that applies them and the one that clears the staging:
/// no connection of its own.
#[tokio::test(flavor = "multi_thread")]
async fn an_import_is_one_statement_per_500_lines_and_three_to_apply_them() {
    let app = common::movie_system();
    import_movies(&app, 10).await;
    let metadata = stats(&app, "metadata");
    let (statements, opens) = (metadata.sqlite_statements(), metadata.sqlite_opens());
    import_movies(&app, 1000).await;
    assert_eq!(
        (
            metadata.sqlite_statements() - statements,
            metadata.sqlite_opens() - opens
        ),
        (1 + 2 + 3, 0),
        "statements and opens of a warm import of 1,000 movies"
    );
}

/// The rate limit's count on the shared connection; then a connection of the export's own:
/// its two per-connection settings (the instance checked the schema already), `BEGIN` and the
/// read that takes the snapshot, and one statement per page of 500 (the last page, shorter,
/// ends it).
#[tokio::test(flavor = "multi_thread")]
async fn an_export_opens_one_connection_and_reads_one_statement_per_page() {
    let app = common::movie_system();
    import_movies(&app, 1200).await;
    let metadata = stats(&app, "metadata");
    let (statements, opens) = (metadata.sqlite_statements(), metadata.sqlite_opens());
    let export = app
        .request(Method::GET, "/metadata/export", None)
        .await
        .unwrap();
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(
        (
            metadata.sqlite_statements() - statements,
            metadata.sqlite_opens() - opens
        ),
        (1 + 2 + 2 + 3, 1),
        "statements and opens of an export of 1,200 movies"
    );
}

/// Acquiring and releasing the lease (one statement each, shared connection); per chunk, a
/// connection of its own: its two per-connection settings (the instance checked the schema
/// already), `BEGIN IMMEDIATE`, the chunk's records, the repair, the orphans, the fenced write
/// of the lease row and `COMMIT`.
#[tokio::test(flavor = "multi_thread")]
async fn a_reconciliation_chunk_is_one_connection_and_eight_statements() {
    let app = common::movie_system();
    for record in ["r1", "r2", "r3"] {
        let path = format!("/ratings/movie/{record}/users/u1");
        app.request(Method::PUT, &path, Some(json!({"value": 3})))
            .await
            .unwrap();
    }
    let rating = stats(&app, "rating");
    let (statements, opens) = (rating.sqlite_statements(), rating.sqlite_opens());
    let run = app
        .request(Method::POST, "/jobs/reconcile?chunk=2", None)
        .await
        .unwrap();
    assert_eq!(run.json()["chunks"], json!(2), "{:?}", run.json());
    assert_eq!(
        (
            rating.sqlite_statements() - statements,
            rating.sqlite_opens() - opens
        ),
        (1 + 2 * 8 + 1, 2),
        "statements and opens of a run of two chunks"
    );
}

/// The catalog entry is compiled in: serving it touches nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_catalog_entry_costs_no_host_call() {
    let app = warm_system().await;
    let before = HostCalls::of(&app);
    for path in ["/metadata/about", "/ratings/about", "/movies/about"] {
        let about = app.request(Method::GET, path, None).await.unwrap();
        assert_eq!(about.status, StatusCode::OK, "GET {path}");
    }
    assert_eq!(
        HostCalls::of(&app).since(before),
        HostCalls::default(),
        "host calls of the catalog entries"
    );
}

/// The API reference is compiled in and rendered once per instance: a page or the document
/// makes no host call of any kind, and repeated requests reuse the instance.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_reference_costs_no_host_call() {
    let app = common::movie_system();
    let reference = stats(&app, "api-reference");
    for _ in 0..3 {
        for path in ["/api", "/api/openapi.json"] {
            let served = app.request(Method::GET, path, None).await.unwrap();
            assert_eq!(served.status, StatusCode::OK, "GET {path}");
        }
    }
    assert_eq!(
        (
            reference.sqlite_opens() + reference.sqlite_statements(),
            reference.key_value_opens() + reference.key_value_reads(),
            reference.outbound_requests(),
            reference.redis_opens() + reference.redis_commands(),
            reference.instantiated(),
        ),
        (0, 0, 0, 0, 1),
        "the API reference's store, outbound and Redis calls, and its instances, for six requests"
    );
}

/// The public health report of rating is its store's check alone: the event pipeline (a Redis
/// connection and three commands) is shown only to `ratings:admin`.
#[tokio::test(flavor = "multi_thread")]
async fn a_public_rating_health_report_touches_no_event_log() {
    let app = warm_system().await;
    let rating = stats(&app, "rating");
    let (opens, commands) = (rating.redis_opens(), rating.redis_commands());
    let request = http::Request::get("/health/rating")
        .body(bytes::Bytes::new())
        .unwrap();
    let report = app.send(request).await.unwrap();
    assert_eq!(report.status, StatusCode::OK, "GET /health/rating");
    assert_eq!(
        (
            rating.redis_opens() - opens,
            rating.redis_commands() - commands,
            report.json().get("events").is_some()
        ),
        (0, 0, false),
        "Redis connections, commands and pipeline details of a public health report"
    );
}

/// The gRPC health service answers for the whole system from one probe of the upstreams per
/// instance and second, however often it is asked.
#[tokio::test(flavor = "multi_thread")]
async fn grpc_health_checks_within_a_second_probe_the_upstreams_once() {
    let app = warm_system().await;
    let before = HostCalls::of(&app);
    let check = service_kit::grpc::health::HealthCheckRequest {
        service: String::new(),
    };
    for n in 0..5 {
        let status = grpc(&app, service_kit::grpc::health::CHECK_PATH, &check).await;
        assert_eq!(status.as_deref(), Some("0"), "Check {n}");
    }
    assert_eq!(
        HostCalls::of(&app).since(before).movie_outbound_requests,
        2,
        "upstream calls of five health checks"
    );
}
