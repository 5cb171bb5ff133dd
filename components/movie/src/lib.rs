//! The movie service: a movie's metadata and aggregated rating, composed from the metadata
//! and rating services, which it calls concurrently over outbound HTTP.
//!
//! Four rooms, as in the book: [`model`], [`controller`] (rules, and the gateway traits it
//! needs), [`gateway`] (the upstreams over HTTP) and [`handler`] (HTTP), plus [`config`]
//! (where the upstreams are) and [`cache`] (its key-value store).
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod cache;
pub mod config;
pub mod controller;
pub mod gateway;
pub mod handler;
pub mod model;
pub mod representation;

/// The component's export, only on wasm: native builds (unit tests) have no Spin host to link.
#[cfg(target_arch = "wasm32")]
mod entry {
    use crate::cache::KeyValueCache;
    use crate::controller::MovieController;
    use crate::gateway::metadata::HttpMetadataGateway;
    use crate::gateway::rating::HttpRatingGateway;
    use crate::handler;
    use service_kit::HttpResponse;
    use spin_sdk::http::Request;

    #[spin_sdk::http_service]
    async fn serve(request: Request) -> HttpResponse {
        let controller =
            MovieController::new(HttpMetadataGateway, HttpRatingGateway, KeyValueCache);
        handler::handle(&controller, request).await
    }
}
