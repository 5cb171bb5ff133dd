//! Bulk import and export of movie metadata through the test host over loopback HTTP, as a
//! client would use them: rows per second and megabytes per second each way, the time to the
//! export's first byte, and the largest linear memory a metadata instance grew to.
//!
//! `cargo bench -p spin-test-host --bench bulk [-- ROWS ROUNDS]` (100,000 rows, 3 rounds; each
//! round imports into a fresh database, then exports it).

use spin_test_host::{AppOptions, movie_system};
use std::time::{Duration, Instant};

/// `rows` movies as NDJSON, in id order.
fn movies(rows: usize) -> String {
    (0..rows)
        .map(|i| {
            format!(
                "{{\"id\":\"m{i:06}\",\"title\":\"Title {i}\",\"description\":\"A movie about the number {i}\",\"director\":\"Director {}\"}}\n",
                i % 97
            )
        })
        .collect()
}

struct Round {
    import: Duration,
    first_byte: Duration,
    export: Duration,
    exported_bytes: usize,
    peak_memory: usize,
}

async fn round(body: &str, rows: usize) -> anyhow::Result<Round> {
    let root = tempfile::tempdir()?;
    let app = movie_system::load_built(root.path(), AppOptions::default())?;
    let server = app.serve().await?;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let imported = client
        .post(format!("{}/metadata/import", server.url()))
        .bearer_auth(movie_system::editor_token())
        .header("content-type", "application/x-ndjson")
        .body(body.to_owned())
        .send()
        .await?;
    anyhow::ensure!(imported.status() == 200, "import: {}", imported.status());
    let report: serde_json::Value = imported.json().await?;
    let import = started.elapsed();
    anyhow::ensure!(report["movies"] == rows, "import report: {report}");

    let started = Instant::now();
    let mut response = client
        .get(format!("{}/metadata/export", server.url()))
        .send()
        .await?;
    let mut first_byte = None;
    let mut exported_bytes = 0;
    let mut lines = 0;
    while let Some(chunk) = response.chunk().await? {
        first_byte.get_or_insert_with(|| started.elapsed());
        exported_bytes += chunk.len();
        lines += chunk.iter().filter(|&&b| b == b'\n').count();
    }
    let export = started.elapsed();
    anyhow::ensure!(lines == rows, "exported {lines} lines of {rows}");
    let peak_memory = app
        .stats("metadata")
        .map_or(0, |stats| stats.peak_memory_bytes());
    Ok(Round {
        import,
        first_byte: first_byte.unwrap_or(export),
        export,
        exported_bytes,
        peak_memory,
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rows = args.first().copied().unwrap_or(100_000);
    let rounds = args.get(1).copied().unwrap_or(3);
    movie_system::build()?;
    let body = movies(rows);
    let mb = |bytes: usize, time: Duration| bytes as f64 / 1e6 / time.as_secs_f64();
    println!(
        "{rows} movies, {:.1} MB of NDJSON, through the test host on loopback",
        body.len() as f64 / 1e6
    );
    println!(
        "{:>6} {:>10} {:>9} {:>8} {:>10} {:>9} {:>8} {:>11} {:>12}",
        "round",
        "import s",
        "rows/s",
        "MB/s",
        "export s",
        "rows/s",
        "MB/s",
        "first byte",
        "peak memory"
    );
    for n in 1..=rounds {
        let r = round(&body, rows).await?;
        println!(
            "{n:>6} {:>10.2} {:>9.0} {:>8.1} {:>10.2} {:>9.0} {:>8.1} {:>9.1}ms {:>10.2}MiB",
            r.import.as_secs_f64(),
            rows as f64 / r.import.as_secs_f64(),
            mb(body.len(), r.import),
            r.export.as_secs_f64(),
            rows as f64 / r.export.as_secs_f64(),
            mb(r.exported_bytes, r.export),
            r.first_byte.as_secs_f64() * 1000.0,
            r.peak_memory as f64 / (1024.0 * 1024.0),
        );
    }
    Ok(())
}
