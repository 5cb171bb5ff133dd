//! The auth service: issues the movie system's access tokens to registered clients (OAuth 2.0
//! client credentials, RFC 6749 section 4.4) and publishes the public keys that verify them
//! (a JWKS). Clients live in its own SQLite database (`auth`); signing keys are Spin variables.
//!
//! The same rooms as the other services: [`model`] (validated types), [`controller`]
//! (issuance rules and the repository trait), [`repository`] (SQLite and in-memory),
//! [`handler`] (HTTP); [`keyring`] holds the signing key and the keys still published.

pub mod controller;
pub mod handler;
pub mod keyring;
pub mod migrations;
pub mod model;
pub mod repository;
pub mod secret;

/// The component's export, only on wasm: native builds (unit tests, authctl) have no Spin host.
#[cfg(target_arch = "wasm32")]
mod entry {
    use crate::controller::{AuthController, TokenSettings};
    use crate::keyring::Keyring;
    use crate::repository::sqlite::SqliteClientRepository;
    use service_kit::edge::{self, HttpResponse, respond};
    use service_kit::rate_limit::Limits;
    use spin_sdk::http::Request;

    /// One controller over this instance's connection, keyring and settings per request.
    #[spin_sdk::http_service]
    async fn serve(request: Request) -> HttpResponse {
        let configured = async {
            let limits = Limits::for_instance().await?;
            let keyring = Keyring::for_instance().await?;
            let settings = TokenSettings::for_instance().await?;
            Ok::<_, String>((limits, keyring, settings))
        };
        let (limits, keyring, settings) = match configured.await {
            Ok(configured) => configured,
            Err(error) => return respond::misconfigured("auth", error),
        };
        let controller =
            AuthController::new(SqliteClientRepository::for_instance(), keyring, settings)
                .with_limits(limits);
        edge::serve(&controller, request).await
    }
}
