//! Tokens this instance has already verified, so a client that sends the same token with every
//! request pays for one signature check per instance instead of one per request (an Ed25519
//! verification costs a write through the test host about half its throughput).
//!
//! The key is the whole token: a token that differs in any byte (a tampered payload, another
//! signature) is not found and is verified in full. An entry is used only until the token's
//! `exp` plus the leeway, the same bound verification applies; `nbf` was checked when it was
//! stored and only moves further into the past. An entry also names the fetched key that
//! verified it, so the caller can refuse to reuse it once that key is no longer held fresh
//! (see [`super::held_keys::HeldKeys::still_trusts`]): a key removed from the JWKS stops
//! vouching for tokens already verified with it as soon as it stops verifying new ones.

use super::claims::Principal;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// At most this many tokens are remembered per instance (about 0.5 MiB of typical tokens).
pub const CAPACITY: usize = 1024;

/// A token verified before: who it proved, and the id of the fetched key that verified it
/// (`None` for a key that is not fetched: an inline JWKS or the HS256 secret, which do not
/// change while the instance runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub caller: Principal,
    pub fetched_key: Option<String>,
}

#[derive(Debug, Default)]
pub struct VerifiedTokens {
    tokens: HashMap<String, Verified>,
}

impl VerifiedTokens {
    /// What `token` proved, if it was verified before and has not expired at `now`.
    pub fn get(&mut self, token: &str, now: DateTime<Utc>, leeway: Duration) -> Option<Verified> {
        let verified = self.tokens.get(token)?;
        if is_live(&verified.caller, now, leeway) {
            Some(verified.clone())
        } else {
            self.tokens.remove(token);
            None
        }
    }

    /// Remembers a verified token. When full, the expired entries go first, and if none has
    /// expired, all of them: the next requests verify their tokens again.
    pub fn insert(
        &mut self,
        token: &str,
        verified: Verified,
        now: DateTime<Utc>,
        leeway: Duration,
    ) {
        if verified.caller.expires_at.is_none() {
            return;
        }
        if self.tokens.len() >= CAPACITY {
            self.tokens
                .retain(|_, held| is_live(&held.caller, now, leeway));
            if self.tokens.len() >= CAPACITY {
                self.tokens.clear();
            }
        }
        self.tokens.insert(token.to_owned(), verified);
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

fn is_live(principal: &Principal, now: DateTime<Utc>, leeway: Duration) -> bool {
    principal
        .expires_at
        .is_some_and(|expires| now <= expires + leeway)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn caller(expires: i64) -> Verified {
        Verified {
            caller: Principal {
                subject: "u1".into(),
                scopes: vec!["ratings:write".into()],
                expires_at: Some(at(expires)),
            },
            fetched_key: Some("k1".into()),
        }
    }

    const LEEWAY: Duration = Duration::seconds(30);

    #[test]
    fn a_verified_token_is_found_until_it_expires_with_the_leeway() {
        let mut verified = VerifiedTokens::default();
        verified.insert("t", caller(300), at(0), LEEWAY);
        assert_eq!(verified.get("t", at(330), LEEWAY), Some(caller(300)));
        assert_eq!(verified.get("t", at(331), LEEWAY), None, "expired");
        assert!(verified.is_empty(), "the expired entry is dropped");
    }

    #[test]
    fn a_token_differing_in_any_byte_is_not_found() {
        let mut verified = VerifiedTokens::default();
        verified.insert("header.payload.signature", caller(300), at(0), LEEWAY);
        assert_eq!(
            verified.get("header.payload.signaturf", at(1), LEEWAY),
            None
        );
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first_and_never_exceeds_its_capacity() {
        let mut verified = VerifiedTokens::default();
        for n in 0..CAPACITY {
            let expires = if n == 0 { 10 } else { 300 };
            verified.insert(&format!("t{n}"), caller(expires), at(0), LEEWAY);
        }
        verified.insert("new", caller(300), at(100), LEEWAY);
        assert_eq!(verified.len(), CAPACITY, "the expired one made room");
        assert!(verified.get("t1", at(100), LEEWAY).is_some());
        verified.insert("newer", caller(300), at(100), LEEWAY);
        assert!(verified.len() <= CAPACITY);
    }
}
