//! Asynchronous rating ingestion: rating providers publish [`event::RatingEvent`]s, and the
//! ingestion consumer applies them to the ratings database, at least once and idempotently.
//!
//! - [`event`]: the event and its validation (the REST rules).
//! - [`stream`]: the Redis stream protocol: keys, ids, reply parsing.
//! - [`log`]: the log as producers and the consumer use it, on Spin's outbound Redis.
//! - [`batch`]: the rules of applying a batch (duplicates, per-rating order).
//! - [`consumer`]: one wake-up of the consumer.
//!
//! `ARCHITECTURE.md` ("Asynchronous ingestion") explains the design and each failure case.

pub mod batch;
pub mod consumer;
pub mod event;
pub mod log;
pub mod stream;

use consumer::Settings;
use service_kit::instance::variable;

/// Most events one `POST /ratings/events` may carry (the body is also capped at 64 KiB).
pub const MAX_EVENTS_PER_REQUEST: usize = 500;

/// The event log's address (`redis://host:port`), from the component's `redis_url`.
pub async fn redis_address() -> Result<String, String> {
    variable("redis_url").await
}

/// The consumer's settings, from its variables (`events_batch_size`, `events_claim_idle_ms`,
/// `events_max_deliveries`).
pub async fn settings() -> Result<Settings, String> {
    async fn number(name: &str, min: u64, max: u64) -> Result<u64, String> {
        let raw = variable(name).await?;
        raw.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                format!("variable {name} must be an integer from {min} to {max}, not {raw:?}")
            })
    }
    Ok(Settings {
        batch_size: usize::try_from(number("events_batch_size", 1, 2_000).await?)
            .unwrap_or(Settings::default().batch_size),
        claim_idle_ms: number("events_claim_idle_ms", 100, 3_600_000).await?,
        max_deliveries: number("events_max_deliveries", 1, 100).await?,
        ..Settings::default()
    })
}
