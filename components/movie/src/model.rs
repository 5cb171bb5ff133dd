//! The composed movie view and the upstream values it is made of.

use serde::{Deserialize, Serialize};

service_kit::identifier_type!(
    /// The id of a movie: metadata's rule, reserved names included, so a view never asks
    /// metadata for a route in place of a movie.
    MovieId,
    reserved: movie_proto::paths::RESERVED_MOVIE_IDS
);

/// A movie's metadata as the metadata service returns it. The metadata service owns and
/// validates these fields; this service passes them through unchanged, so it only checks the
/// shape (and, in the gateway, that the id is the one asked for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovieMetadata {
    pub id: String,
    pub title: String,
    pub description: String,
    pub director: String,
}

/// A movie's aggregated rating as the rating service returns it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatingSummary {
    pub average: f64,
    pub count: u64,
}

/// Metadata plus rating: what `GET /movies/{id}` answers. `rating` is `None` while nobody has
/// rated the movie, which is an ordinary state, not an error.
#[derive(Debug, Clone, PartialEq)]
pub struct MovieDetails {
    pub id: MovieId,
    pub metadata: MovieMetadata,
    pub rating: Option<RatingSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_movie_id_follows_the_identifier_rule() {
        assert!(MovieId::parse("tt0068646").is_ok());
        assert!(MovieId::parse("").is_err());
        assert!(MovieId::parse("a/b").is_err());
        assert!(MovieId::parse("export").is_err(), "a route of metadata");
    }
}
