//! How a controller's error is seen from the edge, without naming any transport.
//!
//! Controllers return their own typed errors (`NotFound(MovieId)`, `NotRated(RecordKey)`, ...);
//! each implements [`Classify`] once, and every surface maps the class to its own status
//! (HTTP in [`crate::edge::problem`]; a gRPC status or a dead-letter entry in later surfaces).

use crate::quota::Decision;

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The caller's credentials are missing or were refused. The message may be shown (it
    /// names the check that failed, never the credentials).
    Unauthenticated,
    /// The caller is known but not allowed: the token lacks this scope.
    Forbidden(&'static str),
    /// The addressed thing does not exist. The error's message may be shown to the client.
    NotFound,
    /// A service this one depends on answered unusably. Clients learn which one, never why.
    Upstream(&'static str),
    /// A service this one depends on cannot be reached now (refused, failing, or skipped while
    /// its circuit breaker is open), and nothing cached could stand in: try again after
    /// `retry_after_s` seconds.
    Unavailable {
        service: &'static str,
        retry_after_s: u32,
    },
    /// A service this one depends on did not answer within its deadline.
    TimedOut(&'static str),
    /// The client used up its quota: nothing was done; the decision says when it refills.
    RateLimited(Decision),
    /// Our own fault (storage, configuration). Clients learn nothing; the log gets the message.
    Internal,
    /// A resource we need stayed taken (a database locked by other writers): nothing was
    /// done, and the client may try again shortly.
    Busy,
}

impl ErrorClass {
    /// The class as the `error.type` of a log line: stable, low-cardinality, for alerts and
    /// dashboards to group by.
    pub fn error_type(&self) -> &'static str {
        match self {
            ErrorClass::Unauthenticated => "unauthenticated",
            ErrorClass::Forbidden(_) => "forbidden",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Upstream(_) => "upstream_invalid",
            ErrorClass::Unavailable { .. } => "upstream_unavailable",
            ErrorClass::TimedOut(_) => "upstream_timeout",
            ErrorClass::RateLimited(_) => "rate_limited",
            ErrorClass::Internal => "internal",
            ErrorClass::Busy => "busy",
        }
    }
}

/// An error that knows its [`ErrorClass`].
pub trait Classify: std::error::Error {
    fn class(&self) -> ErrorClass;
}
