//! Business rules of the movie service: compose metadata and rating, fetched concurrently.

use crate::cache::CacheError;
use crate::config::ConfigError;
use crate::model::{MovieDetails, MovieId, MovieMetadata, RatingSummary};
use service_kit::{Classify, ErrorClass};

/// Why an upstream call failed. The message is for the log; clients see a 502.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("request failed: {0}")]
    Transport(String),
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("unreadable response: {0}")]
    Malformed(String),
}

/// The metadata service as this one needs it.
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait MetadataGateway {
    /// `Ok(None)` when the movie has no metadata.
    async fn metadata(&self, id: &MovieId) -> Result<Option<MovieMetadata>, GatewayError>;
}

/// The rating service as this one needs it.
#[allow(async_fn_in_trait)]
pub trait RatingGateway {
    /// `Ok(None)` when nobody has rated the movie.
    async fn rating(&self, id: &MovieId) -> Result<Option<RatingSummary>, GatewayError>;
}

/// The movie service's own store (the key-value cache), as far as health is concerned.
#[allow(async_fn_in_trait)]
pub trait CacheStore {
    async fn ping(&self) -> Result<(), CacheError>;
}

#[derive(Debug, thiserror::Error)]
pub enum MovieError {
    #[error("no movie {0}")]
    NotFound(MovieId),
    #[error("upstream {service} failed: {source}")]
    Upstream {
        service: &'static str,
        source: GatewayError,
    },
    /// The upstreams are not configured usably: no request can be served.
    #[error("movie is misconfigured: {0}")]
    Misconfigured(#[from] ConfigError),
}

impl Classify for MovieError {
    fn class(&self) -> ErrorClass {
        match self {
            MovieError::NotFound(_) => ErrorClass::NotFound,
            MovieError::Upstream { service, .. } => ErrorClass::Upstream(service),
            MovieError::Misconfigured(_) => ErrorClass::Internal,
        }
    }
}

pub struct MovieController<M, R, C> {
    metadata: M,
    rating: R,
    cache: C,
}

impl<M: MetadataGateway, R: RatingGateway, C: CacheStore> MovieController<M, R, C> {
    pub fn new(metadata: M, rating: R, cache: C) -> Self {
        Self {
            metadata,
            rating,
            cache,
        }
    }

    /// Asks both upstreams at once, as the book does with two goroutines, so the latency is
    /// the slower call's rather than the sum. A missing movie is 404 whatever the rating
    /// service said; a missing rating is just an unrated movie.
    pub async fn get(&self, id: &MovieId) -> Result<MovieDetails, MovieError> {
        let (metadata, rating) = futures::join!(self.metadata.metadata(id), self.rating.rating(id));
        let metadata = metadata
            .map_err(|source| MovieError::Upstream {
                service: "metadata",
                source,
            })?
            .ok_or_else(|| MovieError::NotFound(id.clone()))?;
        let rating = rating.map_err(|source| MovieError::Upstream {
            service: "rating",
            source,
        })?;
        Ok(MovieDetails {
            id: id.clone(),
            metadata,
            rating,
        })
    }

    pub async fn health(&self) -> Result<(), CacheError> {
        self.cache.ping().await
    }
}

#[cfg(test)]
pub mod fakes {
    //! Scripted upstreams for unit tests.
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    /// Answers from a map; `failing` makes every call a transport error. Each call first
    /// yields once, so a test can see whether two calls were in flight together.
    #[derive(Default)]
    pub struct FakeUpstreams {
        pub metadata: RefCell<HashMap<String, MovieMetadata>>,
        pub ratings: RefCell<HashMap<String, RatingSummary>>,
        pub metadata_failing: Cell<bool>,
        pub rating_failing: Cell<bool>,
        pub cache_failing: Cell<bool>,
        pub in_flight: Cell<u32>,
        pub max_in_flight: Cell<u32>,
    }

    impl FakeUpstreams {
        async fn call<T>(&self, failing: bool, answer: T) -> Result<T, GatewayError> {
            self.in_flight.set(self.in_flight.get() + 1);
            self.max_in_flight
                .set(self.max_in_flight.get().max(self.in_flight.get()));
            yield_once().await;
            self.in_flight.set(self.in_flight.get() - 1);
            if failing {
                Err(GatewayError::Transport("scripted failure".into()))
            } else {
                Ok(answer)
            }
        }
    }

    async fn yield_once() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await
    }

    impl MetadataGateway for &FakeUpstreams {
        async fn metadata(&self, id: &MovieId) -> Result<Option<MovieMetadata>, GatewayError> {
            let answer = self.metadata.borrow().get(id.as_str()).cloned();
            self.call(self.metadata_failing.get(), answer).await
        }
    }

    impl RatingGateway for &FakeUpstreams {
        async fn rating(&self, id: &MovieId) -> Result<Option<RatingSummary>, GatewayError> {
            let answer = self.ratings.borrow().get(id.as_str()).copied();
            self.call(self.rating_failing.get(), answer).await
        }
    }

    impl CacheStore for &FakeUpstreams {
        async fn ping(&self) -> Result<(), CacheError> {
            if self.cache_failing.get() {
                let scripted = spin_sdk::key_value::Error::Other("scripted failure".into());
                Err(CacheError::Access(scripted))
            } else {
                Ok(())
            }
        }
    }

    pub fn metadata(id: &str) -> MovieMetadata {
        MovieMetadata {
            id: id.into(),
            title: "The Godfather".into(),
            description: "Family business".into(),
            director: "Coppola".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fakes::{FakeUpstreams, metadata};
    use super::*;
    use futures::executor::block_on;

    fn id(raw: &str) -> MovieId {
        MovieId::parse(raw).unwrap()
    }

    #[test]
    fn details_combine_metadata_and_rating() {
        let fakes = FakeUpstreams::default();
        fakes
            .metadata
            .borrow_mut()
            .insert("m1".into(), metadata("m1"));
        fakes.ratings.borrow_mut().insert(
            "m1".into(),
            RatingSummary {
                average: 4.5,
                count: 2,
            },
        );
        let details =
            block_on(MovieController::new(&fakes, &fakes, &fakes).get(&id("m1"))).unwrap();
        assert_eq!(details.metadata, metadata("m1"));
        assert_eq!(
            details.rating,
            Some(RatingSummary {
                average: 4.5,
                count: 2
            })
        );
    }

    #[test]
    fn both_upstreams_are_asked_concurrently() {
        let fakes = FakeUpstreams::default();
        fakes
            .metadata
            .borrow_mut()
            .insert("m1".into(), metadata("m1"));
        block_on(MovieController::new(&fakes, &fakes, &fakes).get(&id("m1"))).unwrap();
        assert_eq!(fakes.max_in_flight.get(), 2);
    }

    #[test]
    fn an_unrated_movie_has_no_rating_rather_than_an_error() {
        let fakes = FakeUpstreams::default();
        fakes
            .metadata
            .borrow_mut()
            .insert("m1".into(), metadata("m1"));
        let details =
            block_on(MovieController::new(&fakes, &fakes, &fakes).get(&id("m1"))).unwrap();
        assert_eq!(details.rating, None);
    }

    #[test]
    fn missing_metadata_is_not_found_even_when_rating_fails() {
        let fakes = FakeUpstreams::default();
        fakes.rating_failing.set(true);
        let result = block_on(MovieController::new(&fakes, &fakes, &fakes).get(&id("m1")));
        assert!(matches!(result, Err(MovieError::NotFound(_))));
    }

    #[test]
    fn a_failing_rating_upstream_is_named_in_the_error() {
        let fakes = FakeUpstreams::default();
        fakes
            .metadata
            .borrow_mut()
            .insert("m1".into(), metadata("m1"));
        fakes.rating_failing.set(true);
        let result = block_on(MovieController::new(&fakes, &fakes, &fakes).get(&id("m1")));
        assert!(
            matches!(
                result,
                Err(MovieError::Upstream {
                    service: "rating",
                    ..
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn a_failing_metadata_upstream_is_named_in_the_error() {
        let fakes = FakeUpstreams::default();
        fakes.metadata_failing.set(true);
        let result = block_on(MovieController::new(&fakes, &fakes, &fakes).get(&id("m1")));
        assert!(
            matches!(
                result,
                Err(MovieError::Upstream {
                    service: "metadata",
                    ..
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn errors_are_classified_for_the_edge() {
        let upstream = MovieError::Upstream {
            service: "rating",
            source: GatewayError::Status(500),
        };
        assert_eq!(upstream.class(), ErrorClass::Upstream("rating"));
        assert_eq!(MovieError::NotFound(id("m1")).class(), ErrorClass::NotFound);
    }
}
