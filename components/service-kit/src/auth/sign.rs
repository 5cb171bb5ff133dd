//! Issuing tokens: an Ed25519 signing key and the token it signs. Used by the `auth` component
//! and by the development tools, so a token minted offline is the token the service mints.

use super::claims::{Audience, Grant};
use super::keys::key_id;
use base64ct::{Base64UrlUnpadded, Encoding};
use chrono::{DateTime, Duration, Utc};
use ed25519_compact::{KeyPair, PublicKey, Seed};
use jwt_compact::alg::{Ed25519, Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims, Header};

/// The token type of an OAuth 2.0 access token in JWT form (RFC 9068 section 2.1).
pub const TOKEN_TYPE: &str = "at+jwt";

/// What a token is issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub subject: &'a str,
    pub scope: &'a str,
    /// The token's id (`jti`): unique per token, e.g. 128 random bits.
    pub id: &'a str,
    pub now: DateTime<Utc>,
    pub lifetime: Duration,
}

impl Issue<'_> {
    fn claims(&self) -> Claims<Grant> {
        let mut claims = Claims::new(Grant {
            iss: self.issuer.to_owned(),
            sub: self.subject.to_owned(),
            aud: Audience::One(self.audience.to_owned()),
            jti: self.id.to_owned(),
            scope: self.scope.to_owned(),
        });
        claims.issued_at = Some(self.now);
        claims.not_before = Some(self.now);
        claims.expiration = Some(self.now + self.lifetime);
        claims
    }
}

/// Why a signing key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the signing key must be 32 bytes (an Ed25519 seed) in base64url")]
pub struct BadSigningKey;

/// An Ed25519 private key and its key id.
pub struct Signer {
    pair: KeyPair,
    kid: String,
}

impl std::fmt::Debug for Signer {
    /// Never prints the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

impl Signer {
    /// The key whose 32-byte seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let pair = KeyPair::from_seed(Seed::new(seed));
        let kid = key_id(&pair.pk);
        Self { pair, kid }
    }

    /// The key of a Spin variable: the seed in base64url, padded or not.
    pub fn parse(encoded: &str) -> Result<Self, BadSigningKey> {
        let seed = decode_base64url(encoded.trim()).ok_or(BadSigningKey)?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| BadSigningKey)?;
        Ok(Self::from_seed(seed))
    }

    pub fn public_key(&self) -> PublicKey {
        self.pair.pk
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A signed EdDSA token with `kid` and `typ` in its header.
    pub fn sign(&self, issue: &Issue<'_>) -> String {
        self.sign_typed(issue, Some(TOKEN_TYPE))
    }

    /// A signed EdDSA token whose header has `kid` and the `typ` given (none for `None`): the
    /// tokens of other kinds (an ID token, `typ: JWT`) that verification must tell apart.
    pub fn sign_typed(&self, issue: &Issue<'_>, token_type: Option<&str>) -> String {
        let header = Header::empty().with_key_id(self.kid.clone());
        let header = match token_type {
            Some(typ) => header.with_token_type(typ),
            None => header,
        };
        // Serialising our own claims cannot fail.
        Ed25519
            .token(&header, &issue.claims(), &self.pair.sk)
            .unwrap_or_default()
    }
}

/// An HS256 token with a shared secret: only for local development, and for tests of the
/// services' refusal of it when it is not configured.
pub fn sign_hs256(secret: &[u8], issue: &Issue<'_>) -> String {
    let header = Header::empty().with_token_type(TOKEN_TYPE);
    Hs256
        .token(&header, &issue.claims(), &Hs256Key::new(secret))
        .unwrap_or_default()
}

/// Base64url with or without padding (a standard-alphabet value is refused).
pub fn decode_base64url(encoded: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(encoded.trim_end_matches('=')).ok()
}

/// Base64url without padding: how seeds and public keys are written in variables.
pub fn encode_base64url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}
