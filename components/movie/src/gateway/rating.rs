//! The rating service: `GET {rating_url}/ratings/movie/{id}`, or its gRPC `GetRatingSummary`
//! (the book's `GetAggregatedRating` has no count).

use super::outbound::Outbound;
use super::request::{call_grpc, get_json};
use crate::cache::entry::Validator;
use crate::config::{BaseUrl, Protocol};
use crate::controller::{Fetched, GatewayError, RatingGateway};
use crate::model::{MovieId, RatingSummary};
use movie_proto::{self as proto, paths};
use serde::Deserialize;
use std::rc::Rc;
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
    protocol: Protocol,
    outbound: Rc<Outbound>,
}

impl HttpRatingGateway {
    pub fn new(base: BaseUrl, protocol: Protocol, outbound: Rc<Outbound>) -> Self {
        Self {
            base,
            protocol,
            outbound,
        }
    }

    /// One attempt, over the configured protocol.
    async fn fetch(
        &self,
        id: &MovieId,
        known: Option<&Validator>,
        timeout: Duration,
    ) -> Result<Fetched<RatingSummary>, GatewayError> {
        if self.protocol == Protocol::Grpc {
            let url = self.base.join(paths::GET_RATING_SUMMARY);
            let call = proto::v1::GetRatingSummaryRequest {
                record_id: id.as_str().to_owned(),
                record_type: RECORD_TYPE.to_owned(),
            };
            return Ok(
                match call_grpc::<_, proto::v1::RatingSummary>(
                    &url,
                    &call,
                    timeout,
                    self.outbound.request_id(),
                )
                .await?
                {
                    Fetched::Found { value, tag } => Fetched::Found {
                        value: RatingSummary {
                            average: value.average,
                            count: value.count,
                        },
                        tag,
                    },
                    Fetched::Absent => Fetched::Absent,
                    Fetched::NotModified => Fetched::NotModified,
                },
            );
        }
        let url = self.base.join(&format!("/ratings/{RECORD_TYPE}/{id}"));
        Ok(
            match get_json::<Aggregate>(&url, known, timeout, self.outbound.request_id()).await? {
                Fetched::Found {
                    value: Aggregate { average, count },
                    tag,
                } => Fetched::Found {
                    value: RatingSummary { average, count },
                    tag,
                },
                Fetched::Absent => Fetched::Absent,
                Fetched::NotModified => Fetched::NotModified,
            },
        )
    }
}

impl RatingGateway for HttpRatingGateway {
    async fn rating(
        &self,
        id: &MovieId,
        known: Option<&Validator>,
        timeout: Duration,
    ) -> Result<Fetched<RatingSummary>, GatewayError> {
        let attempt = self.fetch(id, known, timeout);
        self.outbound.timed("rating", attempt).await
    }

    /// Its own health report, `GET {rating_url}/health/rating`: healthy when it answers 200.
    async fn healthy(&self, timeout: Duration) -> bool {
        self.outbound.healthy("rating", &self.base, timeout).await
    }
}
