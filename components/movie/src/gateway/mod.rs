//! The upstream services over outbound HTTP (Spin service chaining by default).

pub mod metadata;
pub mod outbound;
pub mod rating;
pub mod request;
