//! The controller's ports: what it reaches outside itself, declared by it. The upstreams
//! (each a gateway), the shared key-value store and the clock, bundled as one [`Ports`] type.

use crate::cache::CacheError;
use crate::cache::entry::Validator;
use crate::clock::Clock;
use crate::model::{MovieId, MovieMetadata, RatingSummary};
use std::time::Duration;

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

/// Everything the controller reaches outside itself, as one type: both upstreams, the shared
/// store and the clock. In Spin they are the HTTP gateways, the key-value store and the WASI
/// clocks; in tests one set of fakes plays all four.
pub trait Ports {
    type Metadata: MetadataGateway;
    type Rating: RatingGateway;
    type Cache: CacheStore;
    type Clock: Clock;

    fn metadata(&self) -> &Self::Metadata;
    fn rating(&self) -> &Self::Rating;
    fn cache(&self) -> &Self::Cache;
    fn clock(&self) -> &Self::Clock;
}
