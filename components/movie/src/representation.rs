//! The JSON wire formats of the movie view.

use crate::model::{MovieDetails, MovieMetadata};
use serde::Serialize;

/// `GET /movies/{id}`: `rating` is `null` and `ratingCount` 0 for an unrated movie.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailsView<'a> {
    pub id: &'a str,
    pub metadata: &'a MovieMetadata,
    pub rating: Option<f64>,
    pub rating_count: u64,
}

impl<'a> From<&'a MovieDetails> for DetailsView<'a> {
    fn from(details: &'a MovieDetails) -> Self {
        Self {
            id: details.id.as_str(),
            metadata: &details.metadata,
            rating: details.rating.map(|r| r.average),
            rating_count: details.rating.map_or(0, |r| r.count),
        }
    }
}

/// The book's `GET /movie?id=`: `rating` is left out for an unrated movie.
#[derive(Debug, Serialize)]
pub struct BookDetailsView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<f64>,
    pub metadata: &'a MovieMetadata,
}

impl<'a> From<&'a MovieDetails> for BookDetailsView<'a> {
    fn from(details: &'a MovieDetails) -> Self {
        Self {
            rating: details.rating.map(|r| r.average),
            metadata: &details.metadata,
        }
    }
}
