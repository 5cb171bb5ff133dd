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
    use crate::migrations::DATABASE;
    use crate::repository::sqlite::SqliteMetadataRepository;
    use service_kit::edge::{self, CountsIn, HttpResponse};
    use spin_sdk::http::Request;

    /// One controller over this instance's shared connection per request, behind the kit's
    /// edge (writes counted in the same database); the routes are in [`crate::handler`].
    #[spin_sdk::http_service]
    async fn serve(request: Request) -> HttpResponse {
        edge::run(CountsIn(&DATABASE), request, async |_| {
            Ok((
                MetadataController::new(SqliteMetadataRepository::for_instance()),
                (),
            ))
        })
        .await
    }
}
