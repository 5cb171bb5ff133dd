//! The wire formats of ratings: JSON views, and the book's protobuf reply for an aggregate.

use crate::model::{AggregatedRating, Rating, RecordKey};
use movie_proto as proto;
use serde::Serialize;

/// A stored rating, as returned by a PUT.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RatingView<'a> {
    pub record_type: &'a str,
    pub record_id: &'a str,
    pub user_id: &'a str,
    pub value: u8,
}

impl<'a> From<&'a Rating> for RatingView<'a> {
    fn from(rating: &'a Rating) -> Self {
        Self {
            record_type: rating.record.record_type.as_str(),
            record_id: rating.record.record_id.as_str(),
            user_id: rating.user.as_str(),
            value: rating.value.get(),
        }
    }
}

/// A rating as one line of an export: the same object as [`RatingView`], owning its rating
/// because the lines outlive the page they were read in.
#[derive(Debug)]
pub struct RatingLine(pub Rating);

impl Serialize for RatingLine {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RatingView::from(&self.0).serialize(serializer)
    }
}

/// A record's aggregated rating (also what the movie service reads).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregateView<'a> {
    pub record_type: &'a str,
    pub record_id: &'a str,
    pub average: f64,
    pub count: u64,
}

impl<'a> AggregateView<'a> {
    pub fn new(record: &'a RecordKey, aggregate: &AggregatedRating) -> Self {
        Self {
            record_type: record.record_type.as_str(),
            record_id: record.record_id.as_str(),
            average: aggregate.average(),
            count: aggregate.count(),
        }
    }
}

/// The book's reply for an aggregate: its mean.
pub fn aggregate_message(aggregate: &AggregatedRating) -> proto::GetAggregatedRatingResponse {
    proto::GetAggregatedRatingResponse {
        rating_value: aggregate.average(),
    }
}
