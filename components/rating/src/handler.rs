//! HTTP for the rating service: routes requests to the controller and maps its outcomes to
//! status codes. Nothing here knows about SQLite.
//!
//! Routes (see `spin.toml`):
//! - `PUT|DELETE /ratings/{recordType}/{recordId}/users/{userId}`, body `{"value": 1..5}`
//! - `GET /ratings/{recordType}/{recordId}`: the aggregate
//! - `GET|PUT /rating?id=&type=[&userId=&value=]`: the book's routes
//! - `GET /health/rating`

use crate::controller::{RatingController, RatingError, RatingRepository};
use crate::model::{Rating, RatingValue, RecordId, RecordKey, RecordType, UserId};
use crate::representation::{AggregateView, RatingView};
use http::{Method, Request, StatusCode};
use service_kit::request::{Query, RequestBody, json_object, required};
use service_kit::{FieldErrors, HttpResponse, Problem, health, respond};

pub async fn handle<R, B>(controller: &RatingController<R>, request: Request<B>) -> HttpResponse
where
    R: RatingRepository,
    B: RequestBody,
{
    route(controller, request)
        .await
        .unwrap_or_else(Problem::into_response)
}

async fn route<R, B>(
    controller: &RatingController<R>,
    request: Request<B>,
) -> Result<HttpResponse, Problem>
where
    R: RatingRepository,
    B: RequestBody,
{
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (segments.as_slice(), request.method()) {
        (["ratings", record_type, record_id, "users", user], &Method::PUT) => {
            let mut errors = FieldErrors::new();
            let record = path_record_key(&mut errors, record_type, record_id);
            let user = errors.check("userId", UserId::parse(user));
            let (parts, body) = request.into_parts();
            let mut object = json_object(&parts.headers, body).await?;
            let value = errors.check(
                "value",
                required(object.take_integer("value")).and_then(RatingValue::parse),
            );
            object.reject_unknown(&mut errors);
            let rating = rating(errors, record, user, value)?;
            put(controller, &rating).await
        }
        (["ratings", record_type, record_id, "users", user], &Method::DELETE) => {
            let mut errors = FieldErrors::new();
            let record = path_record_key(&mut errors, record_type, record_id);
            let user = errors.check("userId", UserId::parse(user));
            let (Some(record), Some(user)) = (record, user) else {
                return Err(Problem::invalid_fields(errors.into_vec()));
            };
            controller.delete(&record, &user).await.map_err(problem)?;
            Ok(respond::empty(StatusCode::NO_CONTENT))
        }
        (["ratings", _, _, "users", _], _) => Err(Problem::method_not_allowed("PUT, DELETE")),
        (["ratings", record_type, record_id], &Method::GET) => {
            let mut errors = FieldErrors::new();
            let record = path_record_key(&mut errors, record_type, record_id)
                .ok_or_else(|| Problem::invalid_fields(errors.into_vec()))?;
            let aggregate = controller.aggregate(&record).await.map_err(problem)?;
            Ok(respond::json(
                StatusCode::OK,
                &AggregateView::new(&record, &aggregate),
            ))
        }
        (["ratings", _, _], _) => Err(Problem::method_not_allowed("GET")),
        (["rating"], &Method::GET) => {
            let query = Query::parse(request.uri().query());
            let mut errors = FieldErrors::new();
            let record = book_record_key(&mut errors, &query)
                .ok_or_else(|| Problem::invalid_fields(errors.into_vec()))?;
            let aggregate = controller.aggregate(&record).await.map_err(problem)?;
            Ok(respond::json(StatusCode::OK, &aggregate.average()))
        }
        (["rating"], &Method::PUT) => {
            let query = Query::parse(request.uri().query());
            let mut errors = FieldErrors::new();
            let record = book_record_key(&mut errors, &query);
            let user = errors.check("userId", query.require("userId").and_then(UserId::parse));
            let value = errors.check(
                "value",
                query.require("value").and_then(RatingValue::parse_text),
            );
            let rating = rating(errors, record, user, value)?;
            put(controller, &rating).await
        }
        (["rating"], _) => Err(Problem::method_not_allowed("GET, PUT")),
        (["health", "rating"], &Method::GET) => {
            let outcome = controller.health().await;
            Ok(health::report("rating", &[("sqlite", outcome)]))
        }
        (["health", "rating"], _) => Err(Problem::method_not_allowed("GET")),
        _ => Err(Problem::not_found(format!("no resource at {path}"))),
    }
}

async fn put<R: RatingRepository>(
    controller: &RatingController<R>,
    rating: &Rating,
) -> Result<HttpResponse, Problem> {
    let stored = controller.put(rating).await.map_err(problem)?;
    Ok(respond::json(stored.status(), &RatingView::from(rating)))
}

fn record_key(
    errors: &mut FieldErrors,
    type_field: &str,
    record_type: &str,
    id_field: &str,
    record_id: &str,
) -> Option<RecordKey> {
    let record_type = errors.check(type_field, RecordType::parse(record_type));
    let record_id = errors.check(id_field, RecordId::parse(record_id));
    Some(RecordKey {
        record_type: record_type?,
        record_id: record_id?,
    })
}

/// The record named by the path segments `{recordType}/{recordId}`.
fn path_record_key(
    errors: &mut FieldErrors,
    record_type: &str,
    record_id: &str,
) -> Option<RecordKey> {
    record_key(errors, "recordType", record_type, "recordId", record_id)
}

/// The book names the record `id` and its type `type` in the query.
fn book_record_key(errors: &mut FieldErrors, query: &Query) -> Option<RecordKey> {
    let record_type = errors.check("type", query.require("type").and_then(RecordType::parse));
    let record_id = errors.check("id", query.require("id").and_then(RecordId::parse));
    Some(RecordKey {
        record_type: record_type?,
        record_id: record_id?,
    })
}

/// A rating when every part parsed, or a 400 naming every part that did not.
fn rating(
    errors: FieldErrors,
    record: Option<RecordKey>,
    user: Option<UserId>,
    value: Option<RatingValue>,
) -> Result<Rating, Problem> {
    match (record, user, value) {
        (Some(record), Some(user), Some(value)) if errors.is_empty() => Ok(Rating {
            record,
            user,
            value,
        }),
        _ => Err(Problem::invalid_fields(errors.into_vec())),
    }
}

/// Controller errors become problems here and only here.
fn problem(error: RatingError) -> Problem {
    match error {
        RatingError::NotRated(..) => Problem::not_found(error.to_string()),
        RatingError::Storage(failure) => {
            eprintln!("rating storage: {failure}");
            Problem::internal()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::memory::InMemoryRatingRepository;
    use serde_json::{Value, json};
    use service_kit::testing::{block_on, read, rejected_fields, request};

    type Controller = RatingController<InMemoryRatingRepository>;

    fn controller() -> Controller {
        RatingController::new(InMemoryRatingRepository::default())
    }

    fn call(c: &Controller, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        read(block_on(handle(c, request(method, uri, body))))
    }

    fn rate(c: &Controller, user: &str, value: i64) -> StatusCode {
        let uri = format!("/ratings/movie/m1/users/{user}");
        call(c, Method::PUT, &uri, Some(json!({"value": value}))).0
    }

    #[test]
    fn a_new_rating_is_201_and_a_replacement_200_with_the_stored_rating() {
        let c = controller();
        let (status, body) = call(
            &c,
            Method::PUT,
            "/ratings/movie/m1/users/u1",
            Some(json!({"value": 4})),
        );
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(
            body,
            json!({"recordType": "movie", "recordId": "m1", "userId": "u1", "value": 4})
        );
        assert_eq!(rate(&c, "u1", 2), StatusCode::OK);
    }

    #[test]
    fn the_aggregate_reports_average_and_count() {
        let c = controller();
        rate(&c, "u1", 5);
        rate(&c, "u2", 2);
        let (status, body) = call(&c, Method::GET, "/ratings/movie/m1", None);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"recordType": "movie", "recordId": "m1", "average": 3.5, "count": 2})
        );
    }

    #[test]
    fn an_unrated_record_is_404() {
        let (status, body) = call(&controller(), Method::GET, "/ratings/movie/m1", None);
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["status"], 404);
    }

    #[test]
    fn delete_is_204_and_removes_the_rating_from_the_aggregate() {
        let c = controller();
        rate(&c, "u1", 5);
        rate(&c, "u2", 1);
        assert_eq!(
            call(&c, Method::DELETE, "/ratings/movie/m1/users/u2", None).0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(&c, Method::DELETE, "/ratings/movie/m1/users/u2", None).0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(&c, Method::GET, "/ratings/movie/m1", None).1["average"],
            5.0
        );
    }

    #[test]
    fn every_invalid_part_of_a_rating_is_named_and_nothing_is_stored() {
        let c = controller();
        let (status, problem) = call(
            &c,
            Method::PUT,
            "/ratings/Movie/m%201/users/u1",
            Some(json!({"value": 6, "note": "x"})),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            rejected_fields(&problem),
            ["recordType", "recordId", "value", "note"]
        );
        let (status, problem) = call(
            &c,
            Method::PUT,
            "/ratings/movie/m1/users/u1",
            Some(json!({"value": "5"})),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(rejected_fields(&problem), ["value"]);
        assert_eq!(
            call(&c, Method::GET, "/ratings/movie/m1", None).0,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_book_routes_store_and_read_the_bare_average() {
        let c = controller();
        let (status, _) = call(
            &c,
            Method::PUT,
            "/rating?id=m1&type=movie&userId=u1&value=5",
            None,
        );
        assert_eq!(status, StatusCode::CREATED);
        call(
            &c,
            Method::PUT,
            "/rating?id=m1&type=movie&userId=u2&value=4",
            None,
        );
        assert_eq!(
            call(&c, Method::GET, "/rating?id=m1&type=movie", None),
            (StatusCode::OK, json!(4.5))
        );
        assert_eq!(
            call(&c, Method::GET, "/rating?id=m2&type=movie", None).0,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_book_routes_name_missing_and_invalid_parameters() {
        let c = controller();
        let (status, problem) = call(&c, Method::PUT, "/rating?id=m1&value=9", None);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(rejected_fields(&problem), ["type", "userId", "value"]);
        let (_, problem) = call(&c, Method::GET, "/rating?type=movie", None);
        assert_eq!(rejected_fields(&problem), ["id"]);
    }

    #[test]
    fn unsupported_methods_are_405_with_allow() {
        let c = controller();
        for (method, uri, allow) in [
            (Method::GET, "/ratings/movie/m1/users/u1", "PUT, DELETE"),
            (Method::POST, "/ratings/movie/m1", "GET"),
            (Method::DELETE, "/rating?id=m1&type=movie", "GET, PUT"),
            (Method::PUT, "/health/rating", "GET"),
        ] {
            let response = block_on(handle(&c, request(method, uri, None)));
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{uri}");
            assert_eq!(response.headers()["allow"], allow, "{uri}");
        }
    }

    #[test]
    fn storage_failures_are_500_and_health_503() {
        let repository = InMemoryRatingRepository::default();
        repository.failing.set(true);
        let c = RatingController::new(repository);
        assert_eq!(rate(&c, "u1", 3), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            call(&c, Method::GET, "/health/rating", None).0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            call(&controller(), Method::GET, "/health/rating", None).0,
            StatusCode::OK
        );
    }

    #[test]
    fn unknown_paths_are_404() {
        assert_eq!(
            call(&controller(), Method::GET, "/ratings/movie", None).0,
            StatusCode::NOT_FOUND
        );
    }
}
