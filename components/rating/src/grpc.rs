//! The book's `RatingService` over gRPC: the same controller, the same validation and the same
//! rule that a user rates only as themselves, with fields named as `movie.proto` names them
//! (`record_type`, `record_id`, `user_id`, `rating_value`).

use crate::controller::{RatingController, RatingRepository};
use crate::model::{AggregatedRating, Rating, RatingValue, UserId};
use crate::representation::aggregate_message;
use crate::surface::{RecordFields, acting_for, record_key};
use http::Request;
use movie_proto as proto;
use service_kit::auth::Principal;
use service_kit::edge::{Answer, Fields, RequestBody};
use service_kit::grpc::{read_message, reply};
use service_kit::{FieldErrors, Problem};

/// A message's record as `movie.proto` names its fields.
const MESSAGE_RECORD: RecordFields = ("record_type", "record_id");

/// `GetAggregatedRating`: `NOT_FOUND` for a record nobody rated.
pub async fn get_aggregated_rating<R: RatingRepository, B: RequestBody>(
    controller: &RatingController<R>,
    request: Request<B>,
) -> Answer {
    let call: proto::GetAggregatedRatingRequest = read_message(request).await?;
    let aggregate = aggregate_of(controller, &call.record_type, &call.record_id).await?;
    Ok(reply(&aggregate_message(&aggregate)))
}

/// `moviesystem.v1.RatingExtensions/GetRatingSummary`: the aggregate and how many ratings
/// it holds, `NOT_FOUND` for a record nobody rated.
pub async fn get_rating_summary<R: RatingRepository, B: RequestBody>(
    controller: &RatingController<R>,
    request: Request<B>,
) -> Answer {
    let call: proto::v1::GetRatingSummaryRequest = read_message(request).await?;
    let aggregate = aggregate_of(controller, &call.record_type, &call.record_id).await?;
    Ok(reply(&proto::v1::RatingSummary {
        average: aggregate.average(),
        count: aggregate.count(),
    }))
}

/// The aggregate of the record a message names.
async fn aggregate_of<R: RatingRepository>(
    controller: &RatingController<R>,
    record_type: &String,
    record_id: &String,
) -> Result<AggregatedRating, Problem> {
    let fields = MessageFields(&[("record_type", record_type), ("record_id", record_id)]);
    let mut errors = FieldErrors::new();
    let record = record_key(&mut errors, &fields, MESSAGE_RECORD);
    let record = errors.conclude(record)?;
    Ok(controller.aggregate(&record).await?)
}

/// `PutRating`: the caller's own rating (or anyone's, with `ratings:admin`).
pub async fn put_rating<R: RatingRepository, B: RequestBody>(
    controller: &RatingController<R>,
    caller: Option<&Principal>,
    request: Request<B>,
) -> Answer {
    let call: proto::PutRatingRequest = read_message(request).await?;
    let fields = MessageFields(&[
        ("record_type", &call.record_type),
        ("record_id", &call.record_id),
        ("user_id", &call.user_id),
    ]);
    let mut errors = FieldErrors::new();
    let record = record_key(&mut errors, &fields, MESSAGE_RECORD);
    let user = fields.check(&mut errors, "user_id", UserId::parse);
    let value = errors.check(
        "rating_value",
        RatingValue::parse(i64::from(call.rating_value)),
    );
    let rating = Rating::assemble(errors, record, user, value)?;
    acting_for(caller, &rating.user)?;
    controller.put(&rating).await?;
    Ok(reply(&proto::PutRatingResponse {}))
}

/// A message's string fields by name, so they are checked by the same functions as a path's
/// or a query's. proto3 cannot tell an absent string from an empty one: both are `""`, which
/// every identifier rule refuses.
struct MessageFields<'a>(&'a [(&'static str, &'a String)]);

impl Fields for MessageFields<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, value)| value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::memory::InMemoryRatingRepository as Memory;
    use proto::paths;
    use service_kit::testing::{GrpcFailure, grpc_call, token};

    type Controller = RatingController<Memory>;

    fn controller() -> Controller {
        RatingController::new(Memory::default())
    }

    fn put_as(c: &Controller, caller: &str, user: &str, value: i32) -> Result<(), GrpcFailure> {
        let call = proto::PutRatingRequest {
            user_id: user.into(),
            record_id: "m1".into(),
            record_type: "movie".into(),
            rating_value: value,
        };
        let token = token(caller, "ratings:write");
        grpc_call::<_, proto::PutRatingResponse>(c, Some(&token), paths::PUT_RATING, &call)
            .map(drop)
    }

    fn aggregate(c: &Controller, record_type: &str, id: &str) -> Result<f64, GrpcFailure> {
        let call = proto::GetAggregatedRatingRequest {
            record_id: id.into(),
            record_type: record_type.into(),
        };
        grpc_call::<_, proto::GetAggregatedRatingResponse>(
            c,
            None,
            paths::GET_AGGREGATED_RATING,
            &call,
        )
        .map(|reply| reply.rating_value)
    }

    #[test]
    fn the_aggregate_is_the_mean_of_the_put_ratings() {
        let c = controller();
        assert_eq!(put_as(&c, "u1", "u1", 5), Ok(()), "PutRating u1");
        assert_eq!(put_as(&c, "u2", "u2", 4), Ok(()), "PutRating u2");
        assert_eq!(aggregate(&c, "movie", "m1"), Ok(4.5));
    }

    #[test]
    fn the_summary_extension_counts_the_ratings() {
        let c = controller();
        put_as(&c, "u1", "u1", 5).unwrap();
        put_as(&c, "u2", "u2", 2).unwrap();
        let call = proto::v1::GetRatingSummaryRequest {
            record_id: "m1".into(),
            record_type: "movie".into(),
        };
        let summary =
            grpc_call::<_, proto::v1::RatingSummary>(&c, None, paths::GET_RATING_SUMMARY, &call);
        assert_eq!(
            summary,
            Ok(proto::v1::RatingSummary {
                average: 3.5,
                count: 2
            })
        );
    }

    #[test]
    fn an_unrated_record_is_not_found() {
        let code = aggregate(&controller(), "movie", "m1").map_err(|f| f.code);
        assert_eq!(code, Err(5));
    }

    #[test]
    fn an_invalid_record_names_both_fields() {
        let failure = aggregate(&controller(), "", "a b").unwrap_err();
        assert_eq!(
            (failure.code, failure.fields),
            (3, vec!["record_type".to_owned(), "record_id".to_owned()])
        );
    }

    #[test]
    fn a_value_out_of_range_is_named_rating_value_and_not_stored() {
        let c = controller();
        let failure = put_as(&c, "u1", "u1", 6).unwrap_err();
        assert_eq!(
            (failure.code, failure.fields),
            (3, vec!["rating_value".to_owned()])
        );
        assert_eq!(aggregate(&c, "movie", "m1").map_err(|f| f.code), Err(5));
    }

    #[test]
    fn rating_for_another_user_is_permission_denied() {
        let code = put_as(&controller(), "u1", "u2", 5).map_err(|f| f.code);
        assert_eq!(code, Err(7));
    }

    fn rest_put_protobuf(c: &Controller, message: &proto::PutRatingRequest) -> http::StatusCode {
        let request = Request::put("/ratings/movie/m1/users/u1")
            .header("content-type", proto::PROTOBUF)
            .header(
                "authorization",
                format!("Bearer {}", token("u1", "ratings:write")),
            )
            .body(http_body_util::Full::new(bytes::Bytes::from(
                prost::Message::encode_to_vec(message),
            )))
            .unwrap();
        futures::executor::block_on(service_kit::testing::serve(c, request)).status()
    }

    #[test]
    fn a_rest_write_may_send_a_put_rating_request_and_a_read_accept_the_reply_message() {
        let c = controller();
        let message = proto::PutRatingRequest {
            rating_value: 4,
            ..Default::default()
        };
        assert_eq!(rest_put_protobuf(&c, &message), http::StatusCode::CREATED);
        let request = Request::get("/ratings/movie/m1")
            .header("accept", proto::PROTOBUF)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let response = futures::executor::block_on(service_kit::testing::serve(&c, request));
        let bytes =
            futures::executor::block_on(http_body_util::BodyExt::collect(response.into_body()))
                .unwrap()
                .to_bytes();
        let reply: proto::GetAggregatedRatingResponse = prost::Message::decode(bytes).unwrap();
        assert_eq!(reply.rating_value, 4.0);
    }

    #[test]
    fn a_rest_write_whose_message_names_another_user_is_400() {
        let message = proto::PutRatingRequest {
            user_id: "u2".into(),
            rating_value: 4,
            ..Default::default()
        };
        assert_eq!(
            rest_put_protobuf(&controller(), &message),
            http::StatusCode::BAD_REQUEST
        );
    }
}
