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
/// After this long the statement fails, as it would under rusqlite's default 5 s busy timeout.
const GIVE_UP_AFTER: Duration = Duration::from_secs(5);

/// The waits between tries of one statement: 0.1, 0.2, 0.4, 0.8, 1.6, then 2 ms each, until
/// 5 s after the statement first found the database locked. The caller measures that time on
/// its clock: a guest's sleep lasts longer than asked, so summing the waits would undercount.
#[derive(Debug, Default)]
pub struct LockWaits {
    tries: u32,
}

impl LockWaits {
    /// The wait before the next try, or `None` once `elapsed` since the database was first
    /// found locked reached the limit.
    pub fn next_wait(&mut self, elapsed: Duration) -> Option<Duration> {
        let left = GIVE_UP_AFTER
            .checked_sub(elapsed)
            .filter(|left| !left.is_zero())?;
        let wait = FIRST
            .saturating_mul(1 << self.tries.min(16))
            .min(LONGEST)
            .min(left);
        self.tries += 1;
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits_at_start(count: usize) -> Vec<u128> {
        let mut waits = LockWaits::default();
        (0..count)
            .filter_map(|_| waits.next_wait(Duration::ZERO))
            .map(|w| w.as_micros())
            .collect()
    }

    #[test]
    fn the_waits_start_short_and_double_up_to_two_milliseconds() {
        assert_eq!(
            waits_at_start(7),
            [100, 200, 400, 800, 1600, 2000, 2000],
            "first seven waits in µs"
        );
    }

    #[test]
    fn no_wait_is_offered_after_five_seconds() {
        let mut waits = LockWaits::default();
        assert_eq!(waits.next_wait(GIVE_UP_AFTER), None, "a wait at 5 s");
    }

    #[test]
    fn the_last_wait_ends_at_five_seconds() {
        let mut waits = LockWaits::default();
        let almost = GIVE_UP_AFTER - Duration::from_micros(30);
        assert_eq!(
            waits.next_wait(almost),
            Some(Duration::from_micros(30)),
            "the wait 30 µs before the limit"
        );
    }
}
