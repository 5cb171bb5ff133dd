//! Issuance rules, independent of HTTP and SQLite: who gets a token, with which scopes, for how
//! long.

use crate::keyring::Keyring;
use crate::model::{Client, ClientId, ScopeSet, TokenRequest};
use crate::secret;
use chrono::{DateTime, Duration, Utc};
use service_kit::StorageFailure;
use service_kit::auth::sign::Issue;
use service_kit::instance::{ConfigError, variable};

/// What the controller needs from storage, declared by its consumer.
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait ClientRepository {
    async fn client(&self, id: &ClientId) -> Result<Option<Client>, StorageFailure>;
    async fn ping(&self) -> Result<(), StorageFailure>;
}

/// What tokens say about their issuer and how long they live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub lifetime: Duration,
}

impl TokenSettings {
    /// From `jwt_issuer`, `jwt_audience` (shared with the services that verify) and
    /// `auth_token_lifetime_s`, read once per instance: variables do not change while an app
    /// runs, and each read is a host call.
    pub async fn for_instance() -> Result<Self, ConfigError> {
        thread_local! {
            static SETTINGS: std::cell::RefCell<Option<TokenSettings>> =
                const { std::cell::RefCell::new(None) };
        }
        if let Some(settings) = SETTINGS.with(|cell| cell.borrow().clone()) {
            return Ok(settings);
        }
        let settings = Self::read().await?;
        SETTINGS.with(|cell| cell.replace(Some(settings.clone())));
        Ok(settings)
    }

    async fn read() -> Result<Self, ConfigError> {
        let lifetime = variable("auth_token_lifetime_s").await?;
        let seconds: u32 = lifetime
            .trim()
            .parse()
            .ok()
            .filter(|seconds| (1..=86_400).contains(seconds))
            .ok_or_else(|| {
                ConfigError::invalid(
                    "auth_token_lifetime_s",
                    format!("{lifetime:?} is not 1 to 86400 seconds"),
                )
            })?;
        Ok(Self {
            issuer: variable("jwt_issuer").await?,
            audience: variable("jwt_audience").await?,
            lifetime: Duration::seconds(i64::from(seconds)),
        })
    }
}

/// Why no token was issued.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Unknown client or wrong secret: deliberately the same error for both.
    #[error("the client could not be authenticated")]
    InvalidClient,
    #[error("the client is not registered for {0}")]
    InvalidScope(String),
    #[error(
        "no signing key is configured (variable auth_signing_key) and auth_development_key is false"
    )]
    NoSigningKey,
    #[error(transparent)]
    Storage(#[from] StorageFailure),
}

/// A token and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub token: String,
    pub scope: ScopeSet,
    pub lifetime: Duration,
}

pub struct AuthController<R> {
    pub(crate) repository: R,
    pub(crate) keyring: Keyring,
    pub(crate) settings: TokenSettings,
}

impl<R: ClientRepository> AuthController<R> {
    pub fn new(repository: R, keyring: Keyring, settings: TokenSettings) -> Self {
        Self {
            repository,
            keyring,
            settings,
        }
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// A token for a registered client whose secret matches, with the scopes it asked for (all
    /// it is registered with when it names none), valid from `now` for the configured
    /// lifetime. `token_id` must be unique (random).
    pub async fn issue(
        &self,
        request: &TokenRequest,
        now: DateTime<Utc>,
        token_id: &str,
    ) -> Result<Issued, TokenError> {
        let signer = self.keyring.signer().ok_or(TokenError::NoSigningKey)?;
        let credentials = &request.credentials;
        let Some(client) = self.repository.client(&credentials.client).await? else {
            secret::spend_as_much_as_a_check(credentials.secret.expose());
            return Err(TokenError::InvalidClient);
        };
        if !secret::matches(credentials.secret.expose(), &client.secret_hash) {
            return Err(TokenError::InvalidClient);
        }
        let scope = match &request.scope {
            Some(asked) if !asked.is_within(&client.scopes) => {
                return Err(TokenError::InvalidScope(asked.to_claim()));
            }
            Some(asked) => asked.clone(),
            None => client.scopes.clone(),
        };
        let token = signer.sign(&Issue {
            issuer: &self.settings.issuer,
            audience: &self.settings.audience,
            subject: client.id.as_str(),
            scope: &scope.to_claim(),
            id: token_id,
            now,
            lifetime: self.settings.lifetime,
        });
        Ok(Issued {
            token,
            scope,
            lifetime: self.settings.lifetime,
        })
    }

    pub async fn health(&self) -> Result<(), StorageFailure> {
        self.repository.ping().await
    }
}
