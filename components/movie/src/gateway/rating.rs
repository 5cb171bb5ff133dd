//! The rating service: `GET {rating_url}/ratings/movie/{id}`.

use super::request::get_json;
use crate::cache::entry::Validator;
use crate::config::BaseUrl;
use crate::controller::{Fetched, GatewayError, RatingGateway};
use crate::model::{MovieId, RatingSummary};
use serde::Deserialize;
use std::time::Duration;

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
    async fn rating(
        &self,
        id: &MovieId,
        known: Option<&Validator>,
        timeout: Duration,
    ) -> Result<Fetched<RatingSummary>, GatewayError> {
        let url = self.base.join(&format!("/ratings/{RECORD_TYPE}/{id}"));
        Ok(match get_json::<Aggregate>(&url, known, timeout).await? {
            Fetched::Found {
                value: Aggregate { average, count },
                tag,
            } => Fetched::Found {
                value: RatingSummary { average, count },
                tag,
            },
            Fetched::Absent => Fetched::Absent,
            Fetched::NotModified => Fetched::NotModified,
        })
    }
}
