//! Guarded upstream calls: each call skipped while its circuit breaker is open, else attempted
//! within its deadline and retried within the request's budget; the breakers' shared state
//! read before (at most once per [`BREAKERS_MEMO_MS`] per instance) and written back after
//! when the calls changed it; what an unanswered call means for the view.

use super::ports::{CacheStore, Fetched, GatewayError, Ports};
use super::{MovieController, MovieError};
use crate::clock::Clock;
use crate::reliability::breaker::{self, Breaker, Breakers};
use crate::reliability::retry::{MIN_ATTEMPT, backoff, next_attempt};
use std::future::Future;
use std::time::Duration;

/// How long an instance decides from the breakers' state it last read or wrote, instead of
/// reading the store again. Under Spin's default store a read costs about 150 us of a loaded
/// host's time, as much as the rest of a miss's own work (`docs/performance.md`), and a
/// healthy system never changes the state. Another instance's change is seen this much later
/// at most; the cool-down it starts is 5 s by default, and a change this instance makes is
/// written against a fresh read ([`MovieController::record`]).
pub const BREAKERS_MEMO_MS: u64 = 1_000;

/// Why an upstream gave no answer for this view.
#[derive(Debug)]
pub(super) enum Unanswered {
    /// Its breaker is open: not asked.
    Skipped {
        retry_after_s: u32,
    },
    Failed(GatewayError),
}

pub(super) type Outcome<T> = Result<Fetched<T>, Unanswered>;

impl<P: Ports> MovieController<P> {
    /// One upstream call: skipped while its breaker is open, else attempted until it
    /// succeeds, fails for good, or no attempt fits before `deadline` (ms since the epoch).
    pub(super) async fn ask<T, F, Fut>(
        &self,
        breaker: &Breaker,
        now: u64,
        deadline: u64,
        call: F,
    ) -> Outcome<T>
    where
        F: Fn(Duration) -> Fut,
        Fut: Future<Output = Result<Fetched<T>, GatewayError>>,
    {
        if !breaker.allows(now) {
            return Err(Unanswered::Skipped {
                retry_after_s: breaker.retry_after_s(now),
            });
        }
        let policy = self.settings.retry;
        let mut last = GatewayError::TimedOut;
        for attempt in 0..policy.attempts {
            let left = remaining(deadline, self.ports.clock().now_ms());
            let Some(timeout) = next_attempt(&policy, left) else {
                break;
            };
            match call(timeout).await {
                Ok(fetched) => return Ok(fetched),
                Err(error) if error.is_retryable() && attempt + 1 < policy.attempts => {
                    let wait = backoff(policy.backoff_base, attempt, self.ports.clock().entropy());
                    if wait.saturating_add(MIN_ATTEMPT)
                        > remaining(deadline, self.ports.clock().now_ms())
                    {
                        return Err(Unanswered::Failed(error));
                    }
                    self.ports.clock().sleep(wait).await;
                    last = error;
                }
                Err(error) => return Err(Unanswered::Failed(error)),
            }
        }
        Err(Unanswered::Failed(last))
    }

    /// The breakers' shared state: as this instance last knew it if that is recent, else
    /// read from the store. A failing store means closed breakers (and is not remembered).
    pub(super) async fn breakers(&self) -> Breakers {
        let now = self.ports.clock().now_ms();
        if let Some(known) = self.memory.breakers()
            && now.saturating_sub(known.known_at_ms) < BREAKERS_MEMO_MS
        {
            return known.breakers;
        }
        self.read_breakers(now).await.unwrap_or_default()
    }

    /// The breakers as the store holds them now, remembered for the instance.
    async fn read_breakers(&self, now: u64) -> Option<Breakers> {
        match self.ports.cache().get(breaker::KEY).await {
            Ok(bytes) => {
                let breakers = bytes.as_deref().map(Breakers::decode).unwrap_or_default();
                self.memory.remember_breakers(breakers, now);
                Some(breakers)
            }
            Err(error) => {
                service_kit::telemetry::warn("breakers.read_failed")
                    .cause(&error)
                    .emit();
                None
            }
        }
    }

    /// Writes the breakers back if this view's calls changed them. The change is applied to
    /// the state read afresh, not to the one the view decided from, which may be up to
    /// [`BREAKERS_MEMO_MS`] old: this instance's failures must not close a breaker that
    /// another instance opened meanwhile.
    pub(super) async fn record<A, B>(
        &self,
        before: Breakers,
        metadata: &Outcome<A>,
        rating: &Outcome<B>,
    ) {
        let now = self.ports.clock().now_ms();
        let policy = self.settings.breaker;
        let after = |breakers: Breakers| {
            let one = |breaker: Breaker, called: Option<bool>| match called {
                Some(true) => breaker.succeeded(),
                Some(false) => breaker.failed(&policy, now),
                None => breaker,
            };
            Breakers {
                metadata: one(breakers.metadata, succeeded(metadata)),
                rating: one(breakers.rating, succeeded(rating)),
            }
        };
        if after(before) == before {
            return;
        }
        let current = self.read_breakers(now).await.unwrap_or(before);
        let updated = after(current);
        if updated == current {
            return;
        }
        match self
            .ports
            .cache()
            .set(breaker::KEY, &updated.encode())
            .await
        {
            Ok(()) => self.memory.remember_breakers(updated, now),
            Err(error) => service_kit::telemetry::warn("breakers.write_failed")
                .cause(&error)
                .emit(),
        }
    }
}

/// Whether a call succeeded; `None` if it was skipped.
fn succeeded<T>(outcome: &Outcome<T>) -> Option<bool> {
    match outcome {
        Ok(_) => Some(true),
        Err(Unanswered::Failed(_)) => Some(false),
        Err(Unanswered::Skipped { .. }) => None,
    }
}

/// The error for an upstream without which no view can be served.
pub(super) fn unavailable(service: &'static str, unanswered: Unanswered) -> MovieError {
    match unanswered {
        Unanswered::Skipped { retry_after_s } => MovieError::Unavailable {
            service,
            cause: "its circuit breaker is open".into(),
            retry_after_s,
        },
        Unanswered::Failed(GatewayError::TimedOut) => MovieError::TimedOut { service },
        Unanswered::Failed(source @ GatewayError::Malformed(_)) => {
            MovieError::Upstream { service, source }
        }
        Unanswered::Failed(GatewayError::Status(status)) if !(500..=599).contains(&status) => {
            MovieError::Upstream {
                service,
                source: GatewayError::Status(status),
            }
        }
        Unanswered::Failed(cause) => MovieError::Unavailable {
            service,
            cause: cause.to_string(),
            retry_after_s: 1,
        },
    }
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn remaining(deadline: u64, now: u64) -> Duration {
    Duration::from_millis(deadline.saturating_sub(now))
}
