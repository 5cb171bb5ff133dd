//! Retries of idempotent upstream GETs: which failures are worth another attempt, how long to
//! wait before it, and whether the request's budget still allows it.

use std::time::Duration;

/// How upstream calls are attempted. From Spin variables ([`crate::config::Settings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per upstream call, the first included (1 = no retry).
    pub attempts: u32,
    /// The longest one attempt may take.
    pub attempt_timeout: Duration,
    /// The backoff before the first retry; each later one doubles it.
    pub backoff_base: Duration,
}

/// An attempt shorter than this is not worth starting: it could not even connect.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(5);

/// The wait before retry number `retry` (0 for the first retry): "full jitter", a uniformly
/// random share of `base * 2^retry`, so instances that failed together do not retry together.
/// `entropy` is any 64-bit value that differs between calls (the clock's nanoseconds).
pub fn backoff(base: Duration, retry: u32, entropy: u64) -> Duration {
    let ceiling = base.saturating_mul(1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX));
    let share = splitmix64(entropy) as f64 / u64::MAX as f64;
    ceiling.mul_f64(share)
}

/// A well-mixed 64-bit value from a poorly-mixed one (SplitMix64's finaliser).
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How long the next attempt may take with `left` of the request's budget remaining, or
/// `None` when no attempt fits any more.
pub fn next_attempt(policy: &RetryPolicy, left: Duration) -> Option<Duration> {
    let timeout = policy.attempt_timeout.min(left);
    (timeout >= MIN_ATTEMPT).then_some(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(20);

    #[test]
    fn a_backoff_never_exceeds_its_doubling_ceiling() {
        for retry in 0..5 {
            for entropy in [0, 1, 42, u64::MAX, 0xdead_beef] {
                let wait = backoff(BASE, retry, entropy);
                assert!(wait <= BASE * 2u32.pow(retry), "retry {retry}: {wait:?}");
            }
        }
    }

    #[test]
    fn backoffs_are_spread_by_the_entropy() {
        let waits: std::collections::HashSet<Duration> =
            (0..20).map(|entropy| backoff(BASE, 2, entropy)).collect();
        assert!(waits.len() > 10, "20 seeds gave only {} waits", waits.len());
    }

    #[test]
    fn a_huge_retry_number_does_not_overflow() {
        assert!(backoff(BASE, 1_000, 7) <= BASE * 65_536);
    }

    #[test]
    fn an_attempt_is_cut_to_the_budget_left() {
        let policy = RetryPolicy {
            attempts: 3,
            attempt_timeout: Duration::from_millis(300),
            backoff_base: BASE,
        };
        assert_eq!(
            next_attempt(&policy, Duration::from_millis(120)),
            Some(Duration::from_millis(120))
        );
        assert_eq!(
            next_attempt(&policy, Duration::from_secs(5)),
            Some(Duration::from_millis(300))
        );
        assert_eq!(next_attempt(&policy, Duration::from_millis(2)), None);
    }
}
