//! The load driver the throughput benchmarks share: `connections` clients, each sending
//! requests back to back on its own keep-alive connection for a fixed time, every answer
//! required to be 2xx, and the latencies' quantiles.

use futures::future::join_all;
use std::time::{Duration, Instant};

pub struct Run {
    pub per_second: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

/// Runs `connections` clients for `duration`; `request(client, worker, n)` builds client
/// `worker`'s `n`th request.
pub async fn run(
    connections: usize,
    duration: Duration,
    request: impl Fn(&reqwest::Client, usize, usize) -> reqwest::RequestBuilder,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let request = &request;
    let workers = (0..connections).map(|worker| async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()?;
        let mut latencies = Vec::new();
        let mut n = 0;
        while started.elapsed() < duration {
            let sent = Instant::now();
            let response = request(&client, worker, n).send().await?;
            let status = response.status();
            response.bytes().await?;
            anyhow::ensure!(
                status.is_success(),
                "request {n} of client {worker} answered {status}"
            );
            latencies.push(sent.elapsed());
            n += 1;
        }
        anyhow::Ok(latencies)
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
