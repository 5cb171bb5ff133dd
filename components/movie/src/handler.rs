//! HTTP for the movie service: its route table and one function per route. Routing, 404,
//! 405 and error statuses are the kit's ([`service_kit::edge`]); the caching headers of a view
//! are set here.

use crate::controller::{MovieController, Ports};
use crate::grpc;
use crate::model::MovieId;
use crate::representation::{BookDetailsView, DetailsView};
use crate::view_headers::{caching_headers, freshness};
use http::header::{HeaderValue, VARY};
use http::{Method, StatusCode};
use movie_proto::paths;
use prost::Message;
use service_kit::edge::negotiate::{Format, PROTOBUF};
use service_kit::edge::respond;
use service_kit::edge::{
    About, Answer, Check, Fields, HttpService, Query, RequestBody, Route, Routed,
};
use service_kit::grpc::health;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovieRoute {
    Details,
    /// The book's `GET /movie?id=`, in the book's shape.
    BookDetails,
    /// gRPC `MovieService/GetMovieDetails`.
    RpcDetails,
    /// gRPC `grpc.health.v1.Health/Check`, for the whole system.
    HealthCheck,
    /// gRPC `grpc.health.v1.Health/Watch`: one message, then the stream ends.
    HealthWatch,
}

impl<P: Ports> HttpService for MovieController<P> {
    const NAME: &'static str = "movie";
    type Tokens = service_kit::edge::NoTokens;
    const ABOUT: About = About {
        path: "/movies/about",
        catalog_info: include_str!("../catalog-info.yaml"),
    };
    type Route = MovieRoute;

    const ROUTES: &'static [Route<MovieRoute>] = &[
        (Method::GET, "/movies/{id}", MovieRoute::Details),
        (Method::GET, "/movie", MovieRoute::BookDetails),
        (
            Method::POST,
            paths::GET_MOVIE_DETAILS,
            MovieRoute::RpcDetails,
        ),
        (Method::POST, health::CHECK_PATH, MovieRoute::HealthCheck),
        (Method::POST, health::WATCH_PATH, MovieRoute::HealthWatch),
    ];

    async fn health_checks(&self) -> Vec<Check> {
        vec![Check::new("key-value", self.health().await)]
    }

    async fn call<B: RequestBody>(&self, route: MovieRoute, routed: Routed<B>) -> Answer {
        let id = match route {
            MovieRoute::Details => routed.params.one("id", MovieId::parse)?,
            MovieRoute::BookDetails => Query::of(&routed.request).one("id", MovieId::parse)?,
            MovieRoute::RpcDetails => return self.get_movie_details(routed).await,
            MovieRoute::HealthCheck => return self.health_check(routed, false).await,
            MovieRoute::HealthWatch => return self.health_check(routed, true).await,
        };
        let headers = routed.request.headers();
        let served = self.view(&id, freshness(headers), &routed.meter).await?;
        let details = &served.view.details;
        let unavailable = served.rating_unavailable;
        let format = Format::accepted(headers);
        let mut response = match (route, format) {
            (_, Format::Protobuf) => {
                let message = grpc::details_message(&served);
                respond::bytes(StatusCode::OK, PROTOBUF, message.encode_to_vec())
            }
            (MovieRoute::BookDetails, Format::Json) => {
                respond::json(StatusCode::OK, &BookDetailsView::new(details, unavailable))
            }
            (_, Format::Json) => {
                respond::json(StatusCode::OK, &DetailsView::new(details, unavailable))
            }
        };
        response
            .headers_mut()
            .insert(VARY, HeaderValue::from_static("accept"));
        caching_headers(&mut response, &served);
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::GatewayError;
    use crate::fakes::{Fakes, metadata};
    use http::header::RETRY_AFTER;
    use serde_json::{Value, json};
    use service_kit::HttpResponse;
    use service_kit::testing::{self, rejected_fields};

    fn call(fakes: &Fakes, method: Method, uri: &str) -> (StatusCode, Value) {
        testing::call(&fakes.controller(), method, uri, None)
    }

    fn respond(fakes: &Fakes, uri: &str, headers: &[(&'static str, &'static str)]) -> HttpResponse {
        let mut request = testing::request(Method::GET, uri, None);
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(*name, HeaderValue::from_static(value));
        }
        futures::executor::block_on(service_kit::testing::serve(&fakes.controller(), request))
    }

    fn header<'a>(response: &'a HttpResponse, name: &str) -> Option<&'a str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn details_carry_metadata_rating_and_count() {
        let fakes = Fakes::with_movie();
        fakes.rate(4.5, 2);
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
    fn a_client_accepting_protobuf_gets_the_books_movie_details() {
        let fakes = Fakes::with_movie();
        fakes.rate(4.0, 2);
        let response = respond(&fakes, "/movies/m1", &[("accept", PROTOBUF)]);
        assert_eq!(
            (header(&response, "content-type"), header(&response, "vary")),
            (Some(PROTOBUF), Some("accept")),
            "GET /movies/m1 accepting protobuf"
        );
        let bytes =
            futures::executor::block_on(http_body_util::BodyExt::collect(response.into_body()))
                .map(|collected| collected.to_bytes())
                .unwrap_or_default();
        let details = movie_proto::MovieDetails::decode(bytes).unwrap_or_default();
        assert_eq!(
            (details.rating, details.metadata.map(|m| m.id)),
            (4.0, Some("m1".to_owned()))
        );
    }

    #[test]
    fn an_unrated_movie_has_a_null_rating_and_zero_count() {
        let (status, body) = call(&Fakes::with_movie(), Method::GET, "/movies/m1");
        assert_eq!(
            (status, body["rating"].clone(), body["ratingCount"].clone()),
            (StatusCode::OK, Value::Null, json!(0)),
            "GET /movies/m1 of an unrated movie"
        );
    }

    #[test]
    fn the_book_route_omits_an_absent_rating() {
        let (_, body) = call(&Fakes::with_movie(), Method::GET, "/movie?id=m1");
        assert_eq!(
            body,
            json!({"metadata": metadata("m1")}),
            "GET /movie?id=m1"
        );
    }

    #[test]
    fn the_book_route_carries_the_bare_average() {
        let fakes = Fakes::with_movie();
        fakes.rate(3.0, 1);
        let (_, body) = call(&fakes, Method::GET, "/movie?id=m1");
        assert_eq!(
            body,
            json!({"rating": 3.0, "metadata": metadata("m1")}),
            "GET /movie?id=m1"
        );
    }

    #[test]
    fn a_movie_without_metadata_is_404_with_a_problem_body() {
        let answer = call(&Fakes::default(), Method::GET, "/movies/m1");
        testing::assert_problem(&answer, StatusCode::NOT_FOUND, "GET /movies/m1");
    }

    #[test]
    fn an_unavailable_rating_service_gives_a_degraded_view_marked_in_header_and_body() {
        let fakes = Fakes::with_movie();
        fakes.rate(4.0, 1);
        *fakes.rating_script.failing.borrow_mut() = Some(GatewayError::Status(500));
        let response = respond(&fakes, "/movies/m1", &[]);
        assert_eq!(
            (
                header(&response, "movie-degraded"),
                header(&response, "cache-control")
            ),
            (Some("rating"), Some("no-store")),
            "headers of a degraded view"
        );
        let (status, body) = testing::read(response);
        assert_eq!(
            (status, body["rating"].clone(), body["degraded"].clone()),
            (StatusCode::OK, Value::Null, json!(["rating"])),
            "GET /movies/m1 with rating failing"
        );
    }

    #[test]
    fn unavailable_metadata_is_503_naming_it_with_retry_after() {
        let fakes = Fakes::with_movie();
        *fakes.metadata_script.failing.borrow_mut() =
            Some(GatewayError::Transport("refused".into()));
        let response = respond(&fakes, "/movies/m1", &[]);
        assert_eq!(header(&response, RETRY_AFTER.as_str()), Some("1"));
        let (status, body) = testing::read(response);
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(
            status == StatusCode::SERVICE_UNAVAILABLE
                && detail.contains("metadata")
                && !body.to_string().contains("refused"),
            "GET /movies/m1: {status} {body}"
        );
    }

    #[test]
    fn slow_metadata_is_504_naming_it() {
        let fakes = Fakes::with_movie();
        fakes
            .metadata_script
            .latency
            .set(std::time::Duration::from_secs(5));
        let (status, body) = call(&fakes, Method::GET, "/movies/m1");
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("metadata"),
            "{body}"
        );
    }

    #[test]
    fn a_first_view_says_it_missed_and_stored() {
        let response = respond(&Fakes::with_movie(), "/movies/m1", &[]);
        assert_eq!(
            (
                header(&response, "cache-status"),
                header(&response, "age"),
                header(&response, "cache-control")
            ),
            (
                Some("movie; fwd=uri-miss; stored"),
                Some("0"),
                Some("public, max-age=2")
            )
        );
    }

    #[test]
    fn no_cache_from_the_client_is_honoured() {
        for directive in [
            ("cache-control", "no-cache"),
            ("cache-control", "max-age=0"),
            ("pragma", "no-cache"),
        ] {
            let response = respond(&Fakes::with_movie(), "/movies/m1", &[directive]);
            assert_eq!(
                header(&response, "cache-status"),
                Some("movie; fwd=request; stored"),
                "{directive:?}"
            );
        }
    }

    #[test]
    fn an_invalid_path_id_is_400_naming_id() {
        let (status, body) = call(&Fakes::with_movie(), Method::GET, "/movies/a%2Fb");
        assert_eq!(
            (status, rejected_fields(&body)),
            (StatusCode::BAD_REQUEST, vec!["id".to_owned()]),
            "GET /movies/a%2Fb"
        );
    }

    #[test]
    fn the_book_route_without_an_id_is_400_naming_id() {
        let (status, body) = call(&Fakes::with_movie(), Method::GET, "/movie");
        assert_eq!(
            (status, rejected_fields(&body)),
            (StatusCode::BAD_REQUEST, vec!["id".to_owned()]),
            "GET /movie"
        );
    }

    #[test]
    fn health_is_503_when_the_key_value_store_fails() {
        let fakes = Fakes::with_movie();
        fakes.store_failing.set(true);
        let (status, _) = testing::health(&fakes.controller());
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "GET /health/movie");
    }

    #[test]
    fn every_route_is_in_the_openapi_document_and_nothing_else_is() {
        let fakes = Fakes::default();
        fn check<S: HttpService>(_: &S) {
            testing::assert_routes_documented::<S>(include_str!("../../../docs/openapi.json"));
        }
        check(&fakes.controller());
    }
}
