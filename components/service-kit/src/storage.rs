//! The vocabulary of storage that controllers speak, free of any transport: what a write did,
//! and why storage failed. Each surface (HTTP today; gRPC and events next) decides what these
//! mean to its clients.

use crate::error_class::{Classify, ErrorClass};

/// What an idempotent write did: created its resource, or replaced one that existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Created,
    Replaced,
}

/// Why a storage operation failed. The message is for the log, never for the client.
#[derive(Debug, thiserror::Error)]
#[error("storage failed: {0}")]
pub struct StorageFailure(pub String);

impl Classify for StorageFailure {
    fn class(&self) -> ErrorClass {
        ErrorClass::Internal
    }
}
