//! The outcome of an idempotent write.

use http::StatusCode;

/// Whether a PUT created its resource or replaced an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Created,
    Replaced,
}

impl Stored {
    /// 201 for a new resource, 200 for a replaced one.
    pub fn status(self) -> StatusCode {
        match self {
            Stored::Created => StatusCode::CREATED,
            Stored::Replaced => StatusCode::OK,
        }
    }
}
