//! The movie service: a movie's metadata and aggregated rating, composed from the metadata
//! and rating services, which it calls concurrently over outbound HTTP.
//!
//! The book's rooms, [`model`], [`controller`] (rules, and the gateway, store and clock traits
//! it needs), [`gateway`] (the upstreams over HTTP) and [`handler`] (HTTP), with the gRPC
//! surface [`grpc`] and what both say about a view in headers ([`view_headers`]), plus
//! [`config`] (Spin variables), [`cache`] (the two cache levels), [`reliability`] (retries
//! and circuit breakers; deadlines are the kit's), [`clock`], [`representation`] and
//! [`migrations`] (movie's own SQLite database, which holds the rate limit's counts).

pub mod cache;
pub mod clock;
pub mod config;
pub mod controller;
#[cfg(test)]
pub mod fakes;
pub mod gateway;
pub mod grpc;
pub mod handler;
pub mod migrations;
pub mod model;
pub mod reliability;
pub mod representation;
pub mod view_headers;

/// The component's export, only on wasm: native builds (unit tests) have no Spin host to link.
#[cfg(target_arch = "wasm32")]
mod entry {
    use crate::cache::memory::MemoryCache;
    use crate::cache::store::KeyValueCache;
    use crate::clock::WasiClock;
    use crate::config::Config;
    use crate::controller::{MovieController, Ports};
    use crate::gateway::metadata::HttpMetadataGateway;
    use crate::gateway::outbound::Outbound;
    use crate::gateway::rating::HttpRatingGateway;
    use crate::migrations::DATABASE;
    use service_kit::edge::{self, CountsIn, HttpResponse};
    use service_kit::telemetry::RequestId;
    use spin_sdk::http::Request;

    /// What the controller reaches in Spin: the upstreams over outbound HTTP, the `cache`
    /// key-value store and the WASI clocks.
    struct SpinPorts {
        metadata: HttpMetadataGateway,
        rating: HttpRatingGateway,
    }

    impl Ports for SpinPorts {
        type Metadata = HttpMetadataGateway;
        type Rating = HttpRatingGateway;
        type Cache = KeyValueCache;
        type Clock = WasiClock;

        fn metadata(&self) -> &HttpMetadataGateway {
            &self.metadata
        }

        fn rating(&self) -> &HttpRatingGateway {
            &self.rating
        }

        fn cache(&self) -> &KeyValueCache {
            &KeyValueCache
        }

        fn clock(&self) -> &WasiClock {
            &WasiClock
        }
    }

    thread_local! {
        /// The instance's memory level of the view cache.
        static MEMORY: MemoryCache = MemoryCache::default();
    }

    /// The controller gets its configuration here, read once per instance, and the instance's
    /// memory cache, behind the kit's edge (views that reach the upstreams counted in movie's
    /// own database); the routes are in [`crate::handler`]. Without a usable configuration
    /// nothing can be served: a 500, and the cause in the log.
    #[spin_sdk::http_service]
    async fn serve(request: Request) -> HttpResponse {
        edge::run(CountsIn(&DATABASE), request, async |request| {
            // The id is settled first, so that the upstreams and the access line share it.
            let outbound = Outbound::new(RequestId::assign(request.headers_mut()));
            let config = Config::for_instance().await?;
            let ports = SpinPorts {
                metadata: HttpMetadataGateway::new(
                    config.upstreams.metadata,
                    config.upstreams.protocol,
                    outbound.clone(),
                ),
                rating: HttpRatingGateway::new(
                    config.upstreams.rating,
                    config.upstreams.protocol,
                    outbound.clone(),
                ),
            };
            let controller =
                MovieController::new(ports, MEMORY.with(MemoryCache::clone), config.settings);
            Ok((controller, outbound))
        })
        .await
    }
}
