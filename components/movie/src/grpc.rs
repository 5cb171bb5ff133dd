//! The book's `MovieService` over gRPC, the same composed view as `GET /movies/{id}` (cache,
//! retries, breaker and all), and the standard `grpc.health.v1.Health` service for the whole
//! system.
//!
//! Spin routes one path to one component, so one component must own
//! `/grpc.health.v1.Health/...`: movie does, since it already calls the two upstreams. It asks
//! them the way an operator would, through their `/health/{service}` reports, so every
//! answer comes from the same checks as the REST health routes.

use crate::controller::{MovieController, Ports, Served};
use crate::model::MovieId;
use crate::view_headers::{caching_headers, freshness};
use movie_proto::{self as proto, services};
use service_kit::Problem;
use service_kit::edge::{Answer, RequestBody, Routed};
use service_kit::field::one;
use service_kit::grpc::health::{HealthCheckRequest, HealthCheckResponse, ServingStatus};
use service_kit::grpc::{read_message, reply};

/// The extension service rating also serves, which the health service knows too.
const RATING_EXTENSIONS: &str = "moviesystem.v1.RatingExtensions";

/// The gRPC methods, on the same controller as the REST routes.
impl<P: Ports> MovieController<P> {
    /// `GetMovieDetails`: the view's mean rating (0 while unrated or while the rating service is
    /// unavailable; the `movie-degraded` header says which) and its metadata.
    pub async fn get_movie_details<B: RequestBody>(&self, routed: Routed<B>) -> Answer {
        let freshness = freshness(routed.request.headers());
        let call: proto::GetMovieDetailsRequest = read_message(routed.request).await?;
        let id = one("movie_id", MovieId::parse(&call.movie_id))?;
        let served = self.view(&id, freshness, &routed.meter).await?;
        let mut response = reply(&proto::GetMovieDetailsResponse {
            movie_details: Some(details_message(&served)),
        });
        caching_headers(&mut response, &served);
        Ok(response)
    }

    /// `grpc.health.v1.Health/Check` (and `Watch`, answered with the current status as its only
    /// message): `""` is the whole system (all three services serving), then each service by its
    /// gRPC name. An unknown name is `NOT_FOUND` from `Check` and `SERVICE_UNKNOWN` from `Watch`,
    /// as the health protocol says.
    pub async fn health_check<B: RequestBody>(&self, routed: Routed<B>, watch: bool) -> Answer {
        let call: HealthCheckRequest = read_message(routed.request).await?;
        let client = &routed.meter;
        let own = || async { self.health().await.is_ok() };
        let serving = match call.service.as_str() {
            "" => {
                let (own, upstreams) = futures::join!(own(), self.upstreams_healthy(client));
                let (metadata, rating) = upstreams?;
                own && metadata && rating
            }
            services::MOVIE => own().await,
            services::METADATA => self.upstreams_healthy(client).await?.0,
            services::RATING | RATING_EXTENSIONS => self.upstreams_healthy(client).await?.1,
            _ if watch => {
                return Ok(reply(&HealthCheckResponse {
                    status: ServingStatus::ServiceUnknown.into(),
                }));
            }
            other => {
                return Err(Problem::not_found(format!(
                    "the health service knows no service {other:?}"
                )));
            }
        };
        Ok(reply(&HealthCheckResponse::new(serving)))
    }
}

/// The book's `MovieDetails` of a served view.
pub fn details_message(served: &Served) -> proto::MovieDetails {
    let details = &served.view.details;
    let metadata = &details.metadata;
    proto::MovieDetails {
        rating: details.rating.map_or(0.0, |rating| rating.average),
        metadata: Some(proto::Metadata {
            id: metadata.id.clone(),
            title: metadata.title.clone(),
            description: metadata.description.clone(),
            director: metadata.director.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::{GatewayError, UPSTREAM_HEALTH_MEMO_MS};
    use crate::fakes::Fakes;
    use proto::paths;
    use service_kit::edge::NoTokens;
    use service_kit::grpc::health::{CHECK_PATH, WATCH_PATH};
    use service_kit::testing::{GrpcFailure, grpc_call};

    fn details(fakes: &Fakes, id: &str) -> Result<proto::MovieDetails, GrpcFailure> {
        let call = proto::GetMovieDetailsRequest {
            movie_id: id.into(),
        };
        grpc_call::<_, proto::GetMovieDetailsResponse>(
            &fakes.controller(),
            None,
            paths::GET_MOVIE_DETAILS,
            &call,
        )
        .map(|reply| reply.movie_details.unwrap_or_default())
    }

    fn health_of(fakes: &Fakes, path: &str, service: &str) -> Result<i32, GrpcFailure> {
        let call = HealthCheckRequest {
            service: service.into(),
        };
        grpc_call::<_, HealthCheckResponse>(&fakes.controller(), None, path, &call)
            .map(|reply| reply.status)
    }

    #[test]
    fn the_details_are_the_composed_view() {
        let fakes = Fakes::with_movie();
        fakes.rate(4.5, 2);
        let details = details(&fakes, "m1").unwrap();
        assert_eq!(details.rating, 4.5);
        assert_eq!(details.metadata.map(|m| m.id), Some("m1".to_owned()));
    }

    #[test]
    fn an_absent_movie_is_not_found_and_a_bad_id_names_movie_id() {
        let fakes = Fakes::with_movie();
        assert_eq!(details(&fakes, "m2").map_err(|f| f.code), Err(5));
        let failure = details(&fakes, "a b").unwrap_err();
        assert_eq!(
            (failure.code, failure.fields),
            (3, vec!["movie_id".to_owned()])
        );
    }

    #[test]
    fn a_failing_metadata_service_is_unavailable() {
        let fakes = Fakes::with_movie();
        *fakes.metadata_script.failing.borrow_mut() = Some(GatewayError::Status(503));
        assert_eq!(details(&fakes, "m1").map_err(|f| f.code), Err(14));
    }

    #[test]
    fn the_system_is_serving_while_every_service_is() {
        let fakes = Fakes::with_movie();
        for service in ["", "MovieService", "MetadataService", "RatingService"] {
            assert_eq!(
                health_of(&fakes, CHECK_PATH, service),
                Ok(ServingStatus::Serving.into()),
                "Check {service:?}"
            );
        }
    }

    #[test]
    fn a_failing_rating_service_is_not_serving_and_so_is_the_system() {
        let fakes = Fakes::with_movie();
        *fakes.rating_script.failing.borrow_mut() = Some(GatewayError::Status(503));
        for service in ["", "RatingService"] {
            assert_eq!(
                health_of(&fakes, CHECK_PATH, service),
                Ok(ServingStatus::NotServing.into()),
                "Check {service:?}"
            );
        }
        assert_eq!(
            health_of(&fakes, CHECK_PATH, "MetadataService"),
            Ok(ServingStatus::Serving.into())
        );
    }

    type Controller<'a> = MovieController<&'a Fakes>;

    fn check_system(controller: &Controller<'_>) -> Result<i32, GrpcFailure> {
        check_system_through(&service_kit::testing::edge::<Controller<'_>>(), controller)
    }

    fn check_system_through(
        edge: &service_kit::edge::Edge<NoTokens>,
        controller: &Controller<'_>,
    ) -> Result<i32, GrpcFailure> {
        let call = HealthCheckRequest {
            service: String::new(),
        };
        service_kit::testing::grpc_call_through::<_, HealthCheckResponse>(
            edge, controller, None, CHECK_PATH, &call,
        )
        .map(|reply| reply.status)
    }

    #[test]
    fn health_checks_within_a_second_answer_from_one_probe_of_the_upstreams() {
        let fakes = Fakes::with_movie();
        let controller = fakes.controller();
        for _ in 0..5 {
            assert_eq!(check_system(&controller), Ok(ServingStatus::Serving.into()));
        }
        assert_eq!(fakes.health_probes.get(), 2, "one probe of each upstream");
        fakes.advance(std::time::Duration::from_millis(UPSTREAM_HEALTH_MEMO_MS));
        check_system(&controller).unwrap();
        assert_eq!(fakes.health_probes.get(), 4, "a second later, a new probe");
    }

    #[test]
    fn a_health_probe_over_the_clients_quota_is_resource_exhausted_without_asking() {
        let fakes = Fakes::with_movie();
        let controller = fakes.controller();
        let edge = service_kit::testing::limited_edge::<Controller<'_>>(1, 3600);
        check_system_through(&edge, &controller).unwrap();
        fakes.advance(std::time::Duration::from_millis(UPSTREAM_HEALTH_MEMO_MS));
        let refused = check_system_through(&edge, &controller).map_err(|failure| failure.code);
        assert_eq!(
            (refused, fakes.health_probes.get()),
            (Err(8), 2),
            "RESOURCE_EXHAUSTED, and the upstreams asked only once"
        );
    }

    #[test]
    fn an_unknown_service_is_not_found_from_check_and_service_unknown_from_watch() {
        let fakes = Fakes::with_movie();
        assert_eq!(
            health_of(&fakes, CHECK_PATH, "Nope").map_err(|f| f.code),
            Err(5)
        );
        assert_eq!(
            health_of(&fakes, WATCH_PATH, "Nope"),
            Ok(ServingStatus::ServiceUnknown.into())
        );
    }
}
