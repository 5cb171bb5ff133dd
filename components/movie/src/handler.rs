//! HTTP for the movie service: its route table and one function per route. Routing, 404,
//! 405 and error statuses are the kit's ([`service_kit::edge`]).

use crate::controller::{CacheStore, MetadataGateway, MovieController, RatingGateway};
use crate::model::MovieId;
use crate::representation::{BookDetailsView, DetailsView};
use http::{Method, StatusCode};
use service_kit::edge::respond;
use service_kit::edge::{Answer, Check, Fields, HttpService, Query, RequestBody, Route, Routed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovieRoute {
    Details,
    /// The book's `GET /movie?id=`, in the book's shape.
    BookDetails,
}

impl<M, R, C> HttpService for MovieController<M, R, C>
where
    M: MetadataGateway,
    R: RatingGateway,
    C: CacheStore,
{
    const NAME: &'static str = "movie";
    type Route = MovieRoute;

    const ROUTES: &'static [Route<MovieRoute>] = &[
        (Method::GET, "/movies/{id}", MovieRoute::Details),
        (Method::GET, "/movie", MovieRoute::BookDetails),
    ];

    async fn health_checks(&self) -> Vec<Check> {
        vec![Check::new("key-value", self.health().await)]
    }

    async fn call<B: RequestBody>(&self, route: MovieRoute, routed: Routed<B>) -> Answer {
        let id = match route {
            MovieRoute::Details => routed.params.one("id", MovieId::parse)?,
            MovieRoute::BookDetails => Query::of(&routed.request).one("id", MovieId::parse)?,
        };
        let details = self.get(&id).await?;
        Ok(match route {
            MovieRoute::Details => respond::json(StatusCode::OK, &DetailsView::from(&details)),
            MovieRoute::BookDetails => {
                respond::json(StatusCode::OK, &BookDetailsView::from(&details))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fakes::{FakeUpstreams, metadata};
    use crate::model::RatingSummary;
    use serde_json::{Value, json};
    use service_kit::testing::{self, rejected_fields};

    fn call(fakes: &FakeUpstreams, method: Method, uri: &str) -> (StatusCode, Value) {
        testing::call(
            &MovieController::new(fakes, fakes, fakes),
            method,
            uri,
            None,
        )
    }

    fn with_movie() -> FakeUpstreams {
        let fakes = FakeUpstreams::default();
        fakes
            .metadata
            .borrow_mut()
            .insert("m1".into(), metadata("m1"));
        fakes
    }

    fn rated(fakes: &FakeUpstreams, average: f64, count: u64) {
        let summary = RatingSummary { average, count };
        fakes.ratings.borrow_mut().insert("m1".into(), summary);
    }

    #[test]
    fn details_carry_metadata_rating_and_count() {
        let fakes = with_movie();
        rated(&fakes, 4.5, 2);
        assert_eq!(
            call(&fakes, Method::GET, "/movies/m1"),
            (
                StatusCode::OK,
                json!({"id": "m1", "metadata": metadata("m1"), "rating": 4.5, "ratingCount": 2})
            ),
            "GET /movies/m1"
        );
    }

    #[test]
    fn an_unrated_movie_has_a_null_rating_and_zero_count() {
        let (status, body) = call(&with_movie(), Method::GET, "/movies/m1");
        assert_eq!(
            (status, body["rating"].clone(), body["ratingCount"].clone()),
            (StatusCode::OK, Value::Null, json!(0)),
            "GET /movies/m1 of an unrated movie"
        );
    }

    #[test]
    fn the_book_route_omits_an_absent_rating() {
        let (_, body) = call(&with_movie(), Method::GET, "/movie?id=m1");
        assert_eq!(
            body,
            json!({"metadata": metadata("m1")}),
            "GET /movie?id=m1"
        );
    }

    #[test]
    fn the_book_route_carries_the_bare_average() {
        let fakes = with_movie();
        rated(&fakes, 3.0, 1);
        let (_, body) = call(&fakes, Method::GET, "/movie?id=m1");
        assert_eq!(
            body,
            json!({"rating": 3.0, "metadata": metadata("m1")}),
            "GET /movie?id=m1"
        );
    }

    #[test]
    fn a_movie_without_metadata_is_404_with_a_problem_body() {
        let answer = call(&FakeUpstreams::default(), Method::GET, "/movies/m1");
        testing::assert_problem(&answer, StatusCode::NOT_FOUND, "GET /movies/m1");
    }

    #[test]
    fn an_upstream_failure_is_502_naming_the_upstream_but_not_the_cause() {
        let fakes = with_movie();
        fakes.rating_failing.set(true);
        let (status, body) = call(&fakes, Method::GET, "/movies/m1");
        assert_eq!(status, StatusCode::BAD_GATEWAY, "GET /movies/m1: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("rating") && !body.to_string().contains("scripted"),
            "GET /movies/m1: {body}"
        );
    }

    #[test]
    fn an_invalid_path_id_is_400_naming_id() {
        let (status, body) = call(&with_movie(), Method::GET, "/movies/a%2Fb");
        assert_eq!(
            (status, rejected_fields(&body)),
            (StatusCode::BAD_REQUEST, vec!["id".to_owned()]),
            "GET /movies/a%2Fb"
        );
    }

    #[test]
    fn the_book_route_without_an_id_is_400_naming_id() {
        let (status, body) = call(&with_movie(), Method::GET, "/movie");
        assert_eq!(
            (status, rejected_fields(&body)),
            (StatusCode::BAD_REQUEST, vec!["id".to_owned()]),
            "GET /movie"
        );
    }

    #[test]
    fn health_is_503_when_the_key_value_store_fails() {
        let fakes = with_movie();
        fakes.cache_failing.set(true);
        let (status, _) = testing::health(&MovieController::new(&fakes, &fakes, &fakes));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "GET /health/movie");
    }
}
