//! A circuit breaker per upstream, shared by every instance through the key-value store.
//!
//! Closed, it counts consecutive failed calls; at the threshold it opens for a cool-down, and
//! views skip the upstream and go straight to their fallback. After the cool-down the next
//! call is a probe: success closes the breaker, failure reopens it at once (the count stays
//! at the threshold). Instances read the shared state only on the way to an upstream (a cache
//! miss), at most once a second each (`controller::guarded::BREAKERS_MEMO_MS`), and write it
//! only when it changes, against a fresh read; so a healthy system pays about one store read
//! per instance and second and no write. Concurrent instances may overwrite each other's
//! counts, and an instance sees another's change up to a second late; the breaker is then a
//! little late or early to open, which is harmless, and it never needs a lock.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The key of the shared state in the `cache` store.
pub const KEY: &str = "breaker:v1";

/// When a breaker opens and for how long. From Spin variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the breaker.
    pub failures: u32,
    pub cooldown: Duration,
}

/// One upstream's breaker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Breaker {
    /// Consecutive failed calls.
    pub failures: u32,
    /// While the wall clock (ms since the epoch) is before this, calls are skipped.
    pub open_until_ms: u64,
}

impl Breaker {
    /// Whether a call may go to the upstream at `now_ms`.
    pub fn allows(&self, now_ms: u64) -> bool {
        now_ms >= self.open_until_ms
    }

    /// Seconds until the upstream is tried again (at least 1): a `Retry-After` for clients.
    pub fn retry_after_s(&self, now_ms: u64) -> u32 {
        let ms = self.open_until_ms.saturating_sub(now_ms);
        u32::try_from(ms.div_ceil(1_000)).unwrap_or(u32::MAX).max(1)
    }

    /// The state after a call that succeeded.
    pub fn succeeded(self) -> Self {
        Self::default()
    }

    /// The state after a call that failed at `now_ms`.
    pub fn failed(self, policy: &BreakerPolicy, now_ms: u64) -> Self {
        let failures = self.failures.saturating_add(1);
        let open_until_ms = if failures >= policy.failures {
            now_ms.saturating_add(u64::try_from(policy.cooldown.as_millis()).unwrap_or(u64::MAX))
        } else {
            self.open_until_ms
        };
        Self {
            failures,
            open_until_ms,
        }
    }
}

/// The breakers of both upstreams, stored as one value so a miss reads them in one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakers {
    #[serde(default)]
    pub metadata: Breaker,
    #[serde(default)]
    pub rating: Breaker,
}

impl Breakers {
    /// The stored state; anything unreadable is a closed pair, so a corrupt value can make
    /// the breaker late to open but never blocks an upstream.
    pub fn decode(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: BreakerPolicy = BreakerPolicy {
        failures: 3,
        cooldown: Duration::from_secs(5),
    };

    fn after_failures(n: u32, now_ms: u64) -> Breaker {
        (0..n).fold(Breaker::default(), |b, _| b.failed(&POLICY, now_ms))
    }

    #[test]
    fn a_breaker_stays_closed_below_the_threshold() {
        assert!(after_failures(2, 1_000).allows(1_000));
    }

    #[test]
    fn the_threshold_opens_the_breaker_for_the_cooldown() {
        let open = after_failures(3, 1_000);
        assert!(!open.allows(5_999), "during the cool-down");
        assert!(open.allows(6_000), "after the cool-down");
    }

    #[test]
    fn a_failed_probe_after_the_cooldown_reopens_at_once() {
        let probed = after_failures(3, 1_000).failed(&POLICY, 6_000);
        assert!(!probed.allows(6_001));
    }

    #[test]
    fn a_success_closes_the_breaker_and_forgets_the_failures() {
        let closed = after_failures(3, 1_000).succeeded();
        assert_eq!(closed, Breaker::default());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let open = after_failures(3, 1_000);
        assert_eq!(open.retry_after_s(1_000), 5);
        assert_eq!(open.retry_after_s(5_500), 1);
        assert_eq!(open.retry_after_s(9_000), 1, "at least one second");
    }

    #[test]
    fn a_corrupt_stored_state_is_a_closed_pair() {
        assert_eq!(Breakers::decode(b"{not json"), Breakers::default());
    }

    #[test]
    fn the_stored_state_round_trips() {
        let breakers = Breakers {
            metadata: after_failures(3, 1_000),
            rating: after_failures(1, 1_000),
        };
        assert_eq!(Breakers::decode(&breakers.encode()), breakers);
    }
}
