//! Implementations of [`crate::controller::MetadataRepository`].

pub mod memory;
pub mod sqlite;
