//! How a service instance trusts tokens: the policy from its Spin variables, and the signing
//! keys from a JWKS given inline (`jwt_jwks`, any identity provider) or fetched from the
//! `auth` component (`auth_url`, service chaining by default) and kept by the instance.
//!
//! The fetched set is reused for [`KEYS_FRESH_MS`]; a token naming a key the set lacks makes
//! the instance fetch again (a rotation published since), at most once per
//! [`REFETCH_AFTER_MS`], so tokens with made-up key ids cannot turn every request into a fetch.
//! When a fetch fails, the keys already held are used; with none held, the request is a 503.

use super::claims::Principal;
use super::keys::KeySet;
use super::verified::VerifiedTokens;
use super::verify::{Presented, Rejection, TrustPolicy, Verifier};
use crate::instance::{now_ms, variable};
use chrono::{DateTime, Duration, Utc};
use jwt_compact::alg::Hs256Key;
use std::cell::RefCell;
use std::rc::Rc;

/// Where the JWKS is published on the `auth` component (and so below `auth_url`).
pub const JWKS_PATH: &str = "/auth/.well-known/jwks.json";
/// How long fetched keys are used before they are fetched again.
pub const KEYS_FRESH_MS: u64 = 300_000;
/// The least time between two fetches, however many unknown key ids arrive.
pub const REFETCH_AFTER_MS: u64 = 10_000;
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
    /// tokens this instance verified before ([`VerifiedTokens`]).
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, Rejection> {
        let now = now();
        let leeway = self.verifier.policy.leeway;
        let token = authorization.unwrap_or_default();
        if let Some(known) = VERIFIED.with(|cell| cell.borrow_mut().get(token, now, leeway)) {
            return Ok(known);
        }
        let caller = self.verify(authorization, now).await?;
        VERIFIED.with(|cell| cell.borrow_mut().insert(token, caller.clone(), now, leeway));
        Ok(caller)
    }

    /// Verifies the token of an `Authorization` header value in full.
    async fn verify(
        &self,
        authorization: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Principal, Rejection> {
        let presented = Presented::from_header(authorization)?;
        if presented.algorithm() != "EdDSA" {
            return self.verifier.verify(&presented, None, now);
        }
        let keys = match &self.keys {
            KeySource::Inline(keys) => Rc::clone(keys),
            KeySource::Remote(url) => remote_keys(url, presented.key_id()).await?,
        };
        let key = Verifier::key_for(&presented, &keys);
        self.verifier.verify(&presented, key, now)
    }

    /// The trust of this instance, from its variables: `jwt_issuer`, `jwt_audience`,
    /// `jwt_leeway_s`, `jwt_hs256_secret` (empty: HS256 refused), `jwt_jwks` (empty: fetch
    /// from `auth_url`).
    /// Shared, so a request takes a reference count instead of copying the policy and keys.
    pub async fn for_instance() -> Result<Rc<Self>, String> {
        if let Some(trust) = TRUST.with(|cell| cell.borrow().clone()) {
            return Ok(trust);
        }
        let leeway_s = variable("jwt_leeway_s").await?;
        let leeway_s: u16 = leeway_s.trim().parse().map_err(|_| {
            format!("variable jwt_leeway_s: {leeway_s:?} is not a number of seconds")
        })?;
        let secret = variable("jwt_hs256_secret").await?;
        let policy = TrustPolicy {
            issuer: variable("jwt_issuer").await?,
            audience: variable("jwt_audience").await?,
            leeway: Duration::seconds(i64::from(leeway_s)),
            hs256: (!secret.is_empty()).then(|| Hs256Key::new(secret.as_bytes())),
        };
        let inline = variable("jwt_jwks").await?;
        let keys = if inline.trim().is_empty() {
            let base = variable("auth_url").await?;
            KeySource::Remote(format!("{}{JWKS_PATH}", base.trim_end_matches('/')))
        } else {
            KeySource::Inline(Rc::new(
                KeySet::parse(inline.as_bytes())
                    .map_err(|error| format!("variable jwt_jwks: {error}"))?,
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
    /// The instance's fetched keys and when they were fetched (ms since the epoch).
    static FETCHED: RefCell<Option<(Rc<KeySet>, u64)>> = const { RefCell::new(None) };
}

/// The fetched keys to check a token naming `kid` with: those held while fresh and holding
/// `kid`, else a new fetch (unless one was made too recently), else those held.
async fn remote_keys(url: &str, kid: Option<&str>) -> Result<Rc<KeySet>, Rejection> {
    let now = now_ms();
    let held = FETCHED.with(|cell| cell.borrow().clone());
    let wanted = |keys: &KeySet| kid.is_some_and(|kid| keys.get(kid).is_some());
    if let Some((keys, at)) = &held {
        let age = now.saturating_sub(*at);
        let fresh_and_known = age < KEYS_FRESH_MS && wanted(keys);
        let too_soon = age < REFETCH_AFTER_MS;
        if fresh_and_known || too_soon {
            return Ok(keys.clone());
        }
    }
    match fetch(url).await {
        Ok(keys) => {
            let keys = Rc::new(keys);
            FETCHED.with(|cell| cell.replace(Some((keys.clone(), now))));
            Ok(keys)
        }
        Err(cause) => {
            crate::telemetry::warn("auth.jwks_fetch_failed")
                .with("url.full", url.to_string())
                .cause(&cause)
                .emit();
            match held {
                Some((keys, _)) => Ok(keys),
                None => Err(Rejection::KeysUnavailable(cause)),
            }
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
