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
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageFailure {
    /// The store failed or holds something we cannot read: our fault.
    #[error("storage failed: {0}")]
    Broken(String),
    /// Other writers kept the store locked for as long as a request waits for it (nothing was
    /// done), or the store gave no answer in time (what was asked may yet be done): either
    /// way the same idempotent request may succeed a moment later.
    #[error("storage busy: {0}")]
    Busy(String),
}

impl StorageFailure {
    /// A stored value of `field` that no longer parses: rows are written through the domain
    /// types, so this is a hand edit or a bug, reported as a failure rather than a panic.
    pub fn corrupt(field: &'static str) -> impl Fn(crate::Invalid) -> Self {
        move |invalid| Self::Broken(format!("stored {field} is invalid: {invalid}"))
    }
}

impl Classify for StorageFailure {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Broken(_) => ErrorClass::Internal,
            Self::Busy(_) => ErrorClass::Busy,
        }
    }
}
