//! HTTP for the movie service: routes requests to the controller and maps its outcomes to
//! status codes.
//!
//! Routes (see `spin.toml`):
//! - `GET /movies/{id}`: the composed view
//! - `GET /movie?id=`: the book's route and shape
//! - `GET /health/movie`

use crate::controller::{
    CacheStore, GatewayError, MetadataGateway, MovieController, MovieError, RatingGateway,
};
use crate::model::{MovieDetails, MovieId};
use crate::representation::{BookDetailsView, DetailsView};
use http::{Method, Request, StatusCode};
use service_kit::request::Query;
use service_kit::{FieldErrors, HttpResponse, Problem, health, respond};

pub async fn handle<M, R, C, B>(
    controller: &MovieController<M, R, C>,
    request: Request<B>,
) -> HttpResponse
where
    M: MetadataGateway,
    R: RatingGateway,
    C: CacheStore,
{
    route(controller, request)
        .await
        .unwrap_or_else(Problem::into_response)
}

async fn route<M, R, C, B>(
    controller: &MovieController<M, R, C>,
    request: Request<B>,
) -> Result<HttpResponse, Problem>
where
    M: MetadataGateway,
    R: RatingGateway,
    C: CacheStore,
{
    let path = request.uri().path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (segments.as_slice(), request.method()) {
        (["movies", id], &Method::GET) => {
            let details = details(controller, id).await?;
            Ok(respond::json(StatusCode::OK, &DetailsView::from(&details)))
        }
        (["movies", _], _) => Err(Problem::method_not_allowed("GET")),
        (["movie"], &Method::GET) => {
            let query = Query::parse(request.uri().query());
            let mut errors = FieldErrors::new();
            let id = errors
                .check("id", query.require("id"))
                .ok_or_else(|| Problem::invalid_fields(errors.into_vec()))?;
            let details = details(controller, id).await?;
            Ok(respond::json(
                StatusCode::OK,
                &BookDetailsView::from(&details),
            ))
        }
        (["movie"], _) => Err(Problem::method_not_allowed("GET")),
        (["health", "movie"], &Method::GET) => {
            let outcome = controller.health().await;
            Ok(health::report("movie", &[("key-value", outcome)]))
        }
        (["health", "movie"], _) => Err(Problem::method_not_allowed("GET")),
        _ => Err(Problem::not_found(format!("no resource at {path}"))),
    }
}

async fn details<M, R, C>(
    controller: &MovieController<M, R, C>,
    raw_id: &str,
) -> Result<MovieDetails, Problem>
where
    M: MetadataGateway,
    R: RatingGateway,
    C: CacheStore,
{
    let mut errors = FieldErrors::new();
    let id = errors
        .check("id", MovieId::parse(raw_id))
        .ok_or_else(|| Problem::invalid_fields(errors.into_vec()))?;
    controller.get(&id).await.map_err(problem)
}

/// Controller errors become problems here and only here. An upstream failure is a 502 that
/// names the upstream but not its internals; our own misconfiguration is a 500.
fn problem(error: MovieError) -> Problem {
    match error {
        MovieError::NotFound(_) => Problem::not_found(error.to_string()),
        MovieError::Upstream {
            source: GatewayError::Configuration(_),
            ..
        } => {
            eprintln!("movie: {error}");
            Problem::internal()
        }
        MovieError::Upstream { service, .. } => {
            eprintln!("movie: {error}");
            Problem::new(
                StatusCode::BAD_GATEWAY,
                format!("the {service} service did not answer usefully"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fakes::{FakeUpstreams, metadata};
    use crate::model::RatingSummary;
    use serde_json::{Value, json};
    use service_kit::testing::{block_on, read, rejected_fields, request};

    fn call(fakes: &FakeUpstreams, method: Method, uri: &str) -> (StatusCode, Value) {
        let controller = MovieController::new(fakes, fakes, fakes);
        read(block_on(handle(&controller, request(method, uri, None))))
    }

    fn with_movie() -> FakeUpstreams {
        let fakes = FakeUpstreams::default();
        fakes
            .metadata
            .borrow_mut()
            .insert("m1".into(), metadata("m1"));
        fakes
    }

    #[test]
    fn details_carry_metadata_rating_and_count() {
        let fakes = with_movie();
        fakes.ratings.borrow_mut().insert(
            "m1".into(),
            RatingSummary {
                average: 4.5,
                count: 2,
            },
        );
        let (status, body) = call(&fakes, Method::GET, "/movies/m1");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"id": "m1", "metadata": metadata("m1"), "rating": 4.5, "ratingCount": 2})
        );
    }

    #[test]
    fn an_unrated_movie_has_a_null_rating_and_zero_count() {
        let (status, body) = call(&with_movie(), Method::GET, "/movies/m1");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (body["rating"].clone(), body["ratingCount"].clone()),
            (Value::Null, json!(0))
        );
    }

    #[test]
    fn the_book_route_omits_an_absent_rating() {
        let fakes = with_movie();
        let (_, body) = call(&fakes, Method::GET, "/movie?id=m1");
        assert_eq!(body, json!({"metadata": metadata("m1")}));
        fakes.ratings.borrow_mut().insert(
            "m1".into(),
            RatingSummary {
                average: 3.0,
                count: 1,
            },
        );
        let (_, body) = call(&fakes, Method::GET, "/movie?id=m1");
        assert_eq!(body, json!({"rating": 3.0, "metadata": metadata("m1")}));
    }

    #[test]
    fn a_movie_without_metadata_is_404() {
        let (status, body) = call(&FakeUpstreams::default(), Method::GET, "/movies/m1");
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["status"], 404);
    }

    #[test]
    fn an_upstream_failure_is_502_naming_the_upstream() {
        let fakes = with_movie();
        fakes.rating_failing.set(true);
        let (status, body) = call(&fakes, Method::GET, "/movies/m1");
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(
            body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("rating"),
            "{body}"
        );
        assert!(!body.to_string().contains("scripted"), "{body}");
    }

    #[test]
    fn invalid_or_missing_ids_are_400_naming_id() {
        let (status, body) = call(&with_movie(), Method::GET, "/movies/a%2Fb");
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(rejected_fields(&body), ["id"]);
        let (status, body) = call(&with_movie(), Method::GET, "/movie");
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(rejected_fields(&body), ["id"]);
    }

    #[test]
    fn writes_are_405_with_allow_get() {
        let fakes = with_movie();
        let controller = MovieController::new(&fakes, &fakes, &fakes);
        for uri in ["/movies/m1", "/movie?id=m1", "/health/movie"] {
            let response = block_on(handle(&controller, request(Method::PUT, uri, None)));
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{uri}");
            assert_eq!(response.headers()["allow"], "GET");
        }
    }

    #[test]
    fn health_reflects_the_key_value_store() {
        let fakes = with_movie();
        assert_eq!(call(&fakes, Method::GET, "/health/movie").0, StatusCode::OK);
        fakes.cache_failing.set(true);
        assert_eq!(
            call(&fakes, Method::GET, "/health/movie").0,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
