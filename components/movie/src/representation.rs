//! The JSON wire formats of the movie view.

use crate::model::{MovieDetails, MovieMetadata};
use serde::Serialize;

/// The upstreams a degraded view is missing: only rating can be, since without metadata there
/// is no view.
fn degraded(rating_unavailable: bool) -> Vec<&'static str> {
    if rating_unavailable {
        vec!["rating"]
    } else {
        Vec::new()
    }
}

/// `GET /movies/{id}`: `rating` is `null` and `ratingCount` 0 for an unrated movie, and also
/// while the rating service is unavailable, which `degraded` then says.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailsView<'a> {
    pub id: &'a str,
    pub metadata: &'a MovieMetadata,
    pub rating: Option<f64>,
    pub rating_count: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<&'static str>,
}

impl<'a> DetailsView<'a> {
    pub fn new(details: &'a MovieDetails, rating_unavailable: bool) -> Self {
        Self {
            id: details.id.as_str(),
            metadata: &details.metadata,
            rating: details.rating.map(|r| r.average),
            rating_count: details.rating.map_or(0, |r| r.count),
            degraded: degraded(rating_unavailable),
        }
    }
}

/// The book's `GET /movie?id=`: `rating` is left out for an unrated movie (and while the
/// rating service is unavailable, with `degraded` saying so).
#[derive(Debug, Serialize)]
pub struct BookDetailsView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<f64>,
    pub metadata: &'a MovieMetadata,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<&'static str>,
}

impl<'a> BookDetailsView<'a> {
    pub fn new(details: &'a MovieDetails, rating_unavailable: bool) -> Self {
        Self {
            rating: details.rating.map(|r| r.average),
            metadata: &details.metadata,
            degraded: degraded(rating_unavailable),
        }
    }
}
