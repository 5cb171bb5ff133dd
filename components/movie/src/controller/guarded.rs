//! Guarded upstream calls: each call skipped while its circuit breaker is open, else attempted
//! within its deadline and retried within the request's budget; the breakers' shared state
//! read before and written back after; what an unanswered call means for the view.

use super::ports::{CacheStore, Fetched, GatewayError, Ports};
use super::{MovieController, MovieError};
use crate::clock::Clock;
use crate::reliability::breaker::{self, Breaker, Breakers};
use crate::reliability::retry::{MIN_ATTEMPT, backoff, next_attempt};
use std::future::Future;
use std::time::Duration;

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

    /// The shared breaker state; a failing store means closed breakers.
    pub(super) async fn breakers(&self) -> Breakers {
        match self.ports.cache().get(breaker::KEY).await {
            Ok(bytes) => bytes.as_deref().map(Breakers::decode).unwrap_or_default(),
            Err(error) => {
                service_kit::telemetry::warn("breakers.read_failed")
                    .cause(&error)
                    .emit();
                Breakers::default()
            }
        }
    }

    /// Writes the breakers back if this view's calls changed them.
    pub(super) async fn record<A, B>(
        &self,
        before: Breakers,
        metadata: &Outcome<A>,
        rating: &Outcome<B>,
    ) {
        let now = self.ports.clock().now_ms();
        let policy = self.settings.breaker;
        let after = |breaker: Breaker, called: Option<bool>| match called {
            Some(true) => breaker.succeeded(),
            Some(false) => breaker.failed(&policy, now),
            None => breaker,
        };
        let updated = Breakers {
            metadata: after(before.metadata, succeeded(metadata)),
            rating: after(before.rating, succeeded(rating)),
        };
        if updated != before
            && let Err(error) = self
                .ports
                .cache()
                .set(breaker::KEY, &updated.encode())
                .await
        {
            service_kit::telemetry::warn("breakers.write_failed")
                .cause(&error)
                .emit();
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
