//! Verifying a bearer token: its form, its algorithm against the key it names, its signature,
//! its time window, issuer and audience. Every rejection says which check failed, never what
//! the token held, so a 401 cannot echo a secret.

use super::claims::{Grant, Principal};
use super::keys::KeySet;
use super::sign::TOKEN_TYPE;
use crate::error_class::{Classify, ErrorClass};
use chrono::{DateTime, Duration, Utc};
use ed25519_compact::PublicKey;
use jwt_compact::alg::{Ed25519, Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims, TimeOptions, UntrustedToken, ValidationError};

/// What a service trusts: who issues its tokens, the audience they must name, how much clock
/// skew it forgives, and (for local development only) a shared HS256 secret.
#[derive(Clone)]
pub struct TrustPolicy {
    pub issuer: String,
    pub audience: String,
    pub leeway: Duration,
    pub hs256: Option<Hs256Key>,
}

impl std::fmt::Debug for TrustPolicy {
    /// Never prints the shared secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustPolicy")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("hs256", &self.hs256.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

/// Why a request's credentials were refused. The message is safe to show the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("a bearer token is required (Authorization: Bearer <JWT>)")]
    Missing,
    #[error("the credentials are not a well-formed bearer JWT")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    /// Not an OAuth access token (RFC 9068: `typ` is `at+jwt`): an identity provider's ID
    /// token for the same audience, say, which proves who someone is, not what they may do.
    #[error("the token is not an access token (its header's typ must be at+jwt)")]
    TokenType,
    #[error("the token names no signing key this service knows")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token lacks a required claim or has one of the wrong type")]
    MissingClaim,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by an issuer this service does not trust")]
    Issuer,
    #[error("the token is not meant for this service (audience)")]
    Audience,
    /// The keys could not be fetched: nothing is known about the token either way.
    #[error("the signing keys could not be fetched: {0}")]
    KeysUnavailable(String),
    /// The service protects a route but was given no way to verify tokens (a wiring error).
    #[error("this service cannot verify tokens")]
    NotConfigured,
    /// A valid token without the right: the scope a 403 names.
    #[error("the token does not grant {0}")]
    InsufficientScope(&'static str),
}

impl Classify for Rejection {
    fn class(&self) -> ErrorClass {
        match self {
            Self::KeysUnavailable(_) => ErrorClass::Unavailable {
                service: "auth",
                retry_after_s: 1,
            },
            Self::InsufficientScope(scope) => ErrorClass::Forbidden(scope),
            Self::NotConfigured => ErrorClass::Internal,
            _ => ErrorClass::Unauthenticated,
        }
    }
}

/// A token read but not yet trusted: its algorithm and key id, for looking up the key.
pub struct Presented<'a> {
    token: UntrustedToken<'a>,
}

impl<'a> Presented<'a> {
    /// The token of an `Authorization` header value (`Bearer <JWT>`, scheme in any case).
    pub fn from_header(authorization: Option<&'a str>) -> Result<Self, Rejection> {
        let value = authorization.ok_or(Rejection::Missing)?;
        let (scheme, token) = value.split_once(' ').ok_or(Rejection::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Rejection::Malformed);
        }
        let token = UntrustedToken::new(token.trim()).map_err(|_| Rejection::Malformed)?;
        Ok(Self { token })
    }

    pub fn algorithm(&self) -> &str {
        self.token.algorithm()
    }

    pub fn key_id(&self) -> Option<&str> {
        self.token.header().key_id.as_deref()
    }

    /// Whether the header's `typ` names an access token: `at+jwt`, or its media type
    /// `application/at+jwt` (RFC 9068 section 2.1; media types compare without case).
    fn is_access_token(&self) -> bool {
        self.token
            .header()
            .token_type
            .as_deref()
            .is_some_and(|typ| {
                let typ = typ.to_ascii_lowercase();
                typ == TOKEN_TYPE || typ.strip_prefix("application/") == Some(TOKEN_TYPE)
            })
    }
}

/// The least length of an HS256 secret: as long as the hash's output (RFC 7518 section 3.2).
pub const HS256_MIN_SECRET_BYTES: usize = 32;

/// An HS256 secret too short to be safe: its length, never its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an HS256 secret must be at least {HS256_MIN_SECRET_BYTES} bytes; this one has {0}")]
pub struct ShortSecret(pub usize);

/// An HS256 key from a shared secret of at least [`HS256_MIN_SECRET_BYTES`]; a shorter one
/// could be guessed offline from any token it signed.
pub fn hs256_key(secret: &[u8]) -> Result<Hs256Key, ShortSecret> {
    if secret.len() < HS256_MIN_SECRET_BYTES {
        return Err(ShortSecret(secret.len()));
    }
    Ok(Hs256Key::new(secret))
}

/// Verifies tokens against a policy.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub policy: TrustPolicy,
}

impl Verifier {
    pub fn new(policy: TrustPolicy) -> Self {
        Self { policy }
    }

    /// Verifies `presented`. An EdDSA token is checked with `key` (the key its `kid` named,
    /// looked up by the caller); an HS256 token only if a shared secret is configured. Any
    /// other algorithm, `none` included, is refused before anything else is read, and so is
    /// a token whose header does not say it is an access token.
    pub fn verify(
        &self,
        presented: &Presented<'_>,
        key: Option<&PublicKey>,
        now: DateTime<Utc>,
    ) -> Result<Principal, Rejection> {
        if !matches!(presented.algorithm(), "EdDSA" | "HS256") {
            return Err(Rejection::Algorithm);
        }
        if !presented.is_access_token() {
            return Err(Rejection::TokenType);
        }
        let claims = match presented.algorithm() {
            "EdDSA" => {
                let key = key.ok_or(Rejection::UnknownKey)?;
                Ed25519
                    .validator::<Grant>(key)
                    .validate(&presented.token)
                    .map(|token| token.claims().clone())
            }
            "HS256" => {
                let secret = self.policy.hs256.as_ref().ok_or(Rejection::Algorithm)?;
                Hs256
                    .validator::<Grant>(secret)
                    .validate(&presented.token)
                    .map(|token| token.claims().clone())
            }
            _ => return Err(Rejection::Algorithm),
        }
        .map_err(|error| rejection_of(&error))?;
        self.check(&claims, now)?;
        Ok(Principal {
            expires_at: claims.expiration,
            ..Principal::from_grant(claims.custom)
        })
    }

    /// The time window (`exp` required, `nbf` if present, both with the leeway), issuer and
    /// audience.
    fn check(&self, claims: &Claims<Grant>, now: DateTime<Utc>) -> Result<(), Rejection> {
        let time = TimeOptions::new(self.policy.leeway, move || now);
        claims
            .validate_expiration(&time)
            .map_err(|error| rejection_of(&error))?;
        if claims.not_before.is_some() {
            claims
                .validate_maturity(&time)
                .map_err(|error| rejection_of(&error))?;
        }
        if claims.custom.iss != self.policy.issuer {
            return Err(Rejection::Issuer);
        }
        if !claims.custom.aud.contains(&self.policy.audience) {
            return Err(Rejection::Audience);
        }
        Ok(())
    }

    /// `key` if the token names it in `keys`.
    pub fn key_for<'k>(presented: &Presented<'_>, keys: &'k KeySet) -> Option<&'k PublicKey> {
        presented.key_id().and_then(|kid| keys.get(kid))
    }
}

fn rejection_of(error: &ValidationError) -> Rejection {
    match error {
        ValidationError::AlgorithmMismatch { .. } => Rejection::Algorithm,
        ValidationError::InvalidSignature | ValidationError::MalformedSignature(_) => {
            Rejection::Signature
        }
        ValidationError::Expired => Rejection::Expired,
        ValidationError::NotMature => Rejection::NotYetValid,
        ValidationError::NoClaim(_) | ValidationError::MalformedClaims(_) => {
            Rejection::MissingClaim
        }
        _ => Rejection::Malformed,
    }
}

#[cfg(test)]
mod tests;
