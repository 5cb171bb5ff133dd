//! Implementations of [`crate::controller::RatingRepository`].

pub mod memory;
pub mod sqlite;
