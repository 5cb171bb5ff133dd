//! Implementations of [`crate::controller::MetadataRepository`].

#[cfg(test)]
pub mod memory;
pub mod sqlite;
