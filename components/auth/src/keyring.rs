//! The keys of issuance: the signing key and the public keys still published after a rotation.
//!
//! **Where the signing key comes from**, in order:
//! 1. `auth_signing_key` (a secret variable): what a deployment sets (`authctl keygen`).
//! 2. Otherwise, while `auth_development_key` is `true` (spin.toml's default, so `spin up`
//!    issues tokens with no setup): a *development key*, created on the first request of the
//!    first instance that needs it and kept in auth's own database (table `development_key`),
//!    so every instance, every restart and `authctl token` sign with the same key. Each
//!    instance that loads it logs a warning. Anyone who can read the database can sign with
//!    it: a deployment sets a key and `auth_development_key = "false"` (deploy/spinkube does,
//!    and a test keeps it so).
//! 3. Otherwise none: tokens are not issued (503) and the health check fails.
//!
//! Rotation: generate a key (`authctl keygen`), set it as `auth_signing_key`, and move the old
//! key's public part (`authctl public-key`) into `auth_previous_public_keys`. Tokens signed with
//! the old key keep verifying until they expire; after the token lifetime (plus the services'
//! clock leeway) the old key can be dropped.

use ed25519_compact::PublicKey;
use service_kit::StorageFailure;
use service_kit::auth::KeySet;
use service_kit::auth::sign::{Signer, decode_base64url, encode_base64url};
use service_kit::instance::ConfigError;
use std::cell::RefCell;

/// Where the development key is kept: auth's own database (the client repository implements
/// it), declared here by its consumer.
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait DevelopmentKeyStore {
    /// The development signing key's seed (base64url): the stored one, or `candidate` after
    /// storing it when none is.
    async fn development_key(&self, candidate: &str) -> Result<String, StorageFailure>;
}

/// Where this instance's signing key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `auth_signing_key`.
    Configured,
    /// The development key in auth's database.
    Development,
    /// No key: nothing is signed.
    Absent,
}

impl KeySource {
    /// How the health report names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Configured => "configured",
            Self::Development => "development",
            Self::Absent => "absent",
        }
    }
}

/// The signing key, if there is one, where it came from, and every key the JWKS publishes.
#[derive(Debug)]
pub struct Keyring {
    signer: Option<Signer>,
    source: KeySource,
    published: KeySet,
}

impl Keyring {
    /// `signer`, a configured key, signs; its public key and `previous` are published.
    pub fn new(signer: Option<Signer>, previous: Vec<PublicKey>) -> Self {
        let source = match signer {
            Some(_) => KeySource::Configured,
            None => KeySource::Absent,
        };
        Self::from_source(signer, source, previous)
    }

    /// The development key signs; it and `previous` are published.
    pub fn development(signer: Signer, previous: Vec<PublicKey>) -> Self {
        Self::from_source(Some(signer), KeySource::Development, previous)
    }

    fn from_source(signer: Option<Signer>, source: KeySource, previous: Vec<PublicKey>) -> Self {
        let current = signer.as_ref().map(Signer::public_key);
        Self {
            published: KeySet::new(current.into_iter().chain(previous)),
            signer,
            source,
        }
    }

    pub fn signer(&self) -> Option<&Signer> {
        self.signer.as_ref()
    }

    pub fn source(&self) -> KeySource {
        self.source
    }

    pub fn published(&self) -> &KeySet {
        &self.published
    }

    /// This instance's keyring: [`KeySettings::for_instance`], with the development key read
    /// through `repository` at most once per instance.
    #[cfg(target_arch = "wasm32")]
    pub async fn for_instance(repository: &impl DevelopmentKeyStore) -> Result<Self, KeyringError> {
        thread_local! {
            static DEVELOPMENT_KEY: std::rc::Rc<DevelopmentKey> = Default::default();
        }
        let settings = KeySettings::for_instance().await?;
        let held = DEVELOPMENT_KEY.with(std::rc::Rc::clone);
        let new_seed = || {
            let seed = spin_sdk::wasip3::random::random::get_random_bytes(32);
            seed.try_into().unwrap_or([0; 32])
        };
        Ok(settings.keyring(repository, &held, new_seed).await?)
    }
}

/// Why there is no keyring for a request.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// A variable is unusable: every request would fail the same way.
    #[error(transparent)]
    Misconfigured(#[from] ConfigError),
    /// The development key could not be read or stored.
    #[error(transparent)]
    Storage(#[from] StorageFailure),
}

/// The key variables, parsed.
#[derive(Debug)]
pub struct KeySettings {
    configured: Option<Signer>,
    development_allowed: bool,
    previous: Vec<PublicKey>,
}

impl KeySettings {
    /// From `auth_signing_key` (empty: none), `auth_development_key` (`true` or `false`) and
    /// `auth_previous_public_keys` (comma-separated). Messages never include a key.
    pub fn parse(
        signing_key: &str,
        development_key: &str,
        previous: &str,
    ) -> Result<Self, ConfigError> {
        let configured = if signing_key.trim().is_empty() {
            None
        } else {
            Some(
                Signer::parse(signing_key)
                    .map_err(|error| ConfigError::invalid("auth_signing_key", error))?,
            )
        };
        let development_allowed = match development_key.trim() {
            "true" => true,
            "false" => false,
            other => {
                return Err(ConfigError::invalid(
                    "auth_development_key",
                    format!("{other:?} is not true or false"),
                ));
            }
        };
        Ok(Self {
            configured,
            development_allowed,
            previous: parse_public_keys(previous)?,
        })
    }

    /// From this instance's variables, read once per instance (they do not change while an
    /// app runs, and each read is a host call); parsed per request, since a `Signer` is not
    /// shared.
    #[cfg(target_arch = "wasm32")]
    async fn for_instance() -> Result<Self, ConfigError> {
        use service_kit::instance::variable;
        thread_local! {
            static RAW: std::cell::RefCell<Option<std::rc::Rc<[String; 3]>>> =
                const { std::cell::RefCell::new(None) };
        }
        let raw = match RAW.with(|cell| cell.borrow().clone()) {
            Some(raw) => raw,
            None => {
                let raw = std::rc::Rc::new([
                    variable("auth_signing_key").await?,
                    variable("auth_development_key").await?,
                    variable("auth_previous_public_keys").await?,
                ]);
                RAW.with(|cell| cell.replace(Some(std::rc::Rc::clone(&raw))));
                raw
            }
        };
        let [signing_key, development_key, previous] = &*raw;
        Self::parse(signing_key, development_key, previous)
    }

    /// The keyring these settings give. The development key is asked of `repository` only
    /// when it is the one to use and `held` does not hold it yet; `new_seed` is called then,
    /// for the key stored if the database has none.
    pub async fn keyring(
        self,
        repository: &impl DevelopmentKeyStore,
        held: &DevelopmentKey,
        new_seed: impl FnOnce() -> [u8; 32],
    ) -> Result<Keyring, StorageFailure> {
        Ok(match (self.configured, self.development_allowed) {
            (Some(signer), _) => Keyring::new(Some(signer), self.previous),
            (None, false) => Keyring::new(None, self.previous),
            (None, true) => {
                Keyring::development(held.load(repository, new_seed).await?, self.previous)
            }
        })
    }
}

/// An instance's copy of the development key's seed, once read from the database.
#[derive(Debug, Default)]
pub struct DevelopmentKey(RefCell<Option<String>>);

impl DevelopmentKey {
    /// The development key: the held one, or else the database's (storing one from
    /// `new_seed` when it has none), held from then on. Loading it logs a warning, so each
    /// instance that signs with it says so once.
    async fn load(
        &self,
        repository: &impl DevelopmentKeyStore,
        new_seed: impl FnOnce() -> [u8; 32],
    ) -> Result<Signer, StorageFailure> {
        let held = self.0.borrow().clone();
        let newly_loaded = held.is_none();
        let seed = match held {
            Some(seed) => seed,
            None => {
                let seed = repository
                    .development_key(&encode_base64url(&new_seed()))
                    .await?;
                *self.0.borrow_mut() = Some(seed.clone());
                seed
            }
        };
        let signer = Signer::parse(&seed).map_err(|_| {
            StorageFailure::Broken("the stored development key is not an Ed25519 seed".into())
        })?;
        if newly_loaded {
            service_kit::telemetry::warn("auth.development_key")
                .with("auth.key_id", signer.kid())
                .with(
                    "message",
                    "DEVELOPMENT KEY: no auth_signing_key is configured, so tokens are signed \
                     with a key kept in the auth database. Never in production: set \
                     auth_signing_key (authctl keygen) and auth_development_key=false.",
                )
                .emit();
        }
        Ok(signer)
    }
}

/// Comma-separated base64url Ed25519 public keys.
pub fn parse_public_keys(raw: &str) -> Result<Vec<PublicKey>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            decode_base64url(entry)
                .and_then(|bytes| PublicKey::from_slice(&bytes).ok())
                .ok_or_else(|| {
                    ConfigError::invalid(
                        "auth_previous_public_keys",
                        format!("{entry:?} is not a base64url Ed25519 public key"),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::memory::InMemoryClientRepository;
    use service_kit::auth::key_id;
    use service_kit::testing::block_on;

    fn settings(signing_key: &str, development_key: &str) -> KeySettings {
        KeySettings::parse(signing_key, development_key, "").unwrap()
    }

    fn keyring(
        settings: KeySettings,
        repository: &InMemoryClientRepository,
        held: &DevelopmentKey,
        seed: u8,
    ) -> Keyring {
        block_on(settings.keyring(repository, held, || [seed; 32])).unwrap()
    }

    /// The keyring of a new instance without a configured key.
    fn fresh_instance(
        repository: &InMemoryClientRepository,
        development_key: &str,
        seed: u8,
    ) -> Keyring {
        keyring(
            settings("", development_key),
            repository,
            &DevelopmentKey::default(),
            seed,
        )
    }

    #[test]
    fn a_configured_key_signs_and_the_database_is_not_asked() {
        let repository = InMemoryClientRepository::default();
        let ring = keyring(
            settings(&encode_base64url(&[2; 32]), "true"),
            &repository,
            &DevelopmentKey::default(),
            7,
        );
        assert_eq!(ring.source(), KeySource::Configured);
        assert_eq!(
            ring.signer().unwrap().kid(),
            Signer::from_seed([2; 32]).kid()
        );
        assert_eq!(repository.development_key_reads.get(), 0, "database reads");
    }

    #[test]
    fn without_a_configured_key_the_development_key_is_created_and_published() {
        let repository = InMemoryClientRepository::default();
        let ring = fresh_instance(&repository, "true", 7);
        let kid = Signer::from_seed([7; 32]).kid().to_owned();
        assert_eq!(ring.source(), KeySource::Development);
        assert_eq!(ring.signer().unwrap().kid(), kid, "signs with the new key");
        assert!(
            ring.published().get(&kid).is_some(),
            "the JWKS publishes it"
        );
    }

    #[test]
    fn instances_settle_on_the_first_development_key_stored() {
        let repository = InMemoryClientRepository::default();
        fresh_instance(&repository, "true", 7);
        let other_instance = fresh_instance(&repository, "true", 8);
        assert_eq!(
            other_instance.signer().unwrap().kid(),
            Signer::from_seed([7; 32]).kid(),
            "a second instance signs with the stored key, not its own candidate"
        );
    }

    #[test]
    fn an_instance_reads_the_development_key_once() {
        let repository = InMemoryClientRepository::default();
        let held = DevelopmentKey::default();
        for _ in 0..3 {
            keyring(settings("", "true"), &repository, &held, 7);
        }
        assert_eq!(repository.development_key_reads.get(), 1, "database reads");
    }

    #[test]
    fn with_development_keys_refused_and_none_configured_nothing_signs() {
        let repository = InMemoryClientRepository::default();
        let ring = fresh_instance(&repository, "false", 7);
        assert_eq!(ring.source(), KeySource::Absent);
        assert!(ring.signer().is_none() && ring.published().is_empty());
        assert_eq!(repository.development_key_reads.get(), 0, "database reads");
    }

    #[test]
    fn a_store_failure_is_reported_not_turned_into_no_key() {
        let repository = InMemoryClientRepository::default();
        repository.failing.set(true);
        let outcome =
            block_on(
                settings("", "true").keyring(&repository, &DevelopmentKey::default(), || [7; 32]),
            );
        assert!(matches!(
            outcome,
            Err(StorageFailure::Broken(_) | StorageFailure::Busy(_))
        ));
    }

    /// Whether `error` is an invalid value of variable `variable`.
    fn names(error: &ConfigError, variable: &str) -> bool {
        matches!(error, ConfigError::Invalid { name, .. } if name == variable)
    }

    #[test]
    fn auth_development_key_must_be_true_or_false() {
        let error = KeySettings::parse("", "yes", "").unwrap_err();
        assert!(names(&error, "auth_development_key"), "{error}");
    }

    #[test]
    fn a_bad_signing_key_is_an_error_naming_the_variable_not_the_value() {
        let error = KeySettings::parse("not-a-key", "false", "").unwrap_err();
        assert!(
            names(&error, "auth_signing_key") && !error.to_string().contains("not-a-key"),
            "{error}"
        );
    }

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
            encode_base64url(one.as_ref()),
            encode_base64url(two.as_ref())
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
        assert!(names(&error, "auth_previous_public_keys"), "{error}");
    }
}
