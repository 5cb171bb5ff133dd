//! Business rules of the movie service: serve a movie's view from the cache while it is fresh,
//! otherwise compose it from metadata and rating (asked concurrently, each within a deadline,
//! retried within the request's budget, skipped while its breaker is open), and fall back when
//! an upstream cannot answer.
//!
//! Composition is here; the view cache's policy is [`view_cache`], the guarded upstream calls
//! (deadline, retries, breakers) are [`guarded`], and what the controller reaches outside
//! itself is declared in [`ports`].

mod guarded;
pub mod ports;
mod view_cache;

pub use ports::{CacheStore, Fetched, GatewayError, MetadataGateway, Ports, RatingGateway};

use crate::cache::CacheError;
use crate::cache::CacheOutcome;
use crate::cache::entry::CachedView;
use crate::cache::memory::{MemoryCache, UpstreamHealth};
use crate::clock::Clock;
use crate::config::{ConfigError, Settings};
use crate::model::{MovieDetails, MovieId};
use guarded::{Unanswered, millis, unavailable};
use service_kit::rate_limit::{Admission, OverQuota};
use service_kit::{Classify, ErrorClass};
use std::rc::Rc;
use std::time::Duration;

/// How long an instance answers the gRPC health service from its last probe of the upstreams.
pub const UPSTREAM_HEALTH_MEMO_MS: u64 = 1_000;

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

pub struct MovieController<P> {
    ports: P,
    memory: MemoryCache,
    settings: Settings,
}

impl<P: Ports> MovieController<P> {
    pub fn new(ports: P, memory: MemoryCache, settings: Settings) -> Self {
        Self {
            ports,
            memory,
            settings,
        }
    }

    /// The movie's view. A fresh memory entry costs no host call; a fresh store entry one
    /// store read. Otherwise both upstreams are asked at once (the latency is the slower
    /// call's), conditionally when a stale entry has validators; a view the client wants
    /// composed (`no-cache`) revalidates the instance's own entry without reading the store
    /// when it can. A missing movie is 404 whatever the rating service said; a missing
    /// rating is an unrated movie; a failing rating service gives a view without rating;
    /// failing metadata gives the stale view if there is one. Only a view that goes to the upstreams is counted against its client's
    /// quota (`admission`): a hit costs less than the count would.
    pub async fn view(
        &self,
        id: &MovieId,
        freshness: Freshness,
        admission: &impl Admission,
    ) -> Result<Served, MovieError> {
        let cached_allowed = freshness == Freshness::CachedAllowed;
        // The request budget counts from here, so a view that waited for another request's
        // fill still answers within it.
        let arrived_ms = self.ports.clock().now_ms();
        let (mut now, mut remembered) = (arrived_ms, self.memory.get(id));
        let served_from_memory = remembered.as_ref().is_some_and(|kept| kept.is_fresh(now));
        if cached_allowed && !served_from_memory && self.waited_for_fill(id).await {
            now = self.ports.clock().now_ms();
            remembered = self.memory.get(id);
        }
        let mut stale = None;
        let mut in_store = None;
        if let Some(remembered) = remembered {
            if cached_allowed && remembered.is_fresh(now) {
                return Ok(self.served(remembered.view, CacheOutcome::MemoryHit, now));
            }
            let entry = remembered.view;
            stale = self
                .settings
                .memory
                .is_usable(entry.age(now))
                .then_some(entry);
        }
        // From here on this request fills memory with the movie's view; the instance's other
        // requests for it wait for that rather than do the same ([`Self::waited_for_fill`]).
        let _filling = self.memory.filling(id);
        // A view composed in any case revalidates the entry this instance holds without asking
        // the store, when the instance knows what the store holds (the version it last read
        // or wrote there), which tells whether the composed view needs writing.
        let known_stored = self
            .memory
            .stored(id)
            .filter(|_| !cached_allowed && stale.is_some());
        if known_stored.is_some() {
            in_store = known_stored;
        } else if let Some(entry) = self.stored_view(id).await {
            let age = entry.age(now);
            let entry = Rc::new(entry);
            if cached_allowed && self.settings.store.is_fresh(age) {
                self.remember_read(Rc::clone(&entry), now);
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
        let deadline = arrived_ms.saturating_add(millis(self.settings.budget));
        self.compose(id, (stale, in_store), outcome, (now, deadline))
            .await
    }

    /// Waits for this instance's fill of `id` (a store read, a composition), if one is under
    /// way; whether there was one. A view that memory cannot serve waits for it and is then
    /// served from memory (request coalescing) instead of reading the store and asking both
    /// upstreams again: without it the expiry of a hot movie cost up to one composition per
    /// request the instance serves at once (16 under Spin). A view sent with `no-cache` never
    /// waits: the fill under way may have started before the client's own write. A fill that
    /// fails leaves each waiter to find its own way within what is left of its budget, so a
    /// view waits for one fill at most and still answers in time.
    async fn waited_for_fill(&self, id: &MovieId) -> bool {
        match self.memory.fill(id) {
            Some(fill) => {
                fill.finished().await;
                true
            }
            None => false,
        }
    }

    pub async fn health(&self) -> Result<(), CacheError> {
        self.ports.cache().ping().await
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
        let now = self.ports.clock().now_ms();
        if let Some(known) = self.memory.upstream_health()
            && now.saturating_sub(known.probed_at_ms) < UPSTREAM_HEALTH_MEMO_MS
        {
            return Ok((known.metadata, known.rating));
        }
        admission.admit().await?;
        let timeout = self.settings.retry.attempt_timeout;
        let (metadata, rating) = futures::join!(
            self.ports.metadata().healthy(timeout),
            self.ports.rating().healthy(timeout)
        );
        self.memory.remember_upstream_health(UpstreamHealth {
            metadata,
            rating,
            probed_at_ms: now,
        });
        Ok((metadata, rating))
    }

    /// Composes the view at `now` with the upstreams answering by `deadline` (ms since the
    /// epoch), revalidating `stale` if given; `in_store` is what the store holds, so an
    /// unchanged, recently written view is not written again.
    async fn compose(
        &self,
        id: &MovieId,
        (stale, in_store): (Option<Rc<CachedView>>, Option<Rc<CachedView>>),
        outcome: CacheOutcome,
        (now, deadline): (u64, u64),
    ) -> Result<Served, MovieError> {
        let breakers = self.breakers().await;
        let known = stale.as_deref();
        let (metadata, rating) = futures::join!(
            self.ask(&breakers.metadata, now, deadline, |timeout| {
                self.ports.metadata().metadata(
                    id,
                    known.and_then(|v| v.metadata_tag.as_ref()),
                    timeout,
                )
            }),
            self.ask(&breakers.rating, now, deadline, |timeout| {
                self.ports
                    .rating()
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
                        Ok(self.served(
                            entry,
                            CacheOutcome::StaleServed,
                            self.ports.clock().now_ms(),
                        ))
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
        let stored = !rating_unavailable && self.keep(&view, in_store).await;
        let mut served = self.served(view, outcome, self.ports.clock().now_ms());
        served.stored = stored;
        served.rating_unavailable = rating_unavailable;
        if rating_unavailable {
            served.fresh_for = Duration::ZERO;
        }
        Ok(served)
    }
}

#[cfg(test)]
mod tests;
