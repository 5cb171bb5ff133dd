//! Time as the movie service uses it: one wall clock for cache ages, breaker cool-downs and
//! the request budget, and a timer for deadlines and backoff.
//!
//! Cache entries and breaker states are shared by instances (and hosts), so their times must
//! be comparable across processes: the wall clock, not the per-process monotonic clock. A
//! wall clock that jumps makes an entry look younger or older by the jump; entries live for
//! seconds, and an unreadable age is treated as stale. Reading the clock is a WASI call served
//! by the runtime itself, not a Spin capability: it touches no store, database or network.

use std::time::Duration;

#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Nanoseconds of the current second: entropy for backoff jitter.
    fn entropy(&self) -> u64;
    /// Completes after `duration`.
    async fn sleep(&self, duration: Duration);
}

/// The WASI clocks of the running component.
#[cfg(target_arch = "wasm32")]
pub struct WasiClock;

#[cfg(target_arch = "wasm32")]
impl Clock for WasiClock {
    fn now_ms(&self) -> u64 {
        let now = spin_sdk::wasip3::clocks::system_clock::now();
        let seconds = u64::try_from(now.seconds).unwrap_or(0);
        seconds
            .saturating_mul(1_000)
            .saturating_add(u64::from(now.nanoseconds / 1_000_000))
    }

    fn entropy(&self) -> u64 {
        u64::from(spin_sdk::wasip3::clocks::system_clock::now().nanoseconds)
    }

    async fn sleep(&self, duration: Duration) {
        spin_sdk::time::sleep(duration).await;
    }
}
