//! What every component instance reads from Spin: its variables and the wall clock.

/// The value of the Spin variable `name` (granted in the component's `[variables]`).
pub async fn variable(name: &str) -> Result<String, String> {
    spin_sdk::variables::get(name)
        .await
        .map_err(|error| format!("reading variable {name}: {error}"))
}

/// The wall clock in milliseconds since the epoch: shared by every instance, unlike the
/// monotonic clock, so it is what rate-limit windows and token lifetimes are stated in.
pub fn now_ms() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        let now = spin_sdk::wasip3::clocks::system_clock::now();
        let seconds = u64::try_from(now.seconds).unwrap_or(0);
        seconds
            .saturating_mul(1000)
            .saturating_add(u64::from(now.nanoseconds / 1_000_000))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}
