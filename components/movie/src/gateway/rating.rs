//! The rating service: `GET {rating_url}/ratings/movie/{id}`.

use super::request::{Fetched, get_json};
use crate::config::BaseUrl;
use crate::controller::{GatewayError, RatingGateway};
use crate::model::{MovieId, RatingSummary};
use serde::Deserialize;

/// The record type under which movies are rated.
pub const RECORD_TYPE: &str = "movie";

/// The part of the rating service's aggregate this service uses.
#[derive(Deserialize)]
struct Aggregate {
    average: f64,
    count: u64,
}

pub struct HttpRatingGateway {
    base: BaseUrl,
}

impl HttpRatingGateway {
    pub fn new(base: BaseUrl) -> Self {
        Self { base }
    }
}

impl RatingGateway for HttpRatingGateway {
    async fn rating(&self, id: &MovieId) -> Result<Option<RatingSummary>, GatewayError> {
        let url = self.base.join(&format!("/ratings/{RECORD_TYPE}/{id}"));
        Ok(match get_json::<Aggregate>(&url).await? {
            Fetched::Found(Aggregate { average, count }) => Some(RatingSummary { average, count }),
            Fetched::NotFound => None,
        })
    }
}
