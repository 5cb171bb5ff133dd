//! The book's integration scenario over gRPC, with tonic over h2c against the app served by
//! the test host as `spin up` serves it, and every error status a client can meet, with its
//! code and message (sent as headers then trailers, which is what reaches clients under Spin).

use crate::common::{self, MovieSystem};
use movie_proto::{self as proto, paths};
use spin_test_host::AppOptions;
use spin_test_host::movie_system::{editor_token, token};
use tonic::{Code, Status};

/// One unary call with tonic to `path` on `url`, with `token` as its bearer credentials.
pub(crate) async fn call<Q, A>(
    url: &str,
    path: &'static str,
    message: Q,
    token: Option<&str>,
) -> Result<A, Status>
where
    Q: prost::Message + Send + Sync + 'static,
    A: prost::Message + Default + Send + Sync + 'static,
{
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .expect("a URL")
        .connect()
        .await
        .expect("h2c connection to the test host");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("the channel is ready");
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().expect("a metadata value");
        request.metadata_mut().insert("authorization", value);
    }
    let codec = tonic_prost::ProstCodec::<Q, A>::default();
    let path = http::uri::PathAndQuery::from_static(path);
    grpc.unary(request, path, codec)
        .await
        .map(tonic::Response::into_inner)
}

fn godfather() -> proto::Metadata {
    proto::Metadata {
        id: "tt0068646".into(),
        title: "The Godfather".into(),
        description: "The aging patriarch of an organized crime dynasty".into(),
        director: "Francis Ford Coppola".into(),
    }
}

async fn put_metadata(
    url: &str,
    metadata: proto::Metadata,
    token: Option<&str>,
) -> Result<(), Status> {
    let put = proto::PutMetadataRequest {
        metadata: Some(metadata),
    };
    call::<_, proto::PutMetadataResponse>(url, paths::PUT_METADATA, put, token)
        .await
        .map(drop)
}

async fn put_rating(url: &str, user: &str, value: i32, token: Option<&str>) -> Result<(), Status> {
    let put = proto::PutRatingRequest {
        user_id: user.into(),
        record_id: "tt0068646".into(),
        record_type: "movie".into(),
        rating_value: value,
    };
    call::<_, proto::PutRatingResponse>(url, paths::PUT_RATING, put, token)
        .await
        .map(drop)
}

async fn movie_details(url: &str, id: &str) -> Result<proto::MovieDetails, Status> {
    let get = proto::GetMovieDetailsRequest {
        movie_id: id.into(),
    };
    call::<_, proto::GetMovieDetailsResponse>(url, paths::GET_MOVIE_DETAILS, get, None)
        .await
        .map(|reply| reply.movie_details.unwrap_or_default())
}

fn assert_status<T: std::fmt::Debug>(
    outcome: Result<T, Status>,
    code: Code,
    words: &str,
    call: &str,
) {
    match outcome {
        Err(status) => assert!(
            status.code() == code && status.message().contains(words),
            "{call}: expected {code:?} with {words:?}, got {:?}: {:?}",
            status.code(),
            status.message()
        ),
        Ok(reply) => panic!("{call}: expected {code:?}, got the reply {reply:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_books_scenario_runs_over_grpc() {
    let system = common::movie_system();
    let server = system.app.serve().await.expect("serving the app");
    let url = server.url();
    let editor = editor_token();
    put_metadata(&url, godfather(), Some(&editor))
        .await
        .expect("PutMetadata");
    let get = proto::GetMetadataRequest {
        movie_id: "tt0068646".into(),
    };
    let got = call::<_, proto::GetMetadataResponse>(&url, paths::GET_METADATA, get, None).await;
    assert_eq!(
        got.map(|r| r.metadata).map_err(|s| s.to_string()),
        Ok(Some(godfather())),
        "GetMetadata after PutMetadata"
    );
    put_rating(&url, "alice", 5, Some(&token("alice", "ratings:write")))
        .await
        .expect("PutRating as alice");
    put_rating(&url, "bob", 4, Some(&token("bob", "ratings:write")))
        .await
        .expect("PutRating as bob");
    let get = proto::GetAggregatedRatingRequest {
        record_id: "tt0068646".into(),
        record_type: "movie".into(),
    };
    let aggregate = call::<_, proto::GetAggregatedRatingResponse>(
        &url,
        paths::GET_AGGREGATED_RATING,
        get,
        None,
    )
    .await;
    assert_eq!(
        aggregate.map(|r| r.rating_value).map_err(|s| s.to_string()),
        Ok(4.5),
        "GetAggregatedRating"
    );
    let details = movie_details(&url, "tt0068646")
        .await
        .expect("GetMovieDetails");
    assert_eq!(
        (details.rating, details.metadata),
        (4.5, Some(godfather())),
        "GetMovieDetails"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_status_reaches_a_grpc_client_with_its_message() {
    let system = common::movie_system();
    let server = system.app.serve().await.expect("serving the app");
    let url = server.url();
    let editor = editor_token();
    let get = |id: &str| proto::GetMetadataRequest {
        movie_id: id.into(),
    };
    assert_status(
        call::<_, proto::GetMetadataResponse>(&url, paths::GET_METADATA, get("nope"), None).await,
        Code::NotFound,
        "nope",
        "GetMetadata of an absent movie",
    );
    assert_status(
        call::<_, proto::GetMetadataResponse>(&url, paths::GET_METADATA, get("a b"), None).await,
        Code::InvalidArgument,
        "movie_id",
        "GetMetadata of an invalid id",
    );
    let blank = proto::Metadata {
        title: " ".into(),
        ..godfather()
    };
    assert_status(
        put_metadata(&url, blank, Some(&editor)).await,
        Code::InvalidArgument,
        "metadata.title",
        "PutMetadata with a blank title",
    );
    assert_status(
        put_metadata(&url, godfather(), None).await,
        Code::Unauthenticated,
        "bearer token",
        "PutMetadata without a token",
    );
    assert_status(
        put_rating(&url, "bob", 5, Some(&token("alice", "ratings:write"))).await,
        Code::PermissionDenied,
        "bob",
        "PutRating for another user",
    );
    assert_status(
        movie_details(&url, "zz").await,
        Code::NotFound,
        "zz",
        "GetMovieDetails of an absent movie",
    );
    let get = proto::GetMetadataRequest::default();
    assert_status(
        call::<_, proto::GetMetadataResponse>(&url, "/MetadataService/ListMetadata", get, None)
            .await,
        Code::Unimplemented,
        "ListMetadata",
        "an unknown method",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_upstream_is_unavailable_to_a_grpc_client() {
    let system: MovieSystem = common::movie_system_with(AppOptions {
        variables: [("metadata_url".to_owned(), crate::common::stub::dead_url())].into(),
        ..AppOptions::default()
    });
    let server = system.app.serve().await.expect("serving the app");
    assert_status(
        movie_details(&server.url(), "tt0068646").await,
        Code::Unavailable,
        "metadata",
        "GetMovieDetails with metadata unreachable",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn movie_composes_its_view_over_grpc_upstreams_when_told_to() {
    let system = common::movie_system_with(AppOptions {
        variables: [("upstream_protocol".to_owned(), "grpc".to_owned())].into(),
        ..AppOptions::default()
    });
    let server = system.app.serve().await.expect("serving the app");
    let url = server.url();
    put_metadata(&url, godfather(), Some(&editor_token()))
        .await
        .expect("PutMetadata");
    put_rating(&url, "alice", 3, Some(&token("alice", "ratings:write")))
        .await
        .expect("PutRating");
    let view = system
        .app
        .request(http::Method::GET, "/movies/tt0068646", None)
        .await
        .unwrap();
    assert_eq!(
        (
            view.json()["rating"].as_f64(),
            view.json()["ratingCount"].as_u64()
        ),
        (Some(3.0), Some(1)),
        "GET /movies/tt0068646 composed over gRPC: {}",
        view.json()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_health_service_answers_for_the_system_and_each_service() {
    use service_kit::grpc::health::{
        CHECK_PATH, HealthCheckRequest, HealthCheckResponse, ServingStatus,
    };
    let system = common::movie_system();
    let server = system.app.serve().await.expect("serving the app");
    for service in ["", "MetadataService", "RatingService", "MovieService"] {
        let check = HealthCheckRequest {
            service: service.into(),
        };
        let status = call::<_, HealthCheckResponse>(&server.url(), CHECK_PATH, check, None).await;
        assert_eq!(
            status.map(|s| s.status).map_err(|s| s.to_string()),
            Ok(ServingStatus::Serving.into()),
            "Check {service:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_health_service_reports_a_dead_upstream_as_not_serving() {
    use service_kit::grpc::health::{
        CHECK_PATH, HealthCheckRequest, HealthCheckResponse, ServingStatus,
    };
    let system = common::movie_system_with(AppOptions {
        variables: [("metadata_url".to_owned(), crate::common::stub::dead_url())].into(),
        ..AppOptions::default()
    });
    let server = system.app.serve().await.expect("serving the app");
    for (service, expected) in [
        ("", ServingStatus::NotServing),
        ("MetadataService", ServingStatus::NotServing),
        ("RatingService", ServingStatus::Serving),
    ] {
        let check = HealthCheckRequest {
            service: service.into(),
        };
        let status = call::<_, HealthCheckResponse>(&server.url(), CHECK_PATH, check, None).await;
        assert_eq!(
            status.map(|s| s.status).map_err(|s| s.to_string()),
            Ok(expected.into()),
            "Check {service:?} with metadata unreachable"
        );
    }
}

/// Sends raw bytes as an editor's gRPC request in process; answers the status and message
/// trailers.
async fn raw_call(system: &MovieSystem, path: &str, body: Vec<u8>) -> (String, String) {
    let request = http::Request::post(path)
        .header("content-type", "application/grpc")
        .header("authorization", format!("Bearer {}", editor_token()))
        .body(bytes::Bytes::from(body))
        .unwrap();
    let response = system.app.send(request).await.unwrap();
    let trailer = |name| response.trailer(name).unwrap_or_default().to_owned();
    (trailer("grpc-status"), trailer("grpc-message"))
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_frames_are_refused_with_their_status_and_change_nothing() {
    let system = common::movie_system();
    let put = paths::PUT_METADATA;
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "a frame declaring 4 GiB",
            vec![0, 0xff, 0xff, 0xff, 0xff, 1, 2],
            "3",
        ),
        ("a truncated prefix", vec![0, 0], "3"),
        ("a compressed message", vec![1, 0, 0, 0, 0], "12"),
        (
            "a body over 64 KiB",
            [vec![0, 0, 1, 0, 0], vec![0x0a; 65_536]].concat(),
            "8",
        ),
    ];
    for (what, body, code) in cases {
        let (status, message) = raw_call(&system, put, body).await;
        assert_eq!(status, code, "PutMetadata with {what}: {message}");
    }
    let get = system
        .app
        .request(http::Method::GET, "/metadata?limit=100", None)
        .await
        .unwrap();
    assert_eq!(get.json()["items"], serde_json::json!([]), "nothing stored");
}
