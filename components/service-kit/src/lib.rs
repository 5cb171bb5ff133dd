//! What the movie system's components share, so each keeps only its own model, repository,
//! controller and route table.
//!
//! Transport-free: [`field`] (validation errors that name their field), [`identifier`] (the id
//! rule), [`json`] (JSON objects read member by member), [`storage`] (what a write did, why
//! storage failed), [`error_class`] (how an error is seen from any edge), [`sqlite`] (the
//! per-instance connection that sets itself up and migrates itself, and transactions on a
//! connection of a request's own), [`snapshot`] (a table read page by page from one view) and [`lock_waits`] (how
//! a write waits for another connection's lock), [`rate_limit`] (per-client quotas counted in
//! the service's database), [`auth`] (bearer tokens: issuance and verification) and
//! [`deadline`] (a timer of the guest's own around outbound calls), [`host_turn`] (the host's turn after a host
//! call that blocks its thread). HTTP lives in [`edge`], and
//! gRPC's framing and statuses on top of it in [`grpc`]; what a component
//! tells its operator (request ids, structured log lines) in [`telemetry`].

pub mod auth;
pub mod deadline;
pub mod edge;
pub mod error_class;
pub mod field;
pub mod group_commit;
pub mod grpc;
pub mod host_turn;
pub mod identifier;
pub mod instance;
pub mod json;
pub mod lease;
pub mod lock_waits;
pub mod quota;
pub mod rate_limit;
pub mod snapshot;
pub mod sqlite;
pub mod storage;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use edge::{HttpResponse, Problem};
pub use error_class::{Classify, ErrorClass};
pub use field::{FieldError, FieldErrors, Invalid};
pub use identifier::Identifier;
pub use json::JsonObject;
pub use storage::{StorageFailure, Stored};
