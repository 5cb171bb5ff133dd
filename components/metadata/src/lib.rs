//! The metadata service: titles, descriptions and directors of movies, in its own SQLite
//! database (`metadata`).
//!
//! The book's four rooms, [`model`] (validated types), [`controller`] (rules, and the
//! repository trait it needs), [`repository`] (SQLite and in-memory) and [`handler`] (HTTP),
//! with a second surface, [`grpc`] (the book's `MetadataService`, over the same edge), the
//! bulk [`import`], and the database's [`migrations`] and wire views ([`representation`]).

pub mod controller;
pub mod grpc;
pub mod handler;
pub mod import;
pub mod migrations;
pub mod model;
pub mod repository;
pub mod representation;

/// The component's export, only on wasm: native builds (unit tests) have no Spin host to link.
#[cfg(target_arch = "wasm32")]
mod entry {
    use crate::controller::MetadataController;
    use crate::repository::sqlite::SqliteMetadataRepository;
    use service_kit::auth::config::Trust;
    use service_kit::edge::{self, HttpResponse, respond};
    use service_kit::rate_limit::Limits;
    use spin_sdk::http::Request;

    /// One controller over this instance's shared connection per request; the routes are in
    /// [`crate::handler`].
    #[spin_sdk::http_service]
    async fn serve(request: Request) -> HttpResponse {
        let limits = match Limits::for_instance().await {
            Ok(limits) => limits,
            Err(error) => return respond::misconfigured("metadata", error),
        };
        let trust = match Trust::for_instance().await {
            Ok(trust) => trust,
            Err(error) => return respond::misconfigured("metadata", error),
        };
        let controller = MetadataController::new(SqliteMetadataRepository::for_instance())
            .with_limits(limits)
            .with_trust(trust);
        edge::serve(&controller, request).await
    }
}
