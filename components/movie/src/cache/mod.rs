//! The composed-view cache, in two levels: the instance's memory ([`memory`]), which serves a
//! hot view with no host call, and the `cache` key-value store ([`store`]), shared by every
//! instance, which serves it with one read and no upstream call.
//!
//! Spin's key-value interface has no expiry, so every entry carries the time it was composed
//! ([`entry`]) and each level decides by age: younger than its fresh TTL it is served as is;
//! within the stale window after that it is only a source of validators for revalidation
//! (conditional requests answered 304) and the fallback while metadata is unavailable; older
//! than that it is ignored.

pub mod entry;
pub mod memory;
pub mod store;

use std::time::Duration;

/// The store label in `spin.toml` and `runtime-config.toml`.
pub const STORE: &str = "cache";

/// Why the cache store failed; for the log. Requests never fail because of it.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("opening key-value store {STORE}: {0}")]
    Open(#[source] spin_sdk::key_value::Error),
    #[error("key-value store {STORE}: {0}")]
    Access(#[source] spin_sdk::key_value::Error),
}

/// How long one level's entries are fresh, and usable when stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl {
    pub fresh: Duration,
    /// How long after `fresh` an entry may still be revalidated or served during an outage.
    pub stale: Duration,
}

impl Ttl {
    pub fn is_fresh(&self, age: Duration) -> bool {
        age < self.fresh
    }

    pub fn is_usable(&self, age: Duration) -> bool {
        age < self.fresh.saturating_add(self.stale)
    }
}

/// Where a view came from, for `Cache-Status` (RFC 9211).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// A fresh entry from the instance's memory.
    MemoryHit,
    /// A fresh entry from the key-value store.
    StoreHit,
    /// Nothing usable was cached: composed from the upstreams.
    Miss,
    /// The client asked for a fresh composition (`Cache-Control: no-cache`).
    Bypassed,
    /// A stale entry was revalidated or recomposed.
    Refreshed,
    /// A stale entry, served because metadata was unavailable.
    StaleServed,
}

impl CacheOutcome {
    /// The outcome as the access line's `movie.cache.outcome` (and the cache-hit ratio's
    /// label) names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::MemoryHit => "memory_hit",
            Self::StoreHit => "store_hit",
            Self::Miss => "miss",
            Self::Bypassed => "bypassed",
            Self::Refreshed => "refreshed",
            Self::StaleServed => "stale_served",
        }
    }

    /// The `Cache-Status` member of this service's cache; `stored` when the composed view was
    /// written back.
    pub fn header(self, stored: bool) -> String {
        let mut value = String::from("movie; ");
        value.push_str(match self {
            Self::MemoryHit => "hit; detail=memory",
            Self::StoreHit => "hit; detail=store",
            Self::Miss => "fwd=uri-miss",
            Self::Bypassed => "fwd=request",
            Self::Refreshed => "fwd=stale",
            Self::StaleServed => "fwd=stale; detail=stale-served-on-error",
        });
        if stored {
            value.push_str("; stored");
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Ttl = Ttl {
        fresh: Duration::from_secs(2),
        stale: Duration::from_secs(10),
    };

    #[test]
    fn an_entry_is_fresh_until_its_ttl() {
        assert!(TTL.is_fresh(Duration::from_millis(1_999)));
        assert!(!TTL.is_fresh(Duration::from_secs(2)));
    }

    #[test]
    fn a_stale_entry_is_usable_until_the_end_of_its_stale_window() {
        assert!(TTL.is_usable(Duration::from_millis(11_999)));
        assert!(!TTL.is_usable(Duration::from_secs(12)));
    }

    #[test]
    fn cache_status_names_the_level_of_a_hit() {
        assert_eq!(
            CacheOutcome::MemoryHit.header(false),
            "movie; hit; detail=memory"
        );
        assert_eq!(
            CacheOutcome::Miss.header(true),
            "movie; fwd=uri-miss; stored"
        );
    }
}
