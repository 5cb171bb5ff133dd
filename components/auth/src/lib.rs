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
    use crate::migrations::DATABASE;
    use crate::repository::sqlite::SqliteClientRepository;
    use service_kit::edge::{self, CountsIn, HttpResponse, Problem, Setup};
    use spin_sdk::http::Request;

    /// One controller over this instance's connection, keyring and settings per request,
    /// behind the kit's edge (token requests counted per client address in the same database).
    #[spin_sdk::http_service]
    async fn serve(request: Request) -> HttpResponse {
        edge::run(CountsIn(&DATABASE), request, async |_| {
            let settings = TokenSettings::for_instance().await?;
            let repository = SqliteClientRepository::for_instance();
            let keyring = match Keyring::for_instance(&repository).await {
                Ok(keyring) => keyring,
                Err(KeyringError::Misconfigured(error)) => return Err(error.into()),
                Err(KeyringError::Storage(failure)) => {
                    return Err(Setup::Unavailable(Problem::from(failure)));
                }
            };
            Ok((AuthController::new(repository, keyring, settings), ()))
        })
        .await
    }
}
