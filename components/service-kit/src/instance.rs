//! What every component instance reads from Spin: its variables, the wall clock and the
//! monotonic clock.

/// Why an instance cannot be configured: a variable Spin could not give, or a value that does
/// not parse. Every request of such an instance would fail alike, so the entry answers 500 and
/// logs it ([`crate::edge::respond::misconfigured`]); the message names the variable, never
/// its value when the value is a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Spin refused the variable (not granted, not defined, a provider's failure).
    #[error("reading variable {name}: {cause}")]
    Unreadable { name: String, cause: String },
    /// The value is not what the variable must hold.
    #[error("variable {name}: {reason}")]
    Invalid { name: String, reason: String },
}

impl ConfigError {
    /// Variable `name` holds something it must not, for `reason`.
    pub fn invalid(name: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Invalid {
            name: name.into(),
            reason: reason.to_string(),
        }
    }
}

/// The value of the Spin variable `name` (granted in the component's `[variables]`). Spin
/// asks its environment provider first, on the host's thread, so every read is made as such a
/// call ([`crate::host_turn::blocking`]); a component reads its variables once per instance.
pub async fn variable(name: &str) -> Result<String, ConfigError> {
    crate::host_turn::blocking(spin_sdk::variables::get(name))
        .await
        .map_err(|error| ConfigError::Unreadable {
            name: name.to_owned(),
            cause: error.to_string(),
        })
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

/// Time elapsed since it started, on the monotonic clock: durations must not jump when the
/// wall clock is stepped.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    #[cfg(target_arch = "wasm32")]
    started_ns: u64,
    #[cfg(not(target_arch = "wasm32"))]
    started: std::time::Instant,
}

impl Stopwatch {
    pub fn start() -> Self {
        Self {
            #[cfg(target_arch = "wasm32")]
            started_ns: spin_sdk::wasip3::clocks::monotonic_clock::now(),
            #[cfg(not(target_arch = "wasm32"))]
            started: std::time::Instant::now(),
        }
    }

    pub fn elapsed(&self) -> std::time::Duration {
        #[cfg(target_arch = "wasm32")]
        {
            let now = spin_sdk::wasip3::clocks::monotonic_clock::now();
            std::time::Duration::from_nanos(now.saturating_sub(self.started_ns))
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.started.elapsed()
        }
    }
}

/// A duration in milliseconds with microsecond precision, as the log lines state them.
pub fn millis(duration: std::time::Duration) -> f64 {
    (duration.as_micros() as f64) / 1000.0
}

/// `ms` since the epoch as an RFC 3339 UTC timestamp with milliseconds, as log lines and
/// API members state instants.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
