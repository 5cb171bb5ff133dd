//! How a service instance trusts tokens: the policy from its Spin variables, and the signing
//! keys from a JWKS given inline (`jwt_jwks`, any identity provider) or fetched from the
//! `auth` component (`auth_url`, service chaining by default) and kept by the instance.
//!
//! How long fetched keys are trusted, and how often they are fetched, is
//! [`super::held_keys`]'s: a removed key stops verifying within a minute, keys are not used
//! past ten minutes while fetches fail (503 then), and made-up key ids cost at most one fetch
//! per ten seconds, with or without keys held.

use super::claims::Principal;
use super::held_keys::{HeldKeys, Plan, REFETCH_AFTER_MS};
use super::keys::KeySet;
use super::verified::{Verified, VerifiedTokens};
use super::verify::{Presented, Rejection, TrustPolicy, Verifier, hs256_key};
use crate::instance::{ConfigError, now_ms, variable};
use chrono::{DateTime, Duration, Utc};
use std::cell::RefCell;
use std::rc::Rc;

/// Where the JWKS is published on the `auth` component (and so below `auth_url`).
pub const JWKS_PATH: &str = "/auth/.well-known/jwks.json";
/// How long a fetch may take.
pub const FETCH_TIMEOUT_MS: u64 = 1_000;

/// Where the keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS given in a variable, shared rather than copied for each verification.
    Inline(Rc<KeySet>),
    /// The JWKS at this URL, fetched and kept per instance.
    Remote(String),
}

/// A service's trust in tokens: the checks and the keys.
#[derive(Debug, Clone)]
pub struct Trust {
    pub verifier: Verifier,
    pub keys: KeySource,
}

impl Trust {
    /// A trust in the keys of `keys` alone, for tests and fixed deployments.
    pub fn inline(policy: TrustPolicy, keys: KeySet) -> Self {
        Self {
            verifier: Verifier::new(policy),
            keys: KeySource::Inline(Rc::new(keys)),
        }
    }

    /// The caller named by an `Authorization` header value, verified with `trust` (refused
    /// when the service has none): what a service's `HttpService::authenticate` returns.
    pub async fn verify_for(
        trust: Option<&Self>,
        authorization: Option<&str>,
    ) -> Result<Principal, Rejection> {
        match trust {
            Some(trust) => trust.authenticate(authorization).await,
            None => Err(Rejection::NotConfigured),
        }
    }

    /// The caller named by an `Authorization` header value, verified now, or found among the
    /// tokens this instance verified before ([`VerifiedTokens`]) while the fetched key that
    /// verified it is still held fresh.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, Rejection> {
        let now = now();
        let leeway = self.verifier.policy.leeway;
        let token = authorization.unwrap_or_default();
        if let Some(known) = VERIFIED.with(|cell| cell.borrow_mut().get(token, now, leeway)) {
            let key_still_held = known
                .fetched_key
                .as_deref()
                .is_none_or(|kid| FETCHED.with(|cell| cell.borrow().still_trusts(kid, now_ms())));
            if key_still_held {
                return Ok(known.caller);
            }
        }
        let verified = self.verify(authorization, now).await?;
        let caller = verified.caller.clone();
        VERIFIED.with(|cell| cell.borrow_mut().insert(token, verified, now, leeway));
        Ok(caller)
    }

    /// Verifies the token of an `Authorization` header value in full.
    async fn verify(
        &self,
        authorization: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Verified, Rejection> {
        let presented = Presented::from_header(authorization)?;
        let (keys, fetched_key) = match &self.keys {
            _ if presented.algorithm() != "EdDSA" => (None, None),
            KeySource::Inline(keys) => (Some(Rc::clone(keys)), None),
            KeySource::Remote(url) => {
                let kid = presented.key_id();
                let keys = remote_keys(url, kid).await?;
                (Some(keys), kid.map(str::to_owned))
            }
        };
        let key = keys
            .as_deref()
            .and_then(|keys| Verifier::key_for(&presented, keys));
        let caller = self.verifier.verify(&presented, key, now)?;
        Ok(Verified {
            caller,
            fetched_key,
        })
    }

    /// The trust of this instance, from its variables: `jwt_issuer`, `jwt_audience`,
    /// `jwt_leeway_s`, `jwt_hs256_secret` (empty: HS256 refused), `jwt_jwks` (empty: fetch
    /// from `auth_url`).
    /// Shared, so a request takes a reference count instead of copying the policy and keys.
    pub async fn for_instance() -> Result<Rc<Self>, ConfigError> {
        if let Some(trust) = TRUST.with(|cell| cell.borrow().clone()) {
            return Ok(trust);
        }
        let leeway_s = variable("jwt_leeway_s").await?;
        let leeway_s: u16 = leeway_s.trim().parse().map_err(|_| {
            ConfigError::invalid(
                "jwt_leeway_s",
                format!("{leeway_s:?} is not a number of seconds"),
            )
        })?;
        let secret = variable("jwt_hs256_secret").await?;
        let hs256 = if secret.is_empty() {
            None
        } else {
            let key = hs256_key(secret.as_bytes())
                .map_err(|error| ConfigError::invalid("jwt_hs256_secret", error))?;
            Some(key)
        };
        let policy = TrustPolicy {
            issuer: variable("jwt_issuer").await?,
            audience: variable("jwt_audience").await?,
            leeway: Duration::seconds(i64::from(leeway_s)),
            hs256,
        };
        let inline = variable("jwt_jwks").await?;
        let keys = if inline.trim().is_empty() {
            let base = variable("auth_url").await?;
            KeySource::Remote(format!("{}{JWKS_PATH}", base.trim_end_matches('/')))
        } else {
            KeySource::Inline(Rc::new(
                KeySet::parse(inline.as_bytes())
                    .map_err(|error| ConfigError::invalid("jwt_jwks", error))?,
            ))
        };
        let trust = Rc::new(Self {
            verifier: Verifier::new(policy),
            keys,
        });
        TRUST.with(|cell| cell.replace(Some(Rc::clone(&trust))));
        Ok(trust)
    }
}

thread_local! {
    /// The instance's trust, read from its variables once.
    static TRUST: RefCell<Option<Rc<Trust>>> = const { RefCell::new(None) };
    /// The tokens the instance has verified.
    static VERIFIED: RefCell<VerifiedTokens> = RefCell::new(VerifiedTokens::default());
    /// The instance's fetched keys, and when it fetched them or last tried.
    static FETCHED: RefCell<HeldKeys> = RefCell::new(HeldKeys::default());
}

/// The fetched keys to check a token naming `kid` with, as [`HeldKeys::plan`] decides.
async fn remote_keys(url: &str, kid: Option<&str>) -> Result<Rc<KeySet>, Rejection> {
    match FETCHED.with(|cell| cell.borrow().plan(kid, now_ms())) {
        Plan::Use(keys) => Ok(keys),
        Plan::Unavailable => Err(Rejection::KeysUnavailable(format!(
            "the last fetch failed less than {} s ago",
            REFETCH_AFTER_MS / 1000
        ))),
        Plan::Fetch => {
            let outcome = fetch(url).await;
            if let Err(cause) = &outcome {
                crate::telemetry::warn("auth.jwks_fetch_failed")
                    .with("url.full", url.to_string())
                    .cause(cause)
                    .emit();
            }
            FETCHED
                .with(|cell| cell.borrow_mut().fetched(outcome, now_ms()))
                .map_err(Rejection::KeysUnavailable)
        }
    }
}

#[cfg(target_arch = "wasm32")]
async fn fetch(url: &str) -> Result<KeySet, String> {
    use http_body_util::{BodyExt, Limited};
    use spin_sdk::http::EmptyBody;
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(EmptyBody::new())
        .map_err(|error| error.to_string())?;
    let exchange = async {
        let response = spin_sdk::http::send(request)
            .await
            .map_err(|error| format!("{error:?}"))?;
        if response.status() != http::StatusCode::OK {
            return Err(format!("answered {}", response.status()));
        }
        let body = Limited::new(response.into_body(), 64 * 1024)
            .collect()
            .await
            .map_err(|error| error.to_string())?
            .to_bytes();
        KeySet::parse(&body).map_err(|error| error.to_string())
    };
    let timer = spin_sdk::time::sleep(std::time::Duration::from_millis(FETCH_TIMEOUT_MS));
    crate::deadline::within(timer, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {FETCH_TIMEOUT_MS} ms")))
}

/// Native builds (unit tests) have no outbound HTTP.
#[cfg(not(target_arch = "wasm32"))]
async fn fetch(url: &str) -> Result<KeySet, String> {
    Err(format!("GET {url}: no outbound HTTP outside wasm"))
}

/// The wall clock, which token times are stated in.
pub fn now() -> DateTime<Utc> {
    let ms = i64::try_from(now_ms()).unwrap_or(i64::MAX);
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
