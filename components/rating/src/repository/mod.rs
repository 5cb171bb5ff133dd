//! Implementations of [`crate::controller::RatingRepository`].

#[cfg(test)]
pub mod memory;
pub mod sqlite;
pub mod sqlite_events;
