//! The signing keys an instance fetched from a JWKS, and how long each use of them may be
//! trusted. Pure: the time is passed in and the fetch is the caller's, so every bound is
//! tested here on a made-up clock.
//!
//! Three bounds, each against a different failure:
//! - **A removed key** stops verifying within [`KEYS_FRESH_MS`]: fetched keys are used for
//!   that long, then fetched again, and a token verified before is trusted again only while
//!   the held keys are fresh and still hold its key ([`HeldKeys::still_trusts`]).
//! - **An unreachable JWKS** does not extend trust: after a failed fetch the held keys are
//!   used only until they are [`KEYS_MAX_AGE_MS`] old, then every token is refused (503) until
//!   a fetch succeeds.
//! - **Made-up key ids** cost at most one fetch per [`REFETCH_AFTER_MS`], whether a fetch
//!   succeeded or failed and whether or not keys are held: on a fresh instance during an
//!   outage, the requests after a failed fetch are refused without another.

use super::keys::KeySet;
use std::rc::Rc;

/// How long fetched keys are used before they are fetched again: the longest a key removed
/// from the JWKS keeps verifying on an instance that holds it.
pub const KEYS_FRESH_MS: u64 = 60_000;
/// How old held keys may grow while fetches fail; older, they are dropped and writes are 503
/// until the JWKS answers. Longer than a token's default lifetime (300 s) and its leeway, so
/// a short outage of auth does not stop writes that were flowing.
pub const KEYS_MAX_AGE_MS: u64 = 600_000;
/// The least time between two fetch attempts, however many unknown key ids arrive.
pub const REFETCH_AFTER_MS: u64 = 10_000;

/// What to check a token with.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// These keys, without a fetch.
    Use(Rc<KeySet>),
    /// Fetch the JWKS first, then report the outcome with [`HeldKeys::fetched`].
    Fetch,
    /// Nothing usable is held and a fetch was attempted too recently to try again.
    Unavailable,
}

/// One instance's fetched keys, when they were fetched, and when a fetch was last tried.
#[derive(Debug, Default)]
pub struct HeldKeys {
    held: Option<(Rc<KeySet>, u64)>,
    last_attempt_ms: Option<u64>,
}

impl HeldKeys {
    /// What to check a token naming `kid` with at `now_ms`: fresh keys that hold `kid`; else a
    /// fetch, unless one was tried within [`REFETCH_AFTER_MS`]; then whatever is still usable.
    pub fn plan(&self, kid: Option<&str>, now_ms: u64) -> Plan {
        if let Some(keys) = self.fresh(now_ms)
            && kid.is_some_and(|kid| keys.get(kid).is_some())
        {
            return Plan::Use(Rc::clone(keys));
        }
        let tried_recently = self
            .last_attempt_ms
            .is_some_and(|at| now_ms.saturating_sub(at) < REFETCH_AFTER_MS);
        if !tried_recently {
            return Plan::Fetch;
        }
        self.usable(now_ms)
            .map_or(Plan::Unavailable, |keys| Plan::Use(Rc::clone(keys)))
    }

    /// Records the outcome of a fetch made at `now_ms` and returns the keys to check the token
    /// with: the new ones, or after a failure the held ones while younger than
    /// [`KEYS_MAX_AGE_MS`] (older ones are dropped); `Err` gives the fetch's failure back.
    pub fn fetched(
        &mut self,
        outcome: Result<KeySet, String>,
        now_ms: u64,
    ) -> Result<Rc<KeySet>, String> {
        self.last_attempt_ms = Some(now_ms);
        match outcome {
            Ok(keys) => {
                let keys = Rc::new(keys);
                self.held = Some((Rc::clone(&keys), now_ms));
                Ok(keys)
            }
            Err(cause) => match self.usable(now_ms) {
                Some(keys) => Ok(Rc::clone(keys)),
                None => {
                    self.held = None;
                    Err(cause)
                }
            },
        }
    }

    /// Whether a token verified earlier with the held key `kid` may be trusted at `now_ms`
    /// without a new verification: only while the keys are fresh and still hold `kid`.
    pub fn still_trusts(&self, kid: &str, now_ms: u64) -> bool {
        self.fresh(now_ms)
            .is_some_and(|keys| keys.get(kid).is_some())
    }

    fn fresh(&self, now_ms: u64) -> Option<&Rc<KeySet>> {
        self.younger_than(KEYS_FRESH_MS, now_ms)
    }

    fn usable(&self, now_ms: u64) -> Option<&Rc<KeySet>> {
        self.younger_than(KEYS_MAX_AGE_MS, now_ms)
    }

    fn younger_than(&self, age_ms: u64, now_ms: u64) -> Option<&Rc<KeySet>> {
        self.held
            .as_ref()
            .filter(|(_, at)| now_ms.saturating_sub(*at) < age_ms)
            .map(|(keys, _)| keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::key_id;
    use ed25519_compact::{KeyPair, PublicKey, Seed};

    fn public(seed: u8) -> PublicKey {
        KeyPair::from_seed(Seed::new([seed; 32])).pk
    }

    fn set(seeds: &[u8]) -> KeySet {
        KeySet::new(seeds.iter().map(|seed| public(*seed)))
    }

    fn kid(seed: u8) -> String {
        key_id(&public(seed))
    }

    const T0: u64 = 1_000_000;

    /// Keys holding key 1, fetched at `T0`.
    fn holding_key_1() -> HeldKeys {
        let mut held = HeldKeys::default();
        held.fetched(Ok(set(&[1])), T0).unwrap();
        held
    }

    fn failed() -> Result<KeySet, String> {
        Err("auth is down".into())
    }

    #[test]
    fn a_fresh_instance_fetches_first() {
        assert_eq!(HeldKeys::default().plan(Some(&kid(1)), T0), Plan::Fetch);
    }

    #[test]
    fn fresh_keys_holding_the_key_are_used_without_a_fetch() {
        let plan = holding_key_1().plan(Some(&kid(1)), T0 + KEYS_FRESH_MS - 1);
        assert_eq!(plan, Plan::Use(Rc::new(set(&[1]))));
    }

    #[test]
    fn keys_are_fetched_again_once_they_are_no_longer_fresh() {
        let plan = holding_key_1().plan(Some(&kid(1)), T0 + KEYS_FRESH_MS);
        assert_eq!(plan, Plan::Fetch);
    }

    #[test]
    fn a_removed_key_stops_verifying_once_the_keys_are_fetched_again() {
        let mut held = holding_key_1();
        let now = T0 + KEYS_FRESH_MS;
        let keys = held.fetched(Ok(set(&[2])), now).unwrap();
        assert!(keys.get(&kid(1)).is_none());
        assert!(
            !held.still_trusts(&kid(1), now),
            "a token verified with the removed key is verified afresh"
        );
    }

    #[test]
    fn a_token_verified_earlier_is_trusted_only_while_the_keys_are_fresh() {
        let held = holding_key_1();
        assert!(held.still_trusts(&kid(1), T0 + KEYS_FRESH_MS - 1));
        assert!(!held.still_trusts(&kid(1), T0 + KEYS_FRESH_MS));
    }

    #[test]
    fn an_unknown_key_id_fetches_at_most_once_per_refetch_interval() {
        let held = holding_key_1();
        let soon = T0 + REFETCH_AFTER_MS - 1;
        assert_eq!(
            held.plan(Some(&kid(9)), soon),
            Plan::Use(Rc::new(set(&[1]))),
            "within the interval the held keys answer (and refuse the unknown key)"
        );
        assert_eq!(held.plan(Some(&kid(9)), T0 + REFETCH_AFTER_MS), Plan::Fetch);
    }

    #[test]
    fn after_a_failed_fetch_held_keys_are_used_until_their_maximum_age() {
        let mut held = holding_key_1();
        let late = T0 + KEYS_MAX_AGE_MS - 1;
        assert_eq!(held.fetched(failed(), late), Ok(Rc::new(set(&[1]))));
        assert_eq!(
            held.fetched(failed(), T0 + KEYS_MAX_AGE_MS),
            Err("auth is down".into()),
            "keys at their maximum age are not used"
        );
        assert_eq!(
            held.plan(Some(&kid(1)), T0 + KEYS_MAX_AGE_MS + 1),
            Plan::Unavailable,
            "dropped, and no new fetch within the interval"
        );
    }

    #[test]
    fn on_a_fresh_instance_a_failed_fetch_is_not_retried_within_the_interval() {
        let mut held = HeldKeys::default();
        assert!(held.fetched(failed(), T0).is_err());
        for made_up in ["a", "b", "c"] {
            assert_eq!(
                held.plan(Some(made_up), T0 + 1),
                Plan::Unavailable,
                "key id {made_up:?} right after a failed fetch"
            );
        }
        assert_eq!(held.plan(Some("d"), T0 + REFETCH_AFTER_MS), Plan::Fetch);
    }
}
