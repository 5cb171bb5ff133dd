//! HTTP for the rating service: its route table and one function per route. Routing, 404,
//! 405, request reading and error statuses are the kit's ([`service_kit::edge`]); nothing here
//! knows about SQLite.

use crate::controller::{PipelineState, RatingController, RatingRepository};
use crate::events::MAX_EVENTS_PER_REQUEST;
use crate::events::event;
use crate::grpc;
use crate::model::{Rating, RatingFields, RatingValue, RecordKey, UserId};
use crate::reconcile::{ReconcileError, RunLimits, RunStatus};
use crate::representation::{AggregateView, RatingLine, RatingView, aggregate_message};
use crate::surface::{RecordFields, acting_for, record_key, value_for_path};
use futures::StreamExt;
use http::{HeaderMap, Method, Request, StatusCode};
use movie_proto::paths;
use service_kit::auth::config::Trust;
use service_kit::auth::{Access, Principal, scopes};
use service_kit::edge::conditional::unless_unchanged;
use service_kit::edge::ndjson;
use service_kit::edge::negotiate::{self, Format, protobuf_message};
use service_kit::edge::respond::{self, write_status};
use service_kit::edge::{
    About, Answer, Check, Fields, HttpService, Params, Query, RequestBody, Route, Routed,
    json_array, json_object,
};
use service_kit::telemetry::RequestId;
use service_kit::{FieldErrors, Problem};
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatingRoute {
    /// `PUT /ratings/{recordType}/{recordId}/users/{userId}`, body `{"value": 1..5}`.
    Rate,
    Unrate,
    Aggregate,
    /// The book's `PUT /rating?id=&type=&userId=&value=`.
    BookRate,
    /// The book's `GET /rating?id=&type=`: the bare average.
    BookAverage,
    /// gRPC `RatingService/PutRating`.
    RpcPut,
    /// gRPC `RatingService/GetAggregatedRating`.
    RpcAggregate,
    /// gRPC `moviesystem.v1.RatingExtensions/GetRatingSummary`: the aggregate with its count.
    RpcSummary,
    /// `POST /ratings/events`: a batch of rating events for the ingestion consumer.
    PublishEvents,
    /// `GET /ratings/export`: every individual rating, NDJSON, streamed from one snapshot.
    Export,
    /// `POST /jobs/reconcile`: one run of the reconciliation job, under its lease.
    Reconcile,
}

/// The record addressed by the path, named as the path names it.
const PATH_RECORD: RecordFields = ("recordType", "recordId");
/// The book names the record `id` and its type `type` in the query.
const BOOK_RECORD: RecordFields = ("type", "id");

impl<R: RatingRepository> HttpService for RatingController<R> {
    type Tokens = Rc<Trust>;
    const NAME: &'static str = "rating";
    const ABOUT: About = About {
        path: "/ratings/about",
        catalog_info: include_str!("../catalog-info.yaml"),
    };
    type Route = RatingRoute;

    const ROUTES: &'static [Route<RatingRoute>] = &[
        (
            Method::PUT,
            "/ratings/{recordType}/{recordId}/users/{userId}",
            RatingRoute::Rate,
        ),
        (
            Method::DELETE,
            "/ratings/{recordType}/{recordId}/users/{userId}",
            RatingRoute::Unrate,
        ),
        (
            Method::GET,
            "/ratings/{recordType}/{recordId}",
            RatingRoute::Aggregate,
        ),
        (Method::POST, "/ratings/events", RatingRoute::PublishEvents),
        (Method::GET, "/ratings/export", RatingRoute::Export),
        (Method::POST, "/jobs/reconcile", RatingRoute::Reconcile),
        (Method::GET, "/rating", RatingRoute::BookAverage),
        (Method::PUT, "/rating", RatingRoute::BookRate),
        (Method::POST, paths::PUT_RATING, RatingRoute::RpcPut),
        (
            Method::POST,
            paths::GET_AGGREGATED_RATING,
            RatingRoute::RpcAggregate,
        ),
        (
            Method::POST,
            paths::GET_RATING_SUMMARY,
            RatingRoute::RpcSummary,
        ),
    ];

    async fn health_checks(&self) -> Vec<Check> {
        vec![Check::new("sqlite", self.health().await)]
    }

    /// The event pipeline is for operators: reading it opens a Redis connection and runs
    /// three commands, and it tells the last applied event and the totals.
    const HEALTH_DETAILS: Access = Access::AnyScope(&[scopes::RATINGS_ADMIN]);

    /// The event pipeline informs but does not decide: the HTTP API works without it.
    async fn health_details(&self) -> serde_json::Map<String, serde_json::Value> {
        let state = self.pipeline().await;
        let mut details = serde_json::Map::new();
        details.insert("events".to_owned(), pipeline_json(&state));
        details
    }

    /// Reads are public; a write needs `ratings:write` (as its own subject) or
    /// `ratings:admin` (as anyone).
    fn access(route: RatingRoute) -> Access {
        match route {
            RatingRoute::Rate
            | RatingRoute::Unrate
            | RatingRoute::BookRate
            | RatingRoute::RpcPut => {
                Access::AnyScope(&[scopes::RATINGS_WRITE, scopes::RATINGS_ADMIN])
            }
            // Events rate on behalf of any user, as a rating provider does; the export shows
            // every user's ratings, which no one else may read; the job repairs every record.
            RatingRoute::PublishEvents | RatingRoute::Export | RatingRoute::Reconcile => {
                Access::AnyScope(&[scopes::RATINGS_ADMIN])
            }
            RatingRoute::Aggregate
            | RatingRoute::BookAverage
            | RatingRoute::RpcAggregate
            | RatingRoute::RpcSummary => Access::Public,
        }
    }

    /// Writes are what a client can make expensive, and so is an export; reads are one
    /// primary-key lookup. A reconciliation run is bounded by its lease: one at a time.
    fn is_metered(route: RatingRoute) -> bool {
        matches!(
            route,
            RatingRoute::Rate
                | RatingRoute::Unrate
                | RatingRoute::BookRate
                | RatingRoute::RpcPut
                | RatingRoute::PublishEvents
                | RatingRoute::Export
        )
    }

    async fn call<B: RequestBody>(&self, route: RatingRoute, routed: Routed<B>) -> Answer {
        let query = || Query::of(&routed.request);
        // The edge verified the caller of every write route.
        let caller = routed.caller.as_ref();
        match route {
            RatingRoute::Rate => rate(self, caller, &routed.params, routed.request).await,
            RatingRoute::Unrate => unrate(self, caller, &routed.params).await,
            RatingRoute::Aggregate => {
                aggregate(self, &routed.params, routed.request.headers()).await
            }
            RatingRoute::BookRate => book_rate(self, caller, &query()).await,
            RatingRoute::BookAverage => book_average(self, &query()).await,
            RatingRoute::RpcPut => grpc::put_rating(self, caller, routed.request).await,
            RatingRoute::RpcAggregate => grpc::get_aggregated_rating(self, routed.request).await,
            RatingRoute::RpcSummary => grpc::get_rating_summary(self, routed.request).await,
            RatingRoute::PublishEvents => publish_events(self, routed.request).await,
            RatingRoute::Export => export(self).await,
            RatingRoute::Reconcile => reconcile(self, &query()).await,
        }
    }
}

/// Every rating as NDJSON, one [`RatingView`] per line, in record and user order.
async fn export<R: RatingRepository>(controller: &RatingController<R>) -> Answer {
    let pages = controller.export().await?;
    let lines = pages.map(|page| page.map(|ratings| ratings.into_iter().map(RatingLine).collect()));
    Ok(ndjson::response("ratings", lines))
}

/// One run of reconciliation: 200 when every record was reconciled, 202 when the run's
/// budget ran out first (call again to resume), 409 when another run holds the lease.
async fn reconcile<R: RatingRepository>(controller: &RatingController<R>, query: &Query) -> Answer {
    let defaults = RunLimits::default();
    let mut errors = FieldErrors::new();
    let chunk = errors.check(
        "chunk",
        query.get("chunk").map(RunLimits::parse_chunk).transpose(),
    );
    let budget = errors.check(
        "budgetMs",
        query
            .get("budgetMs")
            .map(RunLimits::parse_budget)
            .transpose(),
    );
    let lease = errors.check(
        "leaseMs",
        query.get("leaseMs").map(RunLimits::parse_lease).transpose(),
    );
    let ((chunk, budget), lease) = errors.conclude(chunk.zip(budget).zip(lease))?;
    let limits = RunLimits {
        chunk: chunk.unwrap_or(defaults.chunk),
        budget: budget.unwrap_or(defaults.budget),
        lease_ttl: lease.unwrap_or(defaults.lease_ttl),
    };
    let holder = format!("run-{}", RequestId::generate().as_str());
    let report = controller
        .reconcile(&holder, limits)
        .await
        .inspect_err(|error| {
            if let ReconcileError::Superseded = error {
                service_kit::telemetry::warn("reconcile.superseded")
                    .with("lease.holder", holder.as_str())
                    .emit();
            }
        })?;
    service_kit::telemetry::info("reconcile.finished")
        .with("lease.holder", holder.as_str())
        .with("lease.fencing_token", report.fencing_token)
        .with("reconcile.status", report.status.as_str())
        .with("reconcile.records", report.records)
        .with("reconcile.repaired", report.repaired)
        .with("reconcile.chunks", report.chunks)
        .emit();
    let status = match report.status {
        RunStatus::Complete => StatusCode::OK,
        RunStatus::Partial => StatusCode::ACCEPTED,
    };
    Ok(respond::json(status, &report))
}

/// Validates the whole batch (every invalid member named as `[index].field`), then publishes
/// it as one step: 202 with the count, or nothing published.
async fn publish_events<R: RatingRepository, B: RequestBody>(
    controller: &RatingController<R>,
    request: Request<B>,
) -> Answer {
    let (parts, body) = request.into_parts();
    let items = json_array(&parts.headers, body).await?;
    if items.is_empty() || items.len() > MAX_EVENTS_PER_REQUEST {
        return Err(Problem::bad_request(format!(
            "the body must be an array of 1 to {MAX_EVENTS_PER_REQUEST} events"
        )));
    }
    let digest = event::batch_digest(serde_json::to_string(&items).unwrap_or_default().as_bytes());
    let events = event::read_batch(items, &digest)?;
    let accepted = controller.publish_events(&events).await?;
    Ok(respond::json(
        StatusCode::ACCEPTED,
        &serde_json::json!({ "accepted": accepted }),
    ))
}

/// The event pipeline as the health report shows it.
fn pipeline_json(state: &PipelineState) -> serde_json::Value {
    let mut view = serde_json::Map::new();
    match &state.depths {
        Ok(depths) => {
            view.insert("status".into(), "reachable".into());
            view.insert("lag".into(), depths.waiting.into());
            view.insert("inFlight".into(), depths.in_flight.into());
            view.insert("deadLetters".into(), depths.dead.into());
        }
        Err(error) => {
            service_kit::telemetry::warn("events.log_unreachable")
                .cause(error)
                .emit();
            view.insert("status".into(), "unreachable".into());
        }
    }
    let last = match &state.last_applied {
        Ok(Some(progress)) => serde_json::json!({
            "eventId": progress.event_id,
            "position": progress.position,
            "appliedAtMs": progress.applied_at_ms,
            "appliedTotal": progress.applied_total,
        }),
        Ok(None) | Err(_) => serde_json::Value::Null,
    };
    view.insert("lastApplied".into(), last);
    serde_json::Value::Object(view)
}

/// Every invalid part is named at once: the path's, then the body's.
async fn rate<R: RatingRepository, B: RequestBody>(
    controller: &RatingController<R>,
    caller: Option<&Principal>,
    params: &Params,
    request: Request<B>,
) -> Answer {
    let mut errors = FieldErrors::new();
    let record = record_key(&mut errors, params, PATH_RECORD);
    let user = params.check(&mut errors, "userId", UserId::parse);
    let (parts, body) = request.into_parts();
    let value = match Format::sent(&parts.headers) {
        Format::Json => {
            let fields = RatingFields::try_from(json_object(&parts.headers, body).await?);
            errors.absorb(fields).map(|fields| fields.value)
        }
        Format::Protobuf => {
            let message = protobuf_message(&parts.headers, body).await?;
            value_for_path(&mut errors, &message, params)
        }
    };
    put(
        controller,
        caller,
        Rating::assemble(errors, record, user, value)?,
    )
    .await
}

async fn unrate<R: RatingRepository>(
    controller: &RatingController<R>,
    caller: Option<&Principal>,
    params: &Params,
) -> Answer {
    let mut errors = FieldErrors::new();
    let record = record_key(&mut errors, params, PATH_RECORD);
    let user = params.check(&mut errors, "userId", UserId::parse);
    let (record, user) = errors.conclude(record.zip(user))?;
    acting_for(caller, &user)?;
    controller.delete(&record, &user).await?;
    Ok(respond::empty(StatusCode::NO_CONTENT))
}

/// The aggregate with its ETag, or 304 when `If-None-Match` names it: the movie service
/// revalidates its cached views this way, so an unchanged rating costs no body.
async fn aggregate<R: RatingRepository>(
    controller: &RatingController<R>,
    params: &Params,
    request: &HeaderMap,
) -> Answer {
    let record = one_record(params, PATH_RECORD)?;
    let aggregate = controller.aggregate(&record).await?;
    let view = AggregateView::new(&record, &aggregate);
    let format = Format::accepted(request);
    let response = negotiate::representation(StatusCode::OK, format, &view, || {
        aggregate_message(&aggregate)
    })?;
    Ok(unless_unchanged(response, request))
}

async fn book_rate<R: RatingRepository>(
    controller: &RatingController<R>,
    caller: Option<&Principal>,
    query: &Query,
) -> Answer {
    let mut errors = FieldErrors::new();
    let record = record_key(&mut errors, query, BOOK_RECORD);
    let user = query.check(&mut errors, "userId", UserId::parse);
    let value = query.check(&mut errors, "value", RatingValue::parse_text);
    put(
        controller,
        caller,
        Rating::assemble(errors, record, user, value)?,
    )
    .await
}

async fn book_average<R: RatingRepository>(
    controller: &RatingController<R>,
    query: &Query,
) -> Answer {
    let aggregate = controller
        .aggregate(&one_record(query, BOOK_RECORD)?)
        .await?;
    Ok(respond::json(StatusCode::OK, &aggregate.average()))
}

async fn put<R: RatingRepository>(
    controller: &RatingController<R>,
    caller: Option<&Principal>,
    rating: Rating,
) -> Answer {
    acting_for(caller, &rating.user)?;
    let stored = controller.put(&rating).await?;
    Ok(respond::json(
        write_status(stored),
        &RatingView::from(&rating),
    ))
}

/// The record a read addresses, or a 400 naming whichever of its two fields is invalid.
fn one_record(source: &impl Fields, names: RecordFields) -> Result<RecordKey, FieldErrors> {
    let mut errors = FieldErrors::new();
    let record = record_key(&mut errors, source, names);
    errors.conclude(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::memory::InMemoryRatingRepository as Memory;
    use futures::executor::block_on;
    use serde_json::{Value, json};
    use service_kit::testing::{assert_problem, call, call_as, health, rejected_fields, token};

    type Controller = RatingController<Memory>;

    fn controller() -> Controller {
        RatingController::new(Memory::default())
    }

    fn rate(c: &Controller, user: &str, value: i64) -> StatusCode {
        let uri = format!("/ratings/movie/m1/users/{user}");
        call(c, Method::PUT, &uri, Some(json!({"value": value}))).0
    }

    fn aggregate_of_m1(c: &Controller) -> (StatusCode, Value) {
        call(c, Method::GET, "/ratings/movie/m1", None)
    }

    #[test]
    fn a_new_rating_is_201_with_the_stored_rating() {
        let uri = "/ratings/movie/m1/users/u1";
        let (status, body) = call(&controller(), Method::PUT, uri, Some(json!({"value": 4})));
        assert_eq!(
            (status, body),
            (
                StatusCode::CREATED,
                json!({"recordType": "movie", "recordId": "m1", "userId": "u1", "value": 4})
            ),
            "PUT {uri}"
        );
    }

    fn aggregate_if_none_match(c: &Controller, tag: &http::HeaderValue) -> StatusCode {
        let mut request = service_kit::testing::request(Method::GET, "/ratings/movie/m1", None);
        request
            .headers_mut()
            .insert(http::header::IF_NONE_MATCH, tag.clone());
        block_on(service_kit::testing::serve(c, request)).status()
    }

    fn aggregate_tag(c: &Controller) -> http::HeaderValue {
        service_kit::testing::respond(c, Method::GET, "/ratings/movie/m1", None).headers()
            [http::header::ETAG]
            .clone()
    }

    #[test]
    fn the_aggregate_is_304_while_its_tag_is_current() {
        let c = controller();
        rate(&c, "u1", 5);
        let tag = aggregate_tag(&c);
        assert_eq!(
            aggregate_if_none_match(&c, &tag),
            StatusCode::NOT_MODIFIED,
            "GET /ratings/movie/m1 with If-None-Match {tag:?}"
        );
    }

    #[test]
    fn a_new_rating_changes_the_aggregate_tag() {
        let c = controller();
        rate(&c, "u1", 5);
        let tag = aggregate_tag(&c);
        rate(&c, "u2", 1);
        assert_eq!(
            aggregate_if_none_match(&c, &tag),
            StatusCode::OK,
            "GET /ratings/movie/m1 with the tag from before u2 rated"
        );
    }

    /// A controller behind an edge that counts `quota` writes per minute per client.
    struct Limited {
        controller: Controller,
        edge: service_kit::edge::Edge<Rc<Trust>>,
    }

    fn limited(quota: u32) -> Limited {
        Limited {
            controller: controller(),
            edge: service_kit::testing::limited_edge::<Controller>(quota, 60),
        }
    }

    impl Limited {
        fn respond(
            &self,
            method: Method,
            uri: &str,
            body: Option<Value>,
        ) -> service_kit::HttpResponse {
            service_kit::testing::respond_through(&self.edge, &self.controller, method, uri, body)
        }

        fn rate(&self, user: &str, value: i64) -> StatusCode {
            let uri = format!("/ratings/movie/m1/users/{user}");
            self.respond(Method::PUT, &uri, Some(json!({"value": value})))
                .status()
        }
    }

    #[test]
    fn writes_over_the_quota_are_429_with_retry_after_and_ratelimit_headers() {
        let c = limited(2);
        c.rate("u1", 5);
        c.rate("u2", 5);
        let response = c.respond(
            Method::PUT,
            "/ratings/movie/m1/users/u3",
            Some(json!({"value": 1})),
        );
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap_or_default().to_owned())
        };
        assert_eq!(
            (
                response.status(),
                header("retry-after").is_some(),
                header("ratelimit-policy"),
                header("ratelimit").map(|v| v.starts_with("\"default\";r=0;t="))
            ),
            (
                StatusCode::TOO_MANY_REQUESTS,
                true,
                Some("\"default\";q=2;w=60".to_owned()),
                Some(true)
            ),
            "third write with a quota of 2"
        );
    }

    #[test]
    fn a_refused_write_changes_nothing() {
        let c = limited(1);
        c.rate("u1", 5);
        c.rate("u2", 1);
        assert_eq!(
            aggregate_of_m1(&c.controller).1["count"],
            json!(1),
            "ratings after a 429"
        );
    }

    #[test]
    fn reads_are_not_metered() {
        let c = limited(1);
        c.rate("u1", 5);
        for _ in 0..3 {
            let read = c.respond(Method::GET, "/ratings/movie/m1", None);
            assert_eq!(read.status(), StatusCode::OK, "GET /ratings/movie/m1");
        }
    }

    #[test]
    fn a_write_within_the_quota_says_what_is_left() {
        let c = limited(5);
        let response = c.respond(Method::DELETE, "/ratings/movie/m1/users/u1", None);
        let remaining = response.headers().get("ratelimit").cloned();
        assert!(
            remaining
                .as_ref()
                .is_some_and(|v| v.to_str().unwrap_or_default().contains(";r=4;")),
            "RateLimit after one DELETE of 5 allowed: {remaining:?}"
        );
    }

    #[test]
    fn a_users_second_rating_is_200() {
        let c = controller();
        rate(&c, "u1", 4);
        assert_eq!(rate(&c, "u1", 2), StatusCode::OK, "second PUT by u1");
    }

    #[test]
    fn the_aggregate_reports_average_and_count() {
        let c = controller();
        rate(&c, "u1", 5);
        rate(&c, "u2", 2);
        assert_eq!(
            aggregate_of_m1(&c),
            (
                StatusCode::OK,
                json!({"recordType": "movie", "recordId": "m1", "average": 3.5, "count": 2})
            ),
            "GET /ratings/movie/m1"
        );
    }

    #[test]
    fn an_unrated_record_is_404_with_a_problem_body() {
        let answer = aggregate_of_m1(&controller());
        assert_problem(&answer, StatusCode::NOT_FOUND, "GET /ratings/movie/m1");
    }

    #[test]
    fn delete_is_204_and_removes_the_rating_from_the_aggregate() {
        let c = controller();
        rate(&c, "u1", 5);
        rate(&c, "u2", 1);
        let (status, _) = call(&c, Method::DELETE, "/ratings/movie/m1/users/u2", None);
        assert_eq!(
            status,
            StatusCode::NO_CONTENT,
            "DELETE /ratings/movie/m1/users/u2"
        );
        assert_eq!(
            aggregate_of_m1(&c).1["average"],
            5.0,
            "GET /ratings/movie/m1 after DELETE"
        );
    }

    #[test]
    fn deleting_an_absent_rating_is_204_too() {
        let (status, _) = call(
            &controller(),
            Method::DELETE,
            "/ratings/movie/m1/users/u2",
            None,
        );
        assert_eq!(
            status,
            StatusCode::NO_CONTENT,
            "DELETE of a rating nobody gave"
        );
    }

    #[test]
    fn a_rating_names_every_invalid_part_of_path_and_body_in_order() {
        let uri = "/ratings/Movie/m%201/users/u1";
        let (status, problem) = call(
            &controller(),
            Method::PUT,
            uri,
            Some(json!({"value": 6, "note": "x"})),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "PUT {uri}");
        assert_eq!(
            rejected_fields(&problem),
            ["recordType", "recordId", "value", "note"],
            "PUT {uri}: {problem}"
        );
    }

    #[test]
    fn a_value_sent_as_a_string_is_rejected() {
        let uri = "/ratings/movie/m1/users/u1";
        let (_, problem) = call(&controller(), Method::PUT, uri, Some(json!({"value": "5"})));
        assert_eq!(rejected_fields(&problem), ["value"], "PUT {uri}: {problem}");
    }

    #[test]
    fn a_rejected_rating_stores_nothing() {
        let c = controller();
        rate(&c, "u1", 6);
        assert_eq!(
            aggregate_of_m1(&c).0,
            StatusCode::NOT_FOUND,
            "GET /ratings/movie/m1 after a 400"
        );
    }

    #[test]
    fn the_book_put_stores_a_rating_with_201() {
        let uri = "/rating?id=m1&type=movie&userId=u1&value=5";
        let (status, _) = call(&controller(), Method::PUT, uri, None);
        assert_eq!(status, StatusCode::CREATED, "PUT {uri}");
    }

    #[test]
    fn the_book_get_answers_the_bare_average() {
        let c = controller();
        rate(&c, "u1", 5);
        rate(&c, "u2", 4);
        let uri = "/rating?id=m1&type=movie";
        assert_eq!(
            call(&c, Method::GET, uri, None),
            (StatusCode::OK, json!(4.5)),
            "GET {uri}"
        );
    }

    #[test]
    fn the_book_get_of_an_unrated_record_is_404() {
        let uri = "/rating?id=m2&type=movie";
        assert_eq!(
            call(&controller(), Method::GET, uri, None).0,
            StatusCode::NOT_FOUND,
            "GET {uri}"
        );
    }

    #[test]
    fn the_book_put_names_missing_and_invalid_parameters() {
        let uri = "/rating?id=m1&value=9";
        let (_, problem) = call(&controller(), Method::PUT, uri, None);
        assert_eq!(
            rejected_fields(&problem),
            ["type", "userId", "value"],
            "PUT {uri}"
        );
    }

    #[test]
    fn the_book_get_names_a_missing_id() {
        let uri = "/rating?type=movie";
        let (_, problem) = call(&controller(), Method::GET, uri, None);
        assert_eq!(rejected_fields(&problem), ["id"], "GET {uri}");
    }

    #[test]
    fn a_storage_failure_is_500() {
        assert_eq!(
            rate(&RatingController::new(Memory::failing()), "u1", 3),
            StatusCode::INTERNAL_SERVER_ERROR,
            "PUT with a failing store"
        );
    }

    #[test]
    fn health_is_503_when_the_store_fails() {
        let (status, _) = health(&RatingController::new(Memory::failing()));
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "GET /health/rating"
        );
    }

    fn health_as(token: Option<&str>) -> (StatusCode, Value) {
        call_as(&controller(), token, Method::GET, "/health/rating", None)
    }

    #[test]
    fn the_public_health_report_shows_no_event_pipeline() {
        let (status, report) = health_as(None);
        assert_eq!(
            (status, report.get("events")),
            (StatusCode::OK, None),
            "GET /health/rating without a token: {report}"
        );
    }

    #[test]
    fn an_admin_sees_the_event_pipeline_in_the_health_report() {
        let (status, report) = health_as(Some(&token("ops", "ratings:admin")));
        assert_eq!(
            (status, report["events"]["status"].as_str()),
            (StatusCode::OK, Some("unreachable")),
            "GET /health/rating as ratings:admin: {report}"
        );
    }

    #[test]
    fn a_health_request_with_a_token_lacking_the_scope_is_403() {
        let (status, _) = health_as(Some(&token("u1", "ratings:write")));
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = health_as(Some("not-a-token"));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn a_record_without_its_id_is_404() {
        let (status, _) = call(&controller(), Method::GET, "/ratings/movie", None);
        assert_eq!(status, StatusCode::NOT_FOUND, "GET /ratings/movie");
    }

    fn rate_as(c: &Controller, token: &str, user: &str) -> StatusCode {
        let uri = format!("/ratings/movie/m1/users/{user}");
        call_as(c, Some(token), Method::PUT, &uri, Some(json!({"value": 4}))).0
    }

    #[test]
    fn a_user_may_rate_as_themselves() {
        let status = rate_as(&controller(), &token("u1", "ratings:write"), "u1");
        assert_eq!(status, StatusCode::CREATED);
    }

    #[test]
    fn a_user_may_not_rate_as_another_and_nothing_is_stored() {
        let c = controller();
        let status = rate_as(&c, &token("u1", "ratings:write"), "u2");
        assert_eq!(status, StatusCode::FORBIDDEN, "u1 rating as u2");
        assert_eq!(aggregate_of_m1(&c).0, StatusCode::NOT_FOUND, "after a 403");
    }

    #[test]
    fn an_admin_may_rate_as_anyone() {
        let status = rate_as(&controller(), &token("moderator", "ratings:admin"), "u2");
        assert_eq!(status, StatusCode::CREATED);
    }

    #[test]
    fn a_user_may_not_unrate_for_another() {
        let c = controller();
        rate(&c, "u2", 5);
        let uri = "/ratings/movie/m1/users/u2";
        let token = token("u1", "ratings:write");
        let (status, _) = call_as(&c, Some(&token), Method::DELETE, uri, None);
        assert_eq!(status, StatusCode::FORBIDDEN, "u1 deleting u2's rating");
        assert_eq!(
            aggregate_of_m1(&c).0,
            StatusCode::OK,
            "u2's rating survives"
        );
    }

    #[test]
    fn the_book_write_route_holds_a_user_to_their_own_ratings() {
        let uri = "/rating?id=m1&type=movie&userId=u2&value=4";
        let token = token("u1", "ratings:write");
        let (status, _) = call_as(&controller(), Some(&token), Method::PUT, uri, None);
        assert_eq!(status, StatusCode::FORBIDDEN, "PUT {uri} as u1");
    }

    #[test]
    fn a_token_for_metadata_only_may_not_rate() {
        let status = rate_as(&controller(), &token("u1", "metadata:write"), "u1");
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn a_rating_without_a_token_is_401() {
        let uri = "/ratings/movie/m1/users/u1";
        let (status, _) = call_as(
            &controller(),
            None,
            Method::PUT,
            uri,
            Some(json!({"value": 4})),
        );
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn every_route_is_in_the_openapi_document_and_nothing_else_is() {
        service_kit::testing::assert_routes_documented::<Controller>(include_str!(
            "../../../docs/openapi.json"
        ));
    }
}
