//! The edge of one instance, built once by the kit and the same for every service: whose
//! tokens it trusts, the quota per client, and where it counts requests. A service's entry
//! point is one call to [`run`], naming what its edge needs ([`EdgeConfig`]) and how to build
//! its controller; controllers keep only their domain collaborators, and repositories are not
//! counters.
//!
//! Requests are counted in one place: a metered route ([`HttpService::is_metered`]) before
//! it runs, and a route whose cost shows only while it runs (a movie view that misses the
//! cache) through the [`Meter`] its [`Routed`](super::Routed) carries, which the service calls
//! when it knows ([`Admission`]). Either way the response carries the `RateLimit` headers and
//! a refusal is the same 429.

use crate::auth::config::Trust;
use crate::auth::{Principal, Rejection};
use crate::instance::ConfigError;
use crate::rate_limit::{
    Admission, ClientKey, Decision, Limits, MemoryCounts, OverQuota, RatePolicy, RequestCounter,
};
use crate::sqlite::{Database, SharedConnection};
use crate::storage::StorageFailure;
use futures::future::LocalBoxFuture;
use std::cell::Cell;
use std::rc::Rc;

/// Where an instance counts its clients' requests: the service's own database
/// ([`Counter::shared`]: `request_counts`, [`crate::rate_limit::COUNTS_TABLE`], shared by every
/// instance and node on it) or, in tests, memory. Behind a trait object, so a component that
/// never counts (an [`Uncounted`] edge) links no SQLite.
#[derive(Clone)]
pub struct Counter(Rc<dyn Count>);

/// A [`RequestCounter`] as a trait object.
trait Count {
    fn count<'a>(
        &'a self,
        client: &'a ClientKey,
        policy: &'a RatePolicy,
        now_s: u64,
    ) -> LocalBoxFuture<'a, Result<Decision, StorageFailure>>;
}

impl<C: RequestCounter> Count for C {
    fn count<'a>(
        &'a self,
        client: &'a ClientKey,
        policy: &'a RatePolicy,
        now_s: u64,
    ) -> LocalBoxFuture<'a, Result<Decision, StorageFailure>> {
        Box::pin(self.count_request(client, policy, now_s))
    }
}

impl Counter {
    /// Counts in the service's database, on the instance's shared connection.
    pub fn shared(connection: Rc<SharedConnection>) -> Self {
        Self(connection)
    }

    /// Counts in this process's memory: for tests.
    pub fn memory() -> Self {
        Self(Rc::new(MemoryCounts::default()))
    }

    /// A counter whose every count fails: for the kit's tests of what a failure does.
    #[cfg(test)]
    pub(crate) fn failing() -> Self {
        struct Failing;
        impl RequestCounter for Failing {
            async fn count_request(
                &self,
                _: &ClientKey,
                _: &RatePolicy,
                _: u64,
            ) -> Result<Decision, StorageFailure> {
                Err(StorageFailure::Busy("scripted failure".into()))
            }
        }
        Self(Rc::new(Failing))
    }
}

/// How a service's edge checks bearer tokens: its `HttpService::Tokens`. A service whose
/// routes are all public says [`NoTokens`] and links no verification code (nor the JWKS fetch
/// and its outbound HTTP); one with writes says `Rc<Trust>`.
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Tokens: Sized {
    /// This instance's, from its variables.
    async fn for_instance() -> Result<Self, ConfigError>;

    /// The caller the `Authorization` header value proves: 401 without a valid token, 503
    /// while the signing keys cannot be had.
    async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, Rejection>;
}

/// No token is verified: a protected route is refused as not configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTokens;

impl Tokens for NoTokens {
    async fn for_instance() -> Result<Self, ConfigError> {
        Ok(Self)
    }

    async fn authenticate(&self, _: Option<&str>) -> Result<Principal, Rejection> {
        Err(Rejection::NotConfigured)
    }
}

/// Tokens verified with the instance's trust (`jwt_*` variables and `auth_url`).
impl Tokens for Rc<Trust> {
    async fn for_instance() -> Result<Self, ConfigError> {
        Trust::for_instance().await
    }

    async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, Rejection> {
        Trust::verify_for(Some(self), authorization).await
    }
}

/// What one instance's edge holds for every request.
#[derive(Clone)]
pub struct Edge<T> {
    tokens: T,
    limits: Option<(Limits, Counter)>,
}

impl<T: Tokens> Edge<T> {
    /// An edge that checks tokens with `tokens` and counts nothing.
    pub fn new(tokens: T) -> Self {
        Self {
            tokens,
            limits: None,
        }
    }

    /// Counts metered requests against `limits` in `counter`.
    pub fn with_limits(self, limits: Limits, counter: Counter) -> Self {
        Self {
            limits: Some((limits, counter)),
            ..self
        }
    }

    pub(crate) async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Principal, Rejection> {
        self.tokens.authenticate(authorization).await
    }

    /// The proxies trusted to name a client, when requests are counted.
    pub(crate) fn limits(&self) -> Option<&Limits> {
        self.limits
            .as_ref()
            .map(|(limits, _)| limits)
            .filter(|limits| !limits.policy.is_off())
    }

    /// The meter of one request from `client`.
    pub(crate) fn meter(&self, client: ClientKey) -> Meter {
        let (policy, counter) = match &self.limits {
            Some((limits, counter)) => (limits.policy, Some(counter.clone())),
            None => (RatePolicy::OFF, None),
        };
        Meter {
            policy,
            counter,
            client,
            decision: Rc::new(Cell::new(None)),
        }
    }
}

/// Counts one request against its client's quota, at most once, and keeps the decision for
/// the response's `RateLimit` headers.
#[derive(Clone)]
pub struct Meter {
    policy: RatePolicy,
    counter: Option<Counter>,
    client: ClientKey,
    decision: Rc<Cell<Option<Decision>>>,
}

impl Meter {
    /// Counts the request: `Ok` with the decision (allowed or not), or the counter's failure.
    /// A request already counted is not counted again.
    pub(crate) async fn count(&self) -> Result<Option<Decision>, StorageFailure> {
        let Some(counter) = self.counter.as_ref().filter(|_| !self.policy.is_off()) else {
            return Ok(None);
        };
        if let Some(decision) = self.decision.get() {
            return Ok(Some(decision));
        }
        let now_s = crate::rate_limit::now_s();
        let decision = counter.0.count(&self.client, &self.policy, now_s).await?;
        self.decision.set(Some(decision));
        Ok(Some(decision))
    }

    /// The refusal of a counted request over its quota.
    pub(crate) fn over_quota(&self, decision: Decision) -> OverQuota {
        OverQuota {
            client: self.client.clone(),
            decision,
        }
    }

    /// The decision, once counted.
    pub(crate) fn decision(&self) -> Option<Decision> {
        self.decision.get()
    }
}

/// A count asked for while the route runs guards the work behind it (movie's upstreams); it
/// is not the request's own precondition, so a counter that fails lets the request through
/// (logged), where a metered write fails with its database.
impl Admission for Meter {
    async fn admit(&self) -> Result<(), OverQuota> {
        match self.count().await {
            Ok(Some(decision)) if !decision.allowed => Err(self.over_quota(decision)),
            Ok(_) => Ok(()),
            Err(error) => {
                crate::telemetry::warn("rate_limit.count_failed")
                    .cause(&error)
                    .emit();
                Ok(())
            }
        }
    }
}

/// Where a service counts its clients' requests: [`CountsIn`] its database, or [`Uncounted`].
/// Types rather than values, so a component that counts nothing links no SQLite and reads no
/// rate-limit variable.
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait EdgeConfig {
    /// This instance's edge. Limits and trust are read once per instance; the edge itself is
    /// a few reference counts.
    async fn edge<T: Tokens>(self) -> Result<Edge<T>, ConfigError>;
}

/// Counted in this database, with the variables `rate_limit_quota`, `rate_limit_window_s` and
/// `trusted_proxies`.
#[derive(Debug, Clone, Copy)]
pub struct CountsIn(pub &'static Database);

impl EdgeConfig for CountsIn {
    async fn edge<T: Tokens>(self) -> Result<Edge<T>, ConfigError> {
        let tokens = T::for_instance().await?;
        let limits = Limits::for_instance().await?;
        let counter = Counter::shared(crate::sqlite::for_instance(self.0));
        Ok(Edge::new(tokens).with_limits(limits, counter))
    }
}

/// Nothing counted: every route is public and cheap.
#[derive(Debug, Clone, Copy)]
pub struct Uncounted;

impl EdgeConfig for Uncounted {
    async fn edge<T: Tokens>(self) -> Result<Edge<T>, ConfigError> {
        Ok(Edge::new(T::for_instance().await?))
    }
}
