//! How the movie service treats its upstreams when they are slow or failing: a deadline on
//! every call ([`service_kit::deadline`]), bounded retries with jittered backoff inside the request's
//! budget ([`retry`]), and a circuit breaker shared by all instances ([`breaker`]).
//!
//! Everything here is arithmetic on times and counts; the clock and the timer are the
//! caller's ([`crate::clock`]), so the rules are unit-tested without waiting.

pub mod breaker;
pub mod retry;
