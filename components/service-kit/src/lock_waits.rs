//! How long a statement waits before trying again a database whose write lock another
//! connection holds.
//!
//! SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms between
//! tries, while the host keeps the connection locked, so every other statement of the
//! instance waits with it. A write here holds the lock for a fraction of a millisecond, so a
//! writer that lost the race is better served by short waits of its own: the connection is
//! free meanwhile, and the next try comes soon after the lock is released. Transport-free and
//! clock-free, so the schedule is unit-tested natively.

use std::time::Duration;

/// The first wait: a few times what one of our writes holds the lock.
const FIRST: Duration = Duration::from_micros(100);
/// Waits double up to this, so a long holder (a checkpoint) is not polled in a tight loop.
const LONGEST: Duration = Duration::from_millis(2);
/// After this much waiting the statement fails, as it would under rusqlite's default 5 s busy
/// timeout.
const GIVE_UP_AFTER: Duration = Duration::from_secs(5);

/// The waits between tries of one statement: 0.1, 0.2, 0.4, 0.8, 1.6, then 2 ms each, until
/// 5 s were spent waiting.
#[derive(Debug, Default)]
pub struct LockWaits {
    waited: Duration,
    tries: u32,
}

impl Iterator for LockWaits {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.waited >= GIVE_UP_AFTER {
            return None;
        }
        let wait = FIRST
            .saturating_mul(1 << self.tries.min(16))
            .min(LONGEST)
            .min(GIVE_UP_AFTER - self.waited);
        self.tries += 1;
        self.waited += wait;
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waits_start_short_and_double() {
        let first: Vec<u128> = LockWaits::default()
            .take(5)
            .map(|w| w.as_micros())
            .collect();
        assert_eq!(first, [100, 200, 400, 800, 1600], "first five waits in µs");
    }

    #[test]
    fn no_wait_is_longer_than_two_milliseconds() {
        let longest = LockWaits::default().max();
        assert_eq!(longest, Some(LONGEST), "longest wait");
    }

    #[test]
    fn the_waits_stop_after_five_seconds_in_all() {
        let total: Duration = LockWaits::default().sum();
        assert_eq!(total, GIVE_UP_AFTER, "total of all waits");
    }
}
