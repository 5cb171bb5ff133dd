//! Scripted upstreams, store and clock for unit tests: one [`Fakes`] plays every part, so a
//! test can see what each call did to the others (time spent, store operations).

use crate::cache::CacheError;
use crate::cache::Ttl;
use crate::cache::entry::Validator;
use crate::cache::memory::MemoryCache;
use crate::clock::Clock;
use crate::config::Settings;
use crate::controller::{
    CacheStore, Fetched, GatewayError, MetadataGateway, MovieController, Ports, RatingGateway,
};
use crate::model::{MovieId, MovieMetadata, RatingSummary};
use crate::reliability::breaker::BreakerPolicy;
use crate::reliability::retry::RetryPolicy;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// The defaults of `spin.toml`.
pub const SETTINGS: Settings = Settings {
    memory: Ttl {
        fresh: Duration::from_millis(1_000),
        stale: Duration::from_millis(10_000),
    },
    store: Ttl {
        fresh: Duration::from_millis(2_000),
        stale: Duration::from_millis(600_000),
    },
    retry: RetryPolicy {
        attempts: 3,
        attempt_timeout: Duration::from_millis(250),
        backoff_base: Duration::from_millis(20),
    },
    budget: Duration::from_millis(800),
    breaker: BreakerPolicy {
        failures: 5,
        cooldown: Duration::from_millis(5_000),
    },
};

/// One upstream's script: stored answers, failures to give first, and what it was asked.
#[derive(Default)]
pub struct Script {
    /// Errors returned, one per call, before answering normally.
    pub failures: RefCell<VecDeque<GatewayError>>,
    /// Returned on every call while set.
    pub failing: RefCell<Option<GatewayError>>,
    /// Clock time each call takes.
    pub latency: Cell<Duration>,
    pub calls: Cell<u32>,
    pub not_modified: Cell<u32>,
    pub timeouts: RefCell<Vec<Duration>>,
}

#[derive(Default)]
pub struct Fakes {
    pub metadata: RefCell<HashMap<String, MovieMetadata>>,
    pub ratings: RefCell<HashMap<String, RatingSummary>>,
    pub metadata_script: Script,
    pub rating_script: Script,
    pub store: RefCell<HashMap<String, Vec<u8>>>,
    pub store_failing: Cell<bool>,
    pub store_gets: Cell<u32>,
    pub store_sets: Cell<u32>,
    pub now_ms: Cell<u64>,
    pub slept: RefCell<Vec<Duration>>,
    /// Health probes of either upstream.
    pub health_probes: Cell<u32>,
    in_flight: Cell<u32>,
    pub max_in_flight: Cell<u32>,
}

impl Fakes {
    /// Fakes with movie `m1` stored and the clock at an arbitrary non-zero time.
    pub fn with_movie() -> Self {
        let fakes = Self::default();
        fakes.now_ms.set(1_000_000);
        fakes
            .metadata
            .borrow_mut()
            .insert("m1".into(), metadata("m1"));
        fakes
    }

    pub fn rate(&self, average: f64, count: u64) {
        let summary = RatingSummary { average, count };
        self.ratings.borrow_mut().insert("m1".into(), summary);
    }

    pub fn advance(&self, duration: Duration) {
        self.now_ms
            .set(self.now_ms.get() + duration.as_millis() as u64);
    }

    pub fn controller(&self) -> MovieController<&Self> {
        self.controller_with(MemoryCache::default(), SETTINGS)
    }

    pub fn controller_with(
        &self,
        memory: MemoryCache,
        settings: Settings,
    ) -> MovieController<&Self> {
        MovieController::new(self, memory, settings)
    }

    async fn call<T: std::fmt::Debug>(
        &self,
        script: &Script,
        answer: Option<T>,
        known: Option<&Validator>,
        timeout: Duration,
    ) -> Result<Fetched<T>, GatewayError> {
        script.calls.set(script.calls.get() + 1);
        script.timeouts.borrow_mut().push(timeout);
        self.in_flight.set(self.in_flight.get() + 1);
        self.max_in_flight
            .set(self.max_in_flight.get().max(self.in_flight.get()));
        yield_once().await;
        self.in_flight.set(self.in_flight.get() - 1);
        let latency = script.latency.get();
        self.advance(latency.min(timeout));
        if latency >= timeout {
            return Err(GatewayError::TimedOut);
        }
        if let Some(error) = script.failures.borrow_mut().pop_front() {
            return Err(error);
        }
        if let Some(error) = script.failing.borrow().clone() {
            return Err(error);
        }
        Ok(match answer {
            None => Fetched::Absent,
            Some(value) => {
                let tag = Validator(format!("\"{value:?}\""));
                if known == Some(&tag) {
                    script.not_modified.set(script.not_modified.get() + 1);
                    Fetched::NotModified
                } else {
                    Fetched::Found {
                        value,
                        tag: Some(tag),
                    }
                }
            }
        })
    }

    fn store_access(&self) -> Result<(), CacheError> {
        if self.store_failing.get() {
            let scripted = spin_sdk::key_value::Error::Other("scripted failure".into());
            Err(CacheError::Access(scripted))
        } else {
            Ok(())
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

impl MetadataGateway for &Fakes {
    async fn metadata(
        &self,
        id: &MovieId,
        known: Option<&Validator>,
        timeout: Duration,
    ) -> Result<Fetched<MovieMetadata>, GatewayError> {
        let answer = self.metadata.borrow().get(id.as_str()).cloned();
        self.call(&self.metadata_script, answer, known, timeout)
            .await
    }

    async fn healthy(&self, _: Duration) -> bool {
        self.health_probes.set(self.health_probes.get() + 1);
        self.metadata_script.failing.borrow().is_none()
    }
}

impl RatingGateway for &Fakes {
    async fn rating(
        &self,
        id: &MovieId,
        known: Option<&Validator>,
        timeout: Duration,
    ) -> Result<Fetched<RatingSummary>, GatewayError> {
        let answer = self.ratings.borrow().get(id.as_str()).copied();
        self.call(&self.rating_script, answer, known, timeout).await
    }

    async fn healthy(&self, _: Duration) -> bool {
        self.health_probes.set(self.health_probes.get() + 1);
        self.rating_script.failing.borrow().is_none()
    }
}

impl CacheStore for &Fakes {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.store_gets.set(self.store_gets.get() + 1);
        // A read takes a turn, as a host call does, so other requests can run meanwhile.
        yield_once().await;
        self.store_access()?;
        Ok(self.store.borrow().get(key).cloned())
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), CacheError> {
        self.store_sets.set(self.store_sets.get() + 1);
        self.store_access()?;
        self.store.borrow_mut().insert(key.into(), value.to_vec());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.store_access()?;
        self.store.borrow_mut().remove(key);
        Ok(())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.store_access()
    }
}

impl Clock for &Fakes {
    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }

    fn entropy(&self) -> u64 {
        self.now_ms.get()
    }

    async fn sleep(&self, duration: Duration) {
        self.slept.borrow_mut().push(duration);
        self.advance(duration);
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

/// One set of fakes plays every port.
impl<'a> Ports for &'a Fakes {
    type Metadata = &'a Fakes;
    type Rating = &'a Fakes;
    type Cache = &'a Fakes;
    type Clock = &'a Fakes;

    fn metadata(&self) -> &Self::Metadata {
        self
    }

    fn rating(&self) -> &Self::Rating {
        self
    }

    fn cache(&self) -> &Self::Cache {
        self
    }

    fn clock(&self) -> &Self::Clock {
        self
    }
}
