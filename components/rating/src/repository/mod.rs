//! Implementations of [`crate::controller::RatingRepository`].

#[cfg(test)]
pub mod memory;
pub mod sqlite;
