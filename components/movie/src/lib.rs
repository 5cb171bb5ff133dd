//! The movie service: a movie's metadata and aggregated rating, composed from the metadata
//! and rating services, which it calls concurrently over outbound HTTP.
//!
//! Four rooms, as in the book: [`model`], [`controller`] (rules, and the gateway traits it
//! needs), [`gateway`] (the upstreams over HTTP) and [`handler`] (HTTP), plus [`config`]
//! (where the upstreams are) and [`cache`] (its key-value store).

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
    use crate::config::Upstreams;
    use crate::controller::{MovieController, MovieError};
    use crate::gateway::metadata::HttpMetadataGateway;
    use crate::gateway::rating::HttpRatingGateway;
    use service_kit::edge::{self, HttpResponse, Problem};
    use spin_sdk::http::Request;

    /// The gateways get their upstream URLs here, read once per instance; the routes are in
    /// [`crate::handler`]. Without usable upstream URLs nothing can be served: a 500, and the
    /// cause in the log.
    #[spin_sdk::http_service]
    async fn serve(request: Request) -> HttpResponse {
        let upstreams = match Upstreams::for_instance().await {
            Ok(upstreams) => upstreams,
            Err(error) => return Problem::from(MovieError::from(error)).into_response(),
        };
        let controller = MovieController::new(
            HttpMetadataGateway::new(upstreams.metadata),
            HttpRatingGateway::new(upstreams.rating),
            KeyValueCache,
        );
        edge::serve(&controller, request).await
    }
}
