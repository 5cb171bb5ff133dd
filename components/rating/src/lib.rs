//! The rating service: users' ratings of records, aggregated per record, in its own SQLite
//! database (`ratings`).
//!
//! The book's four rooms, [`model`] (validated types), [`controller`] (rules, and the
//! repository trait it needs), [`repository`] (SQLite and in-memory) and [`handler`] (HTTP),
//! with the gRPC surface [`grpc`], what both surfaces read alike ([`surface`]), the wire views
//! ([`representation`]), the event pipeline ([`events`]), the reconciliation job
//! ([`reconcile`]) and the database's [`migrations`].

pub mod controller;
pub mod events;
pub mod grpc;
pub mod handler;
pub mod migrations;
pub mod model;
pub mod reconcile;
pub mod repository;
pub mod representation;
pub mod surface;

/// The component's export, only on wasm: native builds (unit tests) have no Spin host to link.
#[cfg(target_arch = "wasm32")]
mod entry {
    use crate::controller::RatingController;
    use crate::migrations::DATABASE;
    use crate::repository::sqlite::SqliteRatingRepository;
    use service_kit::edge::{self, CountsIn, HttpResponse};
    use spin_sdk::http::Request;

    /// One controller over this instance's shared connection per request, with the event
    /// log's address, behind the kit's edge (writes counted in the same database); the routes
    /// are in [`crate::handler`].
    #[spin_sdk::http_service]
    async fn serve(request: Request) -> HttpResponse {
        edge::run(CountsIn(&DATABASE), request, async |_| {
            let address = crate::events::redis_address().await?;
            let controller =
                RatingController::new(SqliteRatingRepository::for_instance()).with_events(&address);
            Ok((controller, ()))
        })
        .await
    }
}

/// The ingestion consumer's export, for the Redis trigger (`spin-events.toml`): each message
/// on the wake channel runs one [`crate::events::consumer::drain`]. The message itself carries
/// nothing; the events are in the stream.
#[cfg(target_arch = "wasm32")]
mod ingest {
    use crate::events::consumer::{Drained, drain};
    use crate::events::log::RedisLog;
    use crate::events::{redis_address, settings};
    use crate::repository::sqlite_events::SqliteEventStore;
    use service_kit::instance::now_ms;
    use service_kit::telemetry;

    /// An error is returned to Spin, which logs it; the entries it concerned stay pending in
    /// the stream and are taken over by a later wake-up.
    #[spin_sdk::redis_subscriber]
    async fn on_wake(_message: Vec<u8>) -> Result<(), String> {
        telemetry::name_component("rating-ingest");
        let drained = wake().await.inspect_err(|cause| {
            telemetry::error("events.drain_failed").cause(cause).emit();
        })?;
        telemetry::info("events.drained")
            .with("events.applied", drained.applied.applied)
            .with("events.duplicates", drained.applied.duplicates)
            .with("events.superseded", drained.applied.superseded)
            .with("events.dead_lettered", drained.dead_lettered)
            .with("events.handed_on", drained.handed_on)
            .emit();
        Ok(())
    }

    async fn wake() -> Result<Drained, String> {
        let settings = settings().await.map_err(|error| error.to_string())?;
        let address = redis_address().await.map_err(|error| error.to_string())?;
        let log = RedisLog::open(&address)
            .await
            .map_err(|failure| failure.to_string())?;
        let store = SqliteEventStore::dedicated();
        drain(&log, &store, settings, now_ms)
            .await
            .map_err(|failure| failure.to_string())
    }
}
