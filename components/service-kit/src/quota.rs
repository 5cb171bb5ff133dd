//! A rate limit's policy and the outcome of one check: plain values with no I/O, shared by the
//! counting ([`crate::rate_limit`]), the error classes that carry a refusal
//! ([`crate::error_class`]) and the edge that states them in headers. A leaf, so each of those
//! may use it without using the others.

/// A quota of requests per window of `window_s` seconds. A quota of 0 switches limiting off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    pub quota: u32,
    pub window_s: u32,
}

impl RatePolicy {
    pub const OFF: Self = Self {
        quota: 0,
        window_s: 60,
    };

    pub fn is_off(&self) -> bool {
        self.quota == 0
    }

    /// The window `now_s` (seconds since the epoch) falls in.
    pub fn window(&self, now_s: u64) -> u64 {
        now_s / u64::from(self.window_s.max(1))
    }

    /// What the `count`th request of its window at `now_s` is allowed.
    pub fn decide(&self, count: u32, now_s: u64) -> Decision {
        let window_s = u64::from(self.window_s.max(1));
        let reset_s = u32::try_from(window_s - now_s % window_s).unwrap_or(u32::MAX);
        Decision {
            policy: *self,
            allowed: count <= self.quota,
            remaining: self.quota.saturating_sub(count),
            reset_s,
        }
    }
}

/// The outcome of one check, with what the client is told about its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub policy: RatePolicy,
    pub allowed: bool,
    /// Requests left in this window.
    pub remaining: u32,
    /// Seconds until the window ends and the quota is whole again (at least 1).
    pub reset_s: u32,
}
