//! Implementations of [`crate::controller::ClientRepository`].

#[cfg(test)]
pub mod memory;
pub mod sqlite;
