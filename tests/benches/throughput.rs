//! Throughput and latency of the movie system's main routes through the test host, over HTTP
//! with keep-alive, as a load tool would see `spin up` (the same wasmtime pool Spin uses, but
//! not Spin's listener: compare routes with each other, not with the absolute figures measured
//! under Spin in `docs/spin-facts.md`).
//!
//! `cargo bench -p spin-test-host --bench throughput` (optional arguments: seconds per route,
//! concurrent connections).

use futures::future::join_all;
use http::Method;
use serde_json::json;
use spin_test_host::{App, AppOptions, movie_system};
use std::time::{Duration, Instant};

const MOVIES: usize = 100;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let connections: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);

    let root = tempfile::tempdir()?;
    let app = movie_system::load(root.path(), AppOptions::default())?;
    seed(&app).await?;
    let server = app.serve().await?;
    println!("{connections} connections, {seconds} s per route, {MOVIES} movies");
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9}",
        "route", "req/s", "p50 ms", "p90 ms", "p99 ms"
    );
    for (label, method, path) in [
        ("GET /metadata/{id}", Method::GET, "/metadata/m{i}"),
        (
            "GET /ratings/movie/{id}",
            Method::GET,
            "/ratings/movie/m{i}",
        ),
        (
            "GET /movies/{id} (two upstreams)",
            Method::GET,
            "/movies/m{i}",
        ),
        (
            "PUT /ratings/movie/{id}/users/{u}",
            Method::PUT,
            "/ratings/movie/m{i}/users/bench",
        ),
    ] {
        let run = load(
            &server.url(),
            method,
            path,
            connections,
            Duration::from_secs(seconds),
        )
        .await?;
        println!(
            "{label:<34} {:>9.0} {:>9.2} {:>9.2} {:>9.2}",
            run.per_second, run.p50, run.p90, run.p99
        );
    }
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

struct Run {
    per_second: f64,
    p50: f64,
    p90: f64,
    p99: f64,
}

/// `connections` clients, each sending requests back to back on its own keep-alive connection
/// for `duration`, cycling through the movies.
async fn load(
    base: &str,
    method: Method,
    path: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let workers = (0..connections).map(|worker| {
        let method = method.clone();
        let base = base.to_owned();
        let path = path.to_owned();
        async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()?;
            let mut latencies = Vec::new();
            let mut i = worker;
            while started.elapsed() < duration {
                let url = format!("{base}{}", path.replace("{i}", &(i % MOVIES).to_string()));
                let request = client.request(method.clone(), url);
                let request = if method == Method::PUT {
                    request.json(&json!({"value": i % 5 + 1}))
                } else {
                    request
                };
                let sent = Instant::now();
                let response = request.send().await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "{} answered {}",
                    path,
                    response.status()
                );
                response.bytes().await?;
                latencies.push(sent.elapsed());
                i += connections;
            }
            anyhow::Ok(latencies)
        }
    });
    let mut latencies: Vec<Duration> = Vec::new();
    for worker in join_all(workers).await {
        latencies.extend(worker?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let quantile = |q: f64| {
        let index = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
        latencies
            .get(index)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Ok(Run {
        per_second: latencies.len() as f64 / elapsed,
        p50: quantile(0.5),
        p90: quantile(0.9),
        p99: quantile(0.99),
    })
}
