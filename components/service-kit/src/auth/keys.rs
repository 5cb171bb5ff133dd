//! Public keys as a JSON Web Key Set (RFC 7517): what the `auth` component publishes and what
//! every service verifies signatures with.

use base64ct::{Base64UrlUnpadded, Encoding};
use ed25519_compact::PublicKey;
use jwt_compact::jwk::JsonWebKey;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

/// Ed25519 public keys by key id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeySet {
    keys: Vec<(String, PublicKey)>,
}

/// Why a JWKS could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the JWKS is not usable: {0}")]
pub struct BadKeySet(pub String);

/// One member of a JWKS, as far as we read it. Keys of other types (RSA, P-256) are skipped,
/// so the set of a provider that publishes several kinds still yields its Ed25519 keys.
#[derive(Deserialize)]
struct RawKey {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<RawKey>,
}

impl KeySet {
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        Self {
            keys: keys.into_iter().map(|key| (key_id(&key), key)).collect(),
        }
    }

    /// The Ed25519 signing keys of a JWKS document. A key without `kid` is known by its
    /// thumbprint (RFC 7638), which is what the `auth` component uses as `kid`.
    pub fn parse(document: &[u8]) -> Result<Self, BadKeySet> {
        let raw: RawSet =
            serde_json::from_slice(document).map_err(|error| BadKeySet(error.to_string()))?;
        let mut keys = Vec::new();
        for key in raw.keys {
            let is_ed25519 = key.kty == "OKP" && key.crv.as_deref() == Some("Ed25519");
            let signs = key.usage.as_deref().is_none_or(|usage| usage == "sig");
            if !is_ed25519 || !signs {
                continue;
            }
            let x = key
                .x
                .ok_or_else(|| BadKeySet("an Ed25519 key has no x".into()))?;
            let bytes = Base64UrlUnpadded::decode_vec(&x)
                .map_err(|_| BadKeySet("an Ed25519 key's x is not base64url".into()))?;
            let public = PublicKey::from_slice(&bytes)
                .map_err(|_| BadKeySet("an Ed25519 key's x is not 32 bytes".into()))?;
            keys.push((key.kid.unwrap_or_else(|| key_id(&public)), public));
        }
        Ok(Self { keys })
    }

    pub fn get(&self, kid: &str) -> Option<&PublicKey> {
        self.keys
            .iter()
            .find(|(id, _)| id == kid)
            .map(|(_, key)| key)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The set as a JWKS document, each key with its `kid`, `alg` and `use`.
    pub fn to_jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|(kid, key)| {
                json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": Base64UrlUnpadded::encode_string(key.as_ref()),
                    "kid": kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        json!({ "keys": keys })
    }
}

/// A key's id: its RFC 7638 thumbprint (SHA-256, base64url). Derived, so a rotation needs no
/// separate id to configure and two keys can never share one.
pub fn key_id(key: &PublicKey) -> String {
    let thumbprint = JsonWebKey::from(key).thumbprint::<Sha256>();
    Base64UrlUnpadded::encode_string(&thumbprint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_compact::{KeyPair, Seed};

    fn public(seed: u8) -> PublicKey {
        KeyPair::from_seed(Seed::new([seed; 32])).pk
    }

    #[test]
    fn a_published_set_reads_back_with_the_same_ids() {
        let set = KeySet::new([public(1), public(2)]);
        let document = serde_json::to_vec(&set.to_jwks()).unwrap();
        assert_eq!(KeySet::parse(&document), Ok(set));
    }

    #[test]
    fn the_key_id_is_the_rfc_7638_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        let x =
            Base64UrlUnpadded::decode_vec("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        let key = PublicKey::from_slice(&x).unwrap();
        assert_eq!(key_id(&key), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn keys_of_other_types_are_skipped() {
        let document = br#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"}]}"#;
        assert_eq!(KeySet::parse(document).map(|set| set.is_empty()), Ok(true));
    }

    #[test]
    fn an_ed25519_key_with_a_short_x_is_an_error() {
        let document = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}"#;
        assert!(KeySet::parse(document).is_err());
    }

    #[test]
    fn a_key_without_kid_is_known_by_its_thumbprint() {
        let x = Base64UrlUnpadded::encode_string(public(3).as_ref());
        let document = format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}]}}"#);
        let set = KeySet::parse(document.as_bytes()).unwrap();
        assert!(set.get(&key_id(&public(3))).is_some());
    }
}
