//! Events applied per second by the ingestion consumer through the test host, one by one and
//! in batches: a backlog is published to a real `redis-server` while the consumer is stopped,
//! then the consumer is started and woken once, and the clock runs until the stream is empty
//! (every entry applied, acknowledged and deleted).
//!
//! `cargo bench -p spin-test-host --bench events [-- EVENTS]`: the backlog of the batched runs
//! (20,000; the one-by-one run gets a tenth). Needs `redis-server` on `PATH`.

use rating::events::event::RatingEvent;
use spin_test_host::redis_server::RedisServer;
use spin_test_host::{AppOptions, movie_system};
use std::time::{Duration, Instant};

/// `count` puts by distinct users over 100 records, as a provider's bulk import.
fn backlog(count: usize) -> Vec<RatingEvent> {
    let events: Vec<serde_json::Value> = (0..count)
        .map(|i| {
            serde_json::json!({
                "eventId": format!("bench-{i}"), "userId": format!("u{i}"),
                "recordId": format!("m{}", i % 100), "recordType": "movie",
                "value": 1 + i % 5, "providerId": "bench", "eventType": "put"
            })
        })
        .collect();
    let file = serde_json::to_vec(&events).unwrap_or_default();
    ratingingester::read_events(&file).unwrap_or_else(|errors| panic!("{errors:?}"))
}

/// Applies `count` events with `batch_size` per transaction; events per second.
async fn run(count: usize, batch_size: usize) -> anyhow::Result<f64> {
    let redis = RedisServer::start();
    let root = tempfile::tempdir()?;
    let options = AppOptions {
        variables: [
            ("events_redis_url".to_owned(), redis.url()),
            ("events_batch_size".to_owned(), batch_size.to_string()),
        ]
        .into(),
        ..AppOptions::default()
    };
    let consumer = movie_system::load_events(root.path(), options)?;
    let published = ratingingester::publish(&redis.url(), &backlog(count), 1_000)
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(published == count, "published {published} of {count}");
    let _listeners = consumer.start_redis().await?;
    let started = Instant::now();
    ratingingester::wake(&redis.url()).map_err(anyhow::Error::msg)?;
    while redis.command::<u64>("XLEN", &["ratings:events"]) > 0 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "not drained in 10 minutes:\n{}",
            consumer.logs()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let database = rusqlite::Connection::open(root.path().join(".spin/ratings.db"))?;
    let rows: usize = database.query_row("SELECT count(*) FROM ratings", [], |row| row.get(0))?;
    anyhow::ensure!(rows == count, "{rows} ratings for {count} events");
    Ok(count as f64 / elapsed.as_secs_f64())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let events: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    movie_system::build()?;
    println!("{:<22} {:>8} {:>12}", "consumer", "events", "events/s");
    for (label, count, batch_size) in [
        ("one by one", events / 10, 1),
        ("batches of 100", events, 100),
        ("batches of 500", events, 500),
        ("batches of 2000", events, 2_000),
    ] {
        let rate = run(count, batch_size).await?;
        println!("{label:<22} {count:>8} {rate:>12.0}");
    }
    Ok(())
}
