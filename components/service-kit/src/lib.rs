//! The HTTP edge and storage plumbing shared by the movie system's components.
//!
//! Each component keeps its own model, repository, controller and handler; what lives here is
//! only what all three would otherwise write identically: RFC 9457 problem responses, responses
//! that always carry `content-length`, bounded JSON request bodies, field-by-field validation,
//! the identifier rule, and a per-instance SQLite connection that migrates itself.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod field;
pub mod health;
pub mod identifier;
pub mod problem;
pub mod request;
pub mod respond;
pub mod sqlite;
pub mod stored;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use field::{FieldErrors, Invalid};
pub use identifier::Identifier;
pub use problem::Problem;
pub use respond::HttpResponse;
pub use stored::Stored;
