//! Business rules of the movie service: serve a movie's view from the cache while it is fresh,
//! otherwise compose it from metadata and rating (asked concurrently, each within a deadline,
//! retried within the request's budget, skipped while its breaker is open), and fall back when
//! an upstream cannot answer.

use crate::cache::CacheError;
use crate::cache::entry::{self, CachedView, Validator};
use crate::cache::memory::{MemoryCache, UpstreamHealth};
use crate::cache::{CacheOutcome, Ttl};
use crate::clock::Clock;
use crate::config::{ConfigError, Settings};
use crate::model::{MovieDetails, MovieId, MovieMetadata, RatingSummary};
use crate::reliability::breaker::{self, Breaker, Breakers};
use crate::reliability::retry::{MIN_ATTEMPT, backoff, next_attempt};
use service_kit::rate_limit::{Admission, OverQuota};
use service_kit::{Classify, ErrorClass};
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

/// How long an instance answers the gRPC health service from its last probe of the upstreams.
pub const UPSTREAM_HEALTH_MEMO_MS: u64 = 1_000;

/// Why an upstream call failed. The message is for the log; clients learn only which upstream.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    #[error("request failed: {0}")]
    Transport(String),
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("no answer within the deadline")]
    TimedOut,
    #[error("unreadable response: {0}")]
    Malformed(String),
}

impl GatewayError {
    /// The failure's kind, as the access line's `upstreams[].outcome` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            GatewayError::Transport(_) => "transport",
            GatewayError::Status(_) => "status",
            GatewayError::TimedOut => "timeout",
            GatewayError::Malformed(_) => "malformed",
        }
    }

    /// Worth another attempt of an idempotent GET: the request may not have reached the
    /// upstream, or the upstream said it is momentarily unable. A timeout is not retried: the
    /// upstream is slow, and asking it again adds load while using up the budget.
    pub fn is_retryable(&self) -> bool {
        match self {
            GatewayError::Transport(_) => true,
            GatewayError::Status(status) => matches!(status, 502..=504),
            GatewayError::TimedOut | GatewayError::Malformed(_) => false,
        }
    }
}

/// What a (conditional) GET of an upstream resource gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched<T> {
    /// The representation, with its ETag if the upstream sent one.
    Found { value: T, tag: Option<Validator> },
    /// The upstream has no such resource.
    Absent,
    /// 304: the validator we sent is still current.
    NotModified,
}

/// The metadata service as this one needs it: one attempt, abandoned after `timeout`.
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait MetadataGateway {
    async fn metadata(
        &self,
        id: &MovieId,
        known: Option<&Validator>,
        timeout: Duration,
    ) -> Result<Fetched<MovieMetadata>, GatewayError>;

    /// Whether the metadata service reports itself healthy within `timeout`.
    async fn healthy(&self, timeout: Duration) -> bool;
}

/// The rating service as this one needs it: one attempt, abandoned after `timeout`.
/// `Absent` means nobody has rated the movie.
#[allow(async_fn_in_trait)]
pub trait RatingGateway {
    async fn rating(
        &self,
        id: &MovieId,
        known: Option<&Validator>,
        timeout: Duration,
    ) -> Result<Fetched<RatingSummary>, GatewayError>;

    /// Whether the rating service reports itself healthy within `timeout`.
    async fn healthy(&self, timeout: Duration) -> bool;
}

/// The movie service's own key-value store: cached views and breaker state.
#[allow(async_fn_in_trait)]
pub trait CacheStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), CacheError>;
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    async fn ping(&self) -> Result<(), CacheError>;
}

#[derive(Debug, thiserror::Error)]
pub enum MovieError {
    #[error("no movie {0}")]
    NotFound(MovieId),
    /// The upstream answered, but not usably (a wrong URL, a garbage body): 502.
    #[error("upstream {service} failed: {source}")]
    Upstream {
        service: &'static str,
        source: GatewayError,
    },
    /// The upstream could not be reached or is failing, and nothing cached could stand in.
    #[error("upstream {service} unavailable: {cause}")]
    Unavailable {
        service: &'static str,
        cause: String,
        retry_after_s: u32,
    },
    #[error("upstream {service} did not answer within the deadline")]
    TimedOut { service: &'static str },
    /// The client composed too many views this window.
    #[error(transparent)]
    OverQuota(#[from] OverQuota),
    /// The service is not configured usably: no request can be served.
    #[error("movie is misconfigured: {0}")]
    Misconfigured(#[from] ConfigError),
}

impl Classify for MovieError {
    fn class(&self) -> ErrorClass {
        match self {
            MovieError::NotFound(_) => ErrorClass::NotFound,
            MovieError::Upstream { service, .. } => ErrorClass::Upstream(service),
            MovieError::Unavailable {
                service,
                retry_after_s,
                ..
            } => ErrorClass::Unavailable {
                service,
                retry_after_s: *retry_after_s,
            },
            MovieError::TimedOut { service } => ErrorClass::TimedOut(service),
            MovieError::OverQuota(over) => over.class(),
            MovieError::Misconfigured(_) => ErrorClass::Internal,
        }
    }
}

/// Whether the client lets a cached view answer (`Cache-Control: no-cache` does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    CachedAllowed,
    MustCompose,
}

/// A view as served, with what the edge needs for its caching headers.
#[derive(Debug, Clone)]
pub struct Served {
    pub view: Rc<CachedView>,
    pub outcome: CacheOutcome,
    /// The composed view was written to the cache.
    pub stored: bool,
    /// The rating service could not answer: the view has no rating and is not cached.
    pub rating_unavailable: bool,
    pub age: Duration,
    /// How much longer the view is fresh for an HTTP cache in front of this service.
    pub fresh_for: Duration,
}

/// Why an upstream gave no answer for this view.
#[derive(Debug)]
enum Unanswered {
    /// Its breaker is open: not asked.
    Skipped {
        retry_after_s: u32,
    },
    Failed(GatewayError),
}

type Outcome<T> = Result<Fetched<T>, Unanswered>;

pub struct MovieController<M, R, C, K> {
    metadata: M,
    rating: R,
    cache: C,
    clock: K,
    memory: MemoryCache,
    settings: Settings,
}

impl<M, R, C, K> MovieController<M, R, C, K>
where
    M: MetadataGateway,
    R: RatingGateway,
    C: CacheStore,
    K: Clock,
{
    pub fn new(
        (metadata, rating): (M, R),
        cache: C,
        clock: K,
        memory: MemoryCache,
        settings: Settings,
    ) -> Self {
        Self {
            metadata,
            rating,
            cache,
            clock,
            memory,
            settings,
        }
    }

    /// The movie's view. A fresh memory entry costs no host call; a fresh store entry one
    /// store read. Otherwise both upstreams are asked at once (the latency is the slower
    /// call's), conditionally when a stale entry has validators. A missing movie is 404
    /// whatever the rating service said; a missing rating is an unrated movie; a failing
    /// rating service gives a view without rating; failing metadata gives the stale view if
    /// there is one. Only a view that goes to the upstreams is counted against its client's
    /// quota (`admission`): a hit costs less than the count would.
    pub async fn view(
        &self,
        id: &MovieId,
        freshness: Freshness,
        admission: &impl Admission,
    ) -> Result<Served, MovieError> {
        let now = self.clock.now_ms();
        let cached_allowed = freshness == Freshness::CachedAllowed;
        let mut stale = None;
        let mut in_store = None;
        if let Some(entry) = self.memory.get(id) {
            let age = entry.age(now);
            if cached_allowed && self.settings.memory.is_fresh(age) {
                return Ok(self.served(entry, CacheOutcome::MemoryHit, now));
            }
            stale = self.settings.memory.is_usable(age).then_some(entry);
        }
        if let Some(entry) = self.stored_view(id).await {
            let age = entry.age(now);
            let entry = Rc::new(entry);
            if cached_allowed && self.settings.store.is_fresh(age) {
                self.remember(Rc::clone(&entry));
                return Ok(self.served(entry, CacheOutcome::StoreHit, now));
            }
            let newer = stale
                .as_ref()
                .is_none_or(|kept| kept.composed_at_ms < entry.composed_at_ms);
            if self.settings.store.is_usable(age) && newer {
                stale = Some(Rc::clone(&entry));
            }
            in_store = Some(entry);
        }
        let outcome = match (&stale, freshness) {
            (_, Freshness::MustCompose) => CacheOutcome::Bypassed,
            (Some(_), _) => CacheOutcome::Refreshed,
            (None, _) => CacheOutcome::Miss,
        };
        admission.admit().await?;
        self.compose(id, (stale, in_store), outcome, now).await
    }

    pub async fn health(&self) -> Result<(), CacheError> {
        self.cache.ping().await
    }

    /// Whether each upstream reports itself healthy (metadata, rating): for the gRPC health
    /// service, which answers for the whole system without a token. A probe asks both at once,
    /// each within one attempt's timeout, so it costs two upstream calls: the instance answers
    /// from its last probe for [`UPSTREAM_HEALTH_MEMO_MS`], and a probe is counted against
    /// its client's quota like a composed view (`admission`; over it: 429,
    /// `RESOURCE_EXHAUSTED`), so a flood of health checks cannot become a flood of upstream calls.
    pub async fn upstreams_healthy(
        &self,
        admission: &impl Admission,
    ) -> Result<(bool, bool), MovieError> {
        let now = self.clock.now_ms();
        if let Some(known) = self.memory.upstream_health()
            && now.saturating_sub(known.probed_at_ms) < UPSTREAM_HEALTH_MEMO_MS
        {
            return Ok((known.metadata, known.rating));
        }
        admission.admit().await?;
        let timeout = self.settings.retry.attempt_timeout;
        let (metadata, rating) =
            futures::join!(self.metadata.healthy(timeout), self.rating.healthy(timeout));
        self.memory.remember_upstream_health(UpstreamHealth {
            metadata,
            rating,
            probed_at_ms: now,
        });
        Ok((metadata, rating))
    }

    /// Composes the view, revalidating `stale` if given; `in_store` is what the store holds,
    /// so an unchanged, recently written view is not written again.
    async fn compose(
        &self,
        id: &MovieId,
        (stale, in_store): (Option<Rc<CachedView>>, Option<Rc<CachedView>>),
        outcome: CacheOutcome,
        now: u64,
    ) -> Result<Served, MovieError> {
        let breakers = self.breakers().await;
        let deadline = now.saturating_add(millis(self.settings.budget));
        let known = stale.as_deref();
        let (metadata, rating) = futures::join!(
            self.ask(&breakers.metadata, now, deadline, |timeout| {
                self.metadata
                    .metadata(id, known.and_then(|v| v.metadata_tag.as_ref()), timeout)
            }),
            self.ask(&breakers.rating, now, deadline, |timeout| {
                self.rating
                    .rating(id, known.and_then(|v| v.rating_tag.as_ref()), timeout)
            }),
        );
        self.record(breakers, &metadata, &rating).await;

        let (metadata, metadata_tag) = match (metadata, known) {
            (Ok(Fetched::Found { value, tag }), _) => (value, tag),
            (Ok(Fetched::NotModified), Some(known)) => {
                (known.details.metadata.clone(), known.metadata_tag.clone())
            }
            (Ok(Fetched::Absent), _) => {
                self.forget(id).await;
                return Err(MovieError::NotFound(id.clone()));
            }
            (Ok(Fetched::NotModified), None) => {
                let unexpected = GatewayError::Malformed("304 to an unconditional GET".into());
                return Err(unavailable("metadata", Unanswered::Failed(unexpected)));
            }
            (Err(unanswered), _) => {
                return match stale {
                    Some(entry) => {
                        service_kit::telemetry::warn("movie.stale_view_served")
                            .with("movie.id", id.as_str())
                            .cause(format!("metadata {unanswered:?}"))
                            .emit();
                        Ok(self.served(entry, CacheOutcome::StaleServed, self.clock.now_ms()))
                    }
                    None => Err(unavailable("metadata", unanswered)),
                };
            }
        };
        let rating = match (rating, known) {
            (Ok(Fetched::Found { value, tag }), _) => Some((Some(value), tag)),
            (Ok(Fetched::Absent), _) => Some((None, None)),
            (Ok(Fetched::NotModified), Some(known)) => {
                Some((known.details.rating, known.rating_tag.clone()))
            }
            (Ok(Fetched::NotModified), None) => None,
            (Err(unanswered), _) => {
                service_kit::telemetry::warn("movie.served_without_rating")
                    .with("movie.id", id.as_str())
                    .cause(format!("rating {unanswered:?}"))
                    .emit();
                None
            }
        };
        let rating_unavailable = rating.is_none();
        let (rating, rating_tag) = rating.unwrap_or((None, None));
        let view = Rc::new(CachedView {
            details: MovieDetails {
                id: id.clone(),
                metadata,
                rating,
            },
            composed_at_ms: now,
            metadata_tag,
            rating_tag,
        });
        let stored = !rating_unavailable && self.keep(&view, in_store.as_deref()).await;
        let mut served = self.served(view, outcome, self.clock.now_ms());
        served.stored = stored;
        served.rating_unavailable = rating_unavailable;
        if rating_unavailable {
            served.fresh_for = Duration::ZERO;
        }
        Ok(served)
    }

    /// One upstream call: skipped while its breaker is open, else attempted until it
    /// succeeds, fails for good, or no attempt fits before `deadline` (ms since the epoch).
    async fn ask<T, F, Fut>(
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
            let left = remaining(deadline, self.clock.now_ms());
            let Some(timeout) = next_attempt(&policy, left) else {
                break;
            };
            match call(timeout).await {
                Ok(fetched) => return Ok(fetched),
                Err(error) if error.is_retryable() && attempt + 1 < policy.attempts => {
                    let wait = backoff(policy.backoff_base, attempt, self.clock.entropy());
                    if wait.saturating_add(MIN_ATTEMPT) > remaining(deadline, self.clock.now_ms()) {
                        return Err(Unanswered::Failed(error));
                    }
                    self.clock.sleep(wait).await;
                    last = error;
                }
                Err(error) => return Err(Unanswered::Failed(error)),
            }
        }
        Err(Unanswered::Failed(last))
    }

    fn served(&self, view: Rc<CachedView>, outcome: CacheOutcome, now: u64) -> Served {
        let age = view.age(now);
        let fresh_for = match outcome {
            CacheOutcome::StaleServed => Duration::ZERO,
            _ => self.settings.store.fresh.saturating_sub(age),
        };
        Served {
            view,
            outcome,
            stored: false,
            rating_unavailable: false,
            age,
            fresh_for,
        }
    }

    /// The store's entry for `id`, if it has a readable one. A store that fails is a miss.
    async fn stored_view(&self, id: &MovieId) -> Option<CachedView> {
        match self.cache.get(&entry::key(id)).await {
            Ok(bytes) => bytes.and_then(|bytes| CachedView::decode(id, &bytes)),
            Err(error) => {
                service_kit::telemetry::warn("cache.read_failed")
                    .with("movie.id", id.as_str())
                    .cause(&error)
                    .emit();
                None
            }
        }
    }

    fn remember(&self, view: Rc<CachedView>) {
        let now = self.clock.now_ms();
        let ttl: Ttl = self.settings.memory;
        self.memory.put(view, |entry| ttl.is_usable(entry.age(now)));
    }

    /// Keeps a composed view in both levels; whether it was written to the store. A store
    /// write is skipped when the store already holds the same view written less than half its
    /// fresh TTL ago: Spin's `spin` key-value backend syncs every write to disk under one lock
    /// for the whole app, so clients that always send `no-cache` must not cost a write each.
    async fn keep(&self, view: &Rc<CachedView>, in_store: Option<&CachedView>) -> bool {
        self.remember(Rc::clone(view));
        let young =
            |stored: &CachedView| stored.age(view.composed_at_ms) < self.settings.store.fresh / 2;
        if in_store.is_some_and(|stored| stored.same_view(view) && young(stored)) {
            return false;
        }
        let key = entry::key(&view.details.id);
        match self.cache.set(&key, &view.encode()).await {
            Ok(()) => true,
            Err(error) => {
                service_kit::telemetry::warn("cache.write_failed")
                    .with("movie.id", view.details.id.as_str())
                    .cause(&error)
                    .emit();
                false
            }
        }
    }

    /// Drops a movie that no longer exists from both levels.
    async fn forget(&self, id: &MovieId) {
        self.memory.remove(id);
        if let Err(error) = self.cache.delete(&entry::key(id)).await {
            service_kit::telemetry::warn("cache.delete_failed")
                .with("movie.id", id.as_str())
                .cause(&error)
                .emit();
        }
    }

    /// The shared breaker state; a failing store means closed breakers.
    async fn breakers(&self) -> Breakers {
        match self.cache.get(breaker::KEY).await {
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
    async fn record<A, B>(&self, before: Breakers, metadata: &Outcome<A>, rating: &Outcome<B>) {
        let now = self.clock.now_ms();
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
            && let Err(error) = self.cache.set(breaker::KEY, &updated.encode()).await
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
fn unavailable(service: &'static str, unanswered: Unanswered) -> MovieError {
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn remaining(deadline: u64, now: u64) -> Duration {
    Duration::from_millis(deadline.saturating_sub(now))
}

#[cfg(test)]
mod tests;
