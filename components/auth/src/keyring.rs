//! The keys of issuance: the current signing key and the public keys still published after a
//! rotation, from Spin variables.
//!
//! Rotation: generate a key (`authctl keygen`), set it as `auth_signing_key`, and move the old
//! key's public part (also printed by `authctl keygen --public-of`) into
//! `auth_previous_public_keys`. Tokens signed with the old key keep verifying until they expire;
//! after the token lifetime (plus the services' clock leeway) the old key can be dropped.

use ed25519_compact::PublicKey;
use service_kit::auth::KeySet;
use service_kit::auth::sign::{Signer, decode_base64url};
use service_kit::instance::variable;

/// The signing key, if one is configured, and every key the JWKS publishes.
#[derive(Debug)]
pub struct Keyring {
    signer: Option<Signer>,
    published: KeySet,
}

impl Keyring {
    /// `signer` signs; its public key and `previous` are published.
    pub fn new(signer: Option<Signer>, previous: Vec<PublicKey>) -> Self {
        let current = signer.as_ref().map(Signer::public_key);
        Self {
            published: KeySet::new(current.into_iter().chain(previous)),
            signer,
        }
    }

    pub fn signer(&self) -> Option<&Signer> {
        self.signer.as_ref()
    }

    pub fn published(&self) -> &KeySet {
        &self.published
    }

    /// The keyring of this instance: `auth_signing_key` (a secret; empty means tokens cannot be
    /// issued, and the token endpoint says so) and `auth_previous_public_keys` (comma-separated).
    pub async fn for_instance() -> Result<Self, String> {
        let key = variable("auth_signing_key").await?;
        let signer = if key.trim().is_empty() {
            None
        } else {
            // The message never includes the value.
            Some(
                Signer::parse(&key)
                    .map_err(|error| format!("variable auth_signing_key: {error}"))?,
            )
        };
        let previous = variable("auth_previous_public_keys").await?;
        Ok(Self::new(signer, parse_public_keys(&previous)?))
    }
}

/// Comma-separated base64url Ed25519 public keys.
pub fn parse_public_keys(raw: &str) -> Result<Vec<PublicKey>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            decode_base64url(entry)
                .and_then(|bytes| PublicKey::from_slice(&bytes).ok())
                .ok_or_else(|| {
                    format!("variable auth_previous_public_keys: {entry:?} is not a base64url Ed25519 public key")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::auth::key_id;

    #[test]
    fn the_jwks_publishes_the_current_and_the_previous_keys() {
        let old = Signer::from_seed([1; 32]);
        let ring = Keyring::new(Some(Signer::from_seed([2; 32])), vec![old.public_key()]);
        let current = ring.signer().unwrap().kid().to_owned();
        assert!(ring.published().get(&current).is_some(), "current key");
        assert!(ring.published().get(old.kid()).is_some(), "previous key");
    }

    #[test]
    fn previous_keys_parse_from_a_comma_separated_list() {
        let one = Signer::from_seed([1; 32]).public_key();
        let two = Signer::from_seed([2; 32]).public_key();
        let raw = format!(
            " {} ,{}",
            service_kit::auth::sign::encode_base64url(one.as_ref()),
            service_kit::auth::sign::encode_base64url(two.as_ref())
        );
        let keys = parse_public_keys(&raw).unwrap();
        assert_eq!(
            keys.iter().map(key_id).collect::<Vec<_>>(),
            [key_id(&one), key_id(&two)]
        );
    }

    #[test]
    fn a_bad_previous_key_is_an_error_naming_the_variable() {
        let error = parse_public_keys("abc").unwrap_err();
        assert!(error.contains("auth_previous_public_keys"), "{error}");
    }
}
