//! Throughput and latency of the movie system's main routes through the test host, over HTTP
//! with keep-alive, as a load tool would see `spin up` (the same wasmtime pool Spin uses, but
//! not Spin's listener: compare routes with each other, not with the absolute figures measured
//! under Spin in `docs/spin-facts.md`).
//!
//! `cargo bench -p spin-test-host --bench throughput [-- SECONDS CONNECTIONS FILTER]`: seconds
//! per scenario (5), concurrent keep-alive clients (16), and a substring of the scenarios to run
//! (all). The write scenarios are the issue's: every request a new user's rating, spread over
//! 100 records or all on one (the hot aggregate row). The movie scenarios separate the cache's
//! levels: a hot movie (memory hits), the same with the memory level off (store hits), every
//! view composed (`Cache-Control: no-cache`), and one in ten composed; every view composed
//! with gRPC upstreams, and a gRPC read beside its REST route.
//!
//! Every row is also stated as a ratio to two yardsticks measured in the same run: the
//! trivial route (`GET /health/api-reference`: the kit's edge and a small body, no host call),
//! what any request costs before it does anything, and a metadata read (one SQLite
//! statement). A row the filter leaves without its yardstick shows `-`.

#[path = "common/load.rs"]
mod load;

use http::Method;
use serde_json::json;
use spin_test_host::{App, AppOptions, movie_system};
use std::time::Duration;

const MOVIES: usize = 100;

/// A token holding every scope, minted once and valid for the longest run: verifying it is
/// part of what a write costs, minting it is not.
fn editor() -> &'static str {
    static EDITOR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    EDITOR.get_or_init(|| {
        movie_system::mint(&service_kit::auth::sign::Issue {
            issuer: "movie-system-auth",
            audience: "movie-system",
            subject: "bench",
            scope: "metadata:write ratings:write ratings:admin",
            id: "bench",
            now: chrono::Utc::now(),
            lifetime: chrono::Duration::hours(12),
        })
    })
}

/// What a scenario's clients send.
#[derive(Clone, Copy)]
enum Scenario {
    /// `GET` of the path with `{i}` replaced by a movie index cycling over [`MOVIES`].
    Read(&'static str),
    /// Like `Read`, every `n`th request with `Cache-Control: no-cache` (1: all of them).
    ReadUncachedEvery(&'static str, usize),
    /// `PUT` of a new rating by a user nobody used before, on one of `records` movies.
    RateByNewUsers { records: usize },
    /// gRPC `MetadataService/GetMetadata` of a movie cycling over [`MOVIES`] (over HTTP/1.1:
    /// the framing's cost, not a gRPC client's).
    GrpcGetMetadata,
}

impl Scenario {
    /// The `n`th request of client `worker` out of `clients`; together the clients cycle
    /// through the movies without two of them asking for the same one at once.
    fn request(
        self,
        client: &reqwest::Client,
        base: &str,
        (worker, clients): (usize, usize),
        n: usize,
    ) -> reqwest::RequestBuilder {
        let i = worker + n * clients;
        let url = |path: &str| format!("{base}{}", path.replace("{i}", &(i % MOVIES).to_string()));
        match self {
            Self::Read(path) => client.get(url(path)),
            Self::ReadUncachedEvery(path, every) => {
                let request = client.get(url(path));
                if n.is_multiple_of(every) {
                    request.header("cache-control", "no-cache")
                } else {
                    request
                }
            }
            Self::RateByNewUsers { records } => client
                .put(format!(
                    "{base}/ratings/movie/m{}/users/load-{worker}-{n}",
                    i % records
                ))
                .bearer_auth(editor())
                .json(&json!({"value": i % 5 + 1})),
            Self::GrpcGetMetadata => {
                let call = movie_proto::GetMetadataRequest {
                    movie_id: format!("m{}", i % MOVIES),
                };
                client
                    .post(format!("{base}{}", movie_proto::paths::GET_METADATA))
                    .header("content-type", "application/grpc")
                    .body(service_kit::grpc::wire::frame(&call))
            }
        }
    }
}

/// Which app a scenario runs against: the defaults (rate limits off, since one client sends
/// everything), movie's memory level switched off (`cache_memory_fresh_ms = 0`), so every fresh
/// view comes from the key-value store, or rate limits counting every metered request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Defaults,
    StoreOnly,
    /// Rate limits on with a quota never reached: what the per-client count costs.
    Metered,
    /// movie calls its upstreams over gRPC (`upstream_protocol = grpc`).
    GrpcUpstreams,
}

impl Target {
    /// The Spin variables of the target's app. One client sends everything, so the rate limits
    /// are off, or (metered) counting with a quota never reached.
    fn variables(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Defaults => &[("write_rate_limit", "0"), ("view_rate_limit", "0")],
            Self::StoreOnly => &[
                ("write_rate_limit", "0"),
                ("view_rate_limit", "0"),
                ("cache_memory_fresh_ms", "0"),
            ],
            Self::Metered => &[
                ("write_rate_limit", "1000000000"),
                ("view_rate_limit", "1000000000"),
            ],
            Self::GrpcUpstreams => &[
                ("write_rate_limit", "0"),
                ("view_rate_limit", "0"),
                ("upstream_protocol", "grpc"),
            ],
        }
    }
}

/// A target's app, seeded and served over HTTP, with its stores in a directory of its own.
struct Seeded {
    root: tempfile::TempDir,
    _app: App,
    server: spin_test_host::Server,
}

impl Seeded {
    async fn serve(target: Target) -> anyhow::Result<Self> {
        let root = tempfile::tempdir()?;
        let variables = target
            .variables()
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let options = AppOptions {
            variables,
            ..AppOptions::default()
        };
        let app = movie_system::load(root.path(), options)?;
        app.use_bearer(Some(editor().to_owned()));
        seed(&app).await?;
        let server = app.serve().await?;
        Ok(Self {
            root,
            _app: app,
            server,
        })
    }
}

/// The yardsticks every row is compared with, by label.
const TRIVIAL: &str = "trivial route: GET /health/api-reference";
const METADATA_READ: &str = "GET /metadata/{id}";

const SCENARIOS: &[(&str, Target, Scenario)] = &[
    (
        TRIVIAL,
        Target::Defaults,
        Scenario::Read("/health/api-reference"),
    ),
    (
        METADATA_READ,
        Target::Defaults,
        Scenario::Read("/metadata/m{i}"),
    ),
    (
        "GET /ratings/movie/{id}",
        Target::Defaults,
        Scenario::Read("/ratings/movie/m{i}"),
    ),
    (
        "GET /movies/{id}, hot: memory hits",
        Target::Defaults,
        Scenario::Read("/movies/m0"),
    ),
    (
        "GET /movies/{id}, hot: store hits",
        Target::StoreOnly,
        Scenario::Read("/movies/m0"),
    ),
    (
        "GET /movies/{id}, 100 movies, cached",
        Target::Defaults,
        Scenario::Read("/movies/m{i}"),
    ),
    (
        "GET /movies/{id}, forced miss",
        Target::Defaults,
        Scenario::ReadUncachedEvery("/movies/m{i}", 1),
    ),
    (
        "GET /movies/{id}, mixed: 90% hits",
        Target::Defaults,
        Scenario::ReadUncachedEvery("/movies/m{i}", 10),
    ),
    (
        "GET /movies/{id}, forced miss, gRPC upstreams",
        Target::GrpcUpstreams,
        Scenario::ReadUncachedEvery("/movies/m{i}", 1),
    ),
    (
        "gRPC GetMetadata",
        Target::Defaults,
        Scenario::GrpcGetMetadata,
    ),
    (
        "PUT rating, new users, 100 records",
        Target::Defaults,
        Scenario::RateByNewUsers { records: MOVIES },
    ),
    (
        "PUT rating, new users, 1 record",
        Target::Defaults,
        Scenario::RateByNewUsers { records: 1 },
    ),
    (
        "GET /movies/{id}, forced miss, metered",
        Target::Metered,
        Scenario::ReadUncachedEvery("/movies/m{i}", 1),
    ),
    (
        "PUT rating, 100 records, metered",
        Target::Metered,
        Scenario::RateByNewUsers { records: MOVIES },
    ),
];

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let connections: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let only = args.next().unwrap_or_default();

    let (defaults, store_only, metered, grpc) = (
        Seeded::serve(Target::Defaults).await?,
        Seeded::serve(Target::StoreOnly).await?,
        Seeded::serve(Target::Metered).await?,
        Seeded::serve(Target::GrpcUpstreams).await?,
    );
    println!("{connections} connections, {seconds} s per scenario, {MOVIES} movies");
    println!(
        "{:<46} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "scenario", "req/s", "x trivial", "x md read", "p50 ms", "p90 ms", "p99 ms"
    );
    let mut yardsticks = Yardsticks::default();
    for (label, target, scenario) in SCENARIOS.iter().filter(|(l, _, _)| l.contains(&only)) {
        let app = match target {
            Target::Defaults => &defaults,
            Target::StoreOnly => &store_only,
            Target::Metered => &metered,
            Target::GrpcUpstreams => &grpc,
        };
        let per_second = report(
            label,
            &app.server.url(),
            *scenario,
            connections,
            seconds,
            &yardsticks,
        )
        .await?;
        yardsticks.note(label, per_second);
    }
    // The hot-row question: what the trigger-maintained aggregate costs a write. Last, since it
    // drops the triggers from the benchmark's own database file.
    let experiment = "PUT rating, 1 record, no aggregate";
    if experiment.contains(&only) {
        drop_aggregate_triggers(defaults.root.path())?;
        let scenario = Scenario::RateByNewUsers { records: 1 };
        report(
            experiment,
            &defaults.server.url(),
            scenario,
            connections,
            seconds,
            &yardsticks,
        )
        .await?;
    }
    Ok(())
}

/// The rates of the yardstick rows, once they have run.
#[derive(Default)]
struct Yardsticks {
    trivial: Option<f64>,
    metadata_read: Option<f64>,
}

impl Yardsticks {
    fn note(&mut self, label: &str, per_second: f64) {
        match label {
            TRIVIAL => self.trivial = Some(per_second),
            METADATA_READ => self.metadata_read = Some(per_second),
            _ => {}
        }
    }
}

/// `rate` as a ratio of `yardstick`, or `-` without one.
fn ratio(rate: f64, yardstick: Option<f64>) -> String {
    yardstick.map_or_else(|| "-".to_owned(), |base| format!("{:.2}", rate / base))
}

/// Runs one scenario and prints its row; its rate.
async fn report(
    label: &str,
    base: &str,
    scenario: Scenario,
    connections: usize,
    seconds: u64,
    yardsticks: &Yardsticks,
) -> anyhow::Result<f64> {
    let run = load::run(
        connections,
        Duration::from_secs(seconds),
        |client, worker, n| scenario.request(client, base, (worker, connections), n),
    )
    .await?;
    let (trivial, read) = match label {
        TRIVIAL => (Some(run.per_second), yardsticks.metadata_read),
        METADATA_READ => (yardsticks.trivial, Some(run.per_second)),
        _ => (yardsticks.trivial, yardsticks.metadata_read),
    };
    println!(
        "{label:<46} {:>9.0} {:>9} {:>9} {:>9.2} {:>9.2} {:>9.2}",
        run.per_second,
        ratio(run.per_second, trivial),
        ratio(run.per_second, read),
        run.p50,
        run.p90,
        run.p99
    );
    Ok(run.per_second)
}

/// Drops the triggers that keep `rating_totals`, so a rating write is the upsert alone.
fn drop_aggregate_triggers(root: &std::path::Path) -> anyhow::Result<()> {
    let db = rusqlite::Connection::open(root.join(".spin/ratings.db"))?;
    db.execute_batch(
        "DROP TRIGGER rating_totals_on_insert;
        DROP TRIGGER rating_totals_on_update;
        DROP TRIGGER rating_totals_on_delete;",
    )?;
    Ok(())
}

async fn seed(app: &App) -> anyhow::Result<()> {
    for i in 0..MOVIES {
        let body = json!({"title": format!("Movie {i}"), "director": "Someone"});
        app.request(Method::PUT, &format!("/metadata/m{i}"), Some(body))
            .await?;
        for user in 0..3 {
            let path = format!("/ratings/movie/m{i}/users/u{user}");
            app.request(
                Method::PUT,
                &path,
                Some(json!({"value": (i + user) % 5 + 1})),
            )
            .await?;
        }
    }
    Ok(())
}
