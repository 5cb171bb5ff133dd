//! The auth service: issues the movie system's access tokens to registered clients (OAuth 2.0
//! client credentials, RFC 6749 section 4.4) and publishes the public keys that verify them
//! (a JWKS). Clients live in its own SQLite database (`auth`); the signing key is a Spin variable,
//! or in development a key kept in that database ([`keyring`]).
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
    use crate::keyring::{Keyring, KeyringError};
    use crate::repository::sqlite::SqliteClientRepository;
    use service_kit::edge::{self, HttpResponse, Problem, respond};
    use service_kit::rate_limit::Limits;
    use service_kit::telemetry;
    use spin_sdk::http::Request;

    /// One controller over this instance's connection, keyring and settings per request.
    #[spin_sdk::http_service]
    async fn serve(request: Request) -> HttpResponse {
        let configured = async {
            let limits = Limits::for_instance().await?;
            let settings = TokenSettings::for_instance().await?;
            Ok::<_, service_kit::instance::ConfigError>((limits, settings))
        };
        let (limits, settings) = match configured.await {
            Ok(configured) => configured,
            Err(error) => return respond::misconfigured("auth", error),
        };
        // Named before the keyring loads, so its development-key warning says whose it is.
        telemetry::name_component("auth");
        let repository = SqliteClientRepository::for_instance();
        let keyring = match Keyring::for_instance(&repository).await {
            Ok(keyring) => keyring,
            Err(KeyringError::Misconfigured(error)) => {
                return respond::misconfigured("auth", error);
            }
            Err(KeyringError::Storage(failure)) => {
                // Before any route is known, like a misconfiguration: a line of its own.
                telemetry::warn("auth.development_key_unavailable")
                    .cause(&failure)
                    .emit();
                return Problem::from(failure).into_response();
            }
        };
        let controller = AuthController::new(repository, keyring, settings).with_limits(limits);
        edge::serve(&controller, request).await
    }
}
