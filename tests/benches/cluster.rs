//! Reads and writes on libSQL beside the same on local SQLite, through the test host over
//! loopback HTTP: the cluster's price per request (issue figures: 16 writers on libSQL at
//! >= 0.25x the local write rate with p99 <= 250 ms, reads at >= 0.5x).
//!
//! `cargo bench -p spin-test-host --bench cluster [-- SECONDS [WORK [CLIENTS]]]` (5 s per run;
//! `writes` or `reads`, both by default; 1, 4 and 16 clients by default). For each number of
//! keep-alive clients: every request a new user's rating over 100 records (writes), and
//! a rating aggregate cycling over the 100 records (reads), on one node whose databases are
//! local files and on one whose databases are on `sqld` servers (one per database, as
//! deployed) with the view cache and event log on Redis. Rate limits off. Needs `sqld` and
//! `redis-server` (see README, "Commands").

#[path = "common/load.rs"]
#[allow(
    dead_code,
    reason = "p90 is the throughput benchmark's; the issue's figures are p50 and p99"
)]
mod load;

use http::Method;
use serde_json::json;
use spin_test_host::cluster::Cluster;
use spin_test_host::{App, AppOptions, movie_system};
use std::time::Duration;

const RECORDS: usize = 100;
const CONNECTIONS: [usize; 3] = [1, 4, 16];
const OFF: [(&str, &str); 2] = [("write_rate_limit", "0"), ("view_rate_limit", "0")];

#[derive(Clone, Copy)]
enum Work {
    Writes,
    Reads,
}

async fn seed(app: &App) -> anyhow::Result<()> {
    for i in 0..RECORDS {
        let body = json!({ "value": i % 5 + 1 });
        let path = format!("/ratings/movie/m{i}/users/seed");
        let response = app.request(Method::PUT, &path, Some(body)).await?;
        anyhow::ensure!(response.status.is_success(), "seeding {path}");
    }
    Ok(())
}

async fn measure(
    base: &str,
    work: Work,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<load::Run> {
    let token = movie_system::editor_token();
    let token = &token;
    load::run(
        connections,
        Duration::from_secs(seconds),
        |client, worker, n| {
            let i = worker + n * connections;
            match work {
                Work::Writes => client
                    .put(format!(
                        "{base}/ratings/movie/m{}/users/bench-{worker}-{n}",
                        i % RECORDS
                    ))
                    .bearer_auth(token)
                    .json(&json!({ "value": i % 5 + 1 })),
                Work::Reads => client.get(format!("{base}/ratings/movie/m{}", i % RECORDS)),
            }
        },
    )
    .await
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let only_work = args.next().unwrap_or_default();
    let only_clients: Option<usize> = args.next().and_then(|a| a.parse().ok());
    let Some(cluster) = Cluster::start("the cluster benchmark") else {
        return Ok(());
    };
    let local_root = tempfile::tempdir()?;
    let options = AppOptions {
        variables: OFF
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        ..AppOptions::default()
    };
    let local = movie_system::load(local_root.path(), options)?;
    local.use_bearer(Some(movie_system::editor_token()));
    let remote = cluster.node(&OFF);
    seed(&local).await?;
    seed(&remote).await?;
    let (local_server, remote_server) = (local.serve().await?, remote.serve().await?);

    println!("{seconds} s per run, {RECORDS} records, rate limits off");
    println!(
        "{:<8} {:>5} {:>11} {:>8} {:>8} {:>12} {:>8} {:>8} {:>7}",
        "work",
        "conns",
        "local req/s",
        "p50 ms",
        "p99 ms",
        "libSQL req/s",
        "p50 ms",
        "p99 ms",
        "ratio"
    );
    let works = [(Work::Writes, "writes"), (Work::Reads, "reads")];
    for (work, name) in works.into_iter().filter(|(_, n)| n.contains(&only_work)) {
        let clients = CONNECTIONS.into_iter();
        for connections in clients.filter(|c| only_clients.is_none_or(|only| only == *c)) {
            let here = measure(&local_server.url(), work, connections, seconds).await?;
            let there = measure(&remote_server.url(), work, connections, seconds).await?;
            println!(
                "{name:<8} {connections:>5} {:>11.0} {:>8.2} {:>8.2} {:>12.0} {:>8.2} {:>8.2} {:>6.2}x",
                here.per_second,
                here.p50,
                here.p99,
                there.per_second,
                there.p50,
                there.p99,
                there.per_second / here.per_second
            );
        }
    }
    Ok(())
}
