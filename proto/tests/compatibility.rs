//! The book's contract, pinned twice: `movie.proto` must still declare the book's fields
//! (names, numbers, types) and methods, and the Rust messages must encode exactly as that
//! file says. Renumbering or retyping a field anywhere fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use movie_proto::*;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor, Value};

fn pool() -> DescriptorPool {
    let dir = env!("CARGO_MANIFEST_DIR");
    let files = protox::compile(["movie.proto"], [dir]).expect("movie.proto compiles");
    DescriptorPool::from_file_descriptor_set(files).expect("a consistent descriptor set")
}

fn message(pool: &DescriptorPool, name: &str) -> MessageDescriptor {
    pool.get_message_by_name(name)
        .unwrap_or_else(|| panic!("movie.proto declares no message {name}"))
}

/// A field as (name, number, type).
type Field = (&'static str, u32, &'static str);

/// The book's `api/movie.proto`: each message's fields.
const BOOK: &[(&str, &[Field])] = &[
    (
        "Metadata",
        &[
            ("id", 1, "string"),
            ("title", 2, "string"),
            ("description", 3, "string"),
            ("director", 4, "string"),
        ],
    ),
    (
        "MovieDetails",
        &[("rating", 1, "double"), ("metadata", 2, "Metadata")],
    ),
    ("GetMetadataRequest", &[("movie_id", 1, "string")]),
    ("GetMetadataResponse", &[("metadata", 1, "Metadata")]),
    ("PutMetadataRequest", &[("metadata", 1, "Metadata")]),
    ("PutMetadataResponse", &[]),
    (
        "GetAggregatedRatingRequest",
        &[("record_id", 1, "string"), ("record_type", 2, "string")],
    ),
    (
        "GetAggregatedRatingResponse",
        &[("rating_value", 1, "double")],
    ),
    (
        "PutRatingRequest",
        &[
            ("user_id", 1, "string"),
            ("record_id", 2, "string"),
            ("record_type", 3, "string"),
            ("rating_value", 4, "int32"),
        ],
    ),
    ("PutRatingResponse", &[]),
    ("GetMovieDetailsRequest", &[("movie_id", 1, "string")]),
    (
        "GetMovieDetailsResponse",
        &[("movie_details", 1, "MovieDetails")],
    ),
];

fn type_name(kind: &Kind) -> String {
    match kind {
        Kind::String => "string".into(),
        Kind::Double => "double".into(),
        Kind::Int32 => "int32".into(),
        Kind::Message(message) => message.full_name().into(),
        other => format!("{other:?}"),
    }
}

#[test]
fn movie_proto_declares_the_books_fields() {
    let pool = pool();
    for (name, fields) in BOOK {
        let declared: Vec<(String, u32, String)> = message(&pool, name)
            .fields()
            .map(|f| (f.name().to_owned(), f.number(), type_name(&f.kind())))
            .collect();
        let book: Vec<(String, u32, String)> = fields
            .iter()
            .map(|(n, number, t)| ((*n).to_owned(), *number, (*t).to_owned()))
            .collect();
        assert_eq!(declared, book, "message {name} of movie.proto");
    }
}

#[test]
fn movie_proto_has_no_package_and_the_books_methods() {
    let pool = pool();
    let methods: Vec<String> = pool
        .services()
        .flat_map(|service| {
            service
                .methods()
                .map(|m| {
                    format!(
                        "/{}/{}({})->{}",
                        service.full_name(),
                        m.name(),
                        m.input().full_name(),
                        m.output().full_name()
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        methods,
        [
            format!(
                "{}(GetMetadataRequest)->GetMetadataResponse",
                paths::GET_METADATA
            ),
            format!(
                "{}(PutMetadataRequest)->PutMetadataResponse",
                paths::PUT_METADATA
            ),
            format!(
                "{}(GetAggregatedRatingRequest)->GetAggregatedRatingResponse",
                paths::GET_AGGREGATED_RATING
            ),
            format!("{}(PutRatingRequest)->PutRatingResponse", paths::PUT_RATING),
            format!(
                "{}(GetMovieDetailsRequest)->GetMovieDetailsResponse",
                paths::GET_MOVIE_DETAILS
            ),
        ],
        "the services of movie.proto and their paths"
    );
}

/// Encodes `rust` with prost and checks that the descriptor reads back every field as `expected`
/// (field name -> value): the Rust struct uses the file's numbers and wire types.
fn assert_encodes_as_declared(
    pool: &DescriptorPool,
    rust: &impl Message,
    name: &str,
    expected: &[(&str, Value)],
) {
    let descriptor = message(pool, name);
    let decoded = DynamicMessage::decode(descriptor.clone(), rust.encode_to_vec().as_slice())
        .unwrap_or_else(|e| panic!("{name} encoded by Rust is not a {name} of movie.proto: {e}"));
    assert_eq!(
        decoded.unknown_fields().count(),
        0,
        "{name}: Rust sends fields movie.proto does not declare"
    );
    for (field, value) in expected {
        let read = decoded
            .get_field_by_name(field)
            .unwrap_or_else(|| panic!("{name} has no field {field}"));
        assert_eq!(
            read.as_ref(),
            value,
            "{name}.{field} as movie.proto reads it"
        );
    }
    let mut from_file = DynamicMessage::new(descriptor);
    for (field, value) in expected {
        from_file.set_field_by_name(field, value.clone());
    }
    assert_eq!(
        from_file.encode_to_vec(),
        rust.encode_to_vec(),
        "{name}: the file's encoding and Rust's differ"
    );
}

fn text(value: &str) -> Value {
    Value::String(value.into())
}

fn godfather() -> Metadata {
    Metadata {
        id: "tt0068646".into(),
        title: "The Godfather".into(),
        description: "Family business".into(),
        director: "Coppola".into(),
    }
}

#[test]
fn metadata_encodes_as_the_file_declares() {
    assert_encodes_as_declared(
        &pool(),
        &godfather(),
        "Metadata",
        &[
            ("id", text("tt0068646")),
            ("title", text("The Godfather")),
            ("description", text("Family business")),
            ("director", text("Coppola")),
        ],
    );
}

#[test]
fn movie_details_encode_as_the_file_declares() {
    let details = MovieDetails {
        rating: 4.5,
        metadata: Some(godfather()),
    };
    let pool = pool();
    let nested = DynamicMessage::decode(
        message(&pool, "Metadata"),
        godfather().encode_to_vec().as_slice(),
    )
    .unwrap();
    assert_encodes_as_declared(
        &pool,
        &details,
        "MovieDetails",
        &[
            ("rating", Value::F64(4.5)),
            ("metadata", Value::Message(nested)),
        ],
    );
}

#[test]
fn rating_requests_encode_as_the_file_declares() {
    let put = PutRatingRequest {
        user_id: "u1".into(),
        record_id: "tt0068646".into(),
        record_type: "movie".into(),
        rating_value: 5,
    };
    assert_encodes_as_declared(
        &pool(),
        &put,
        "PutRatingRequest",
        &[
            ("user_id", text("u1")),
            ("record_id", text("tt0068646")),
            ("record_type", text("movie")),
            ("rating_value", Value::I32(5)),
        ],
    );
    let get = GetAggregatedRatingRequest {
        record_id: "tt0068646".into(),
        record_type: "movie".into(),
    };
    assert_encodes_as_declared(
        &pool(),
        &get,
        "GetAggregatedRatingRequest",
        &[
            ("record_id", text("tt0068646")),
            ("record_type", text("movie")),
        ],
    );
    assert_encodes_as_declared(
        &pool(),
        &GetAggregatedRatingResponse { rating_value: 4.5 },
        "GetAggregatedRatingResponse",
        &[("rating_value", Value::F64(4.5))],
    );
}

#[test]
fn id_requests_encode_as_the_file_declares() {
    assert_encodes_as_declared(
        &pool(),
        &GetMetadataRequest {
            movie_id: "m1".into(),
        },
        "GetMetadataRequest",
        &[("movie_id", text("m1"))],
    );
    assert_encodes_as_declared(
        &pool(),
        &GetMovieDetailsRequest {
            movie_id: "m1".into(),
        },
        "GetMovieDetailsRequest",
        &[("movie_id", text("m1"))],
    );
}

#[test]
fn wrapping_messages_encode_as_the_file_declares() {
    let pool = pool();
    let metadata = DynamicMessage::decode(
        message(&pool, "Metadata"),
        godfather().encode_to_vec().as_slice(),
    )
    .unwrap();
    for (rust, name) in [
        (
            GetMetadataResponse {
                metadata: Some(godfather()),
            }
            .encode_to_vec(),
            "GetMetadataResponse",
        ),
        (
            PutMetadataRequest {
                metadata: Some(godfather()),
            }
            .encode_to_vec(),
            "PutMetadataRequest",
        ),
    ] {
        let decoded = DynamicMessage::decode(message(&pool, name), rust.as_slice()).unwrap();
        assert_eq!(
            decoded.get_field_by_name("metadata").as_deref(),
            Some(&Value::Message(metadata.clone())),
            "{name}.metadata"
        );
    }
    let details = MovieDetails {
        rating: 3.0,
        metadata: Some(godfather()),
    };
    let response = GetMovieDetailsResponse {
        movie_details: Some(details.clone()),
    };
    let decoded = DynamicMessage::decode(
        message(&pool, "GetMovieDetailsResponse"),
        response.encode_to_vec().as_slice(),
    )
    .unwrap();
    let nested = DynamicMessage::decode(
        message(&pool, "MovieDetails"),
        details.encode_to_vec().as_slice(),
    )
    .unwrap();
    assert_eq!(
        decoded.get_field_by_name("movie_details").as_deref(),
        Some(&Value::Message(nested)),
        "GetMovieDetailsResponse.movie_details"
    );
}

#[test]
fn the_extensions_encode_as_their_versioned_file_declares() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let files = protox::compile(["moviesystem/v1/ratings.proto"], [dir]).expect("ratings.proto");
    let pool = DescriptorPool::from_file_descriptor_set(files).unwrap();
    let service = pool
        .get_service_by_name("moviesystem.v1.RatingExtensions")
        .expect("the RatingExtensions service");
    let method = service.methods().next().expect("a method");
    assert_eq!(
        format!("/{}/{}", service.full_name(), method.name()),
        paths::GET_RATING_SUMMARY
    );
    assert_encodes_as_declared(
        &pool,
        &v1::RatingSummary {
            average: 4.5,
            count: 2,
        },
        "moviesystem.v1.RatingSummary",
        &[("average", Value::F64(4.5)), ("count", Value::U64(2))],
    );
    assert_encodes_as_declared(
        &pool,
        &v1::GetRatingSummaryRequest {
            record_id: "m1".into(),
            record_type: "movie".into(),
        },
        "moviesystem.v1.GetRatingSummaryRequest",
        &[("record_id", text("m1")), ("record_type", text("movie"))],
    );
}

/// `grpc/health/v1/health.proto`, shipped for clients without reflection, declares the
/// protocol movie answers (`service_kit::grpc::health`): the request's `service` is field 1,
/// the response's `status` field 1, `SERVING` 1 and `NOT_SERVING` 2, and `Check` is unary.
#[test]
fn the_shipped_health_proto_is_the_protocol_movie_answers() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let files = protox::compile(["grpc/health/v1/health.proto"], [dir])
        .expect("grpc/health/v1/health.proto compiles");
    let pool = DescriptorPool::from_file_descriptor_set(files).expect("a consistent set");
    let field = |message: &str, name: &str| {
        pool.get_message_by_name(message)
            .and_then(|m| m.get_field_by_name(name))
            .map(|f| f.number())
    };
    assert_eq!(
        field("grpc.health.v1.HealthCheckRequest", "service"),
        Some(1)
    );
    assert_eq!(
        field("grpc.health.v1.HealthCheckResponse", "status"),
        Some(1)
    );
    let status = pool
        .get_enum_by_name("grpc.health.v1.HealthCheckResponse.ServingStatus")
        .expect("ServingStatus");
    let number = |name: &str| status.get_value_by_name(name).map(|v| v.number());
    assert_eq!(
        (number("SERVING"), number("NOT_SERVING")),
        (Some(1), Some(2))
    );
    let check = pool
        .get_service_by_name("grpc.health.v1.Health")
        .and_then(|s| s.methods().find(|m| m.name() == "Check"))
        .expect("Health.Check");
    assert!(
        !check.is_client_streaming() && !check.is_server_streaming(),
        "Check is unary"
    );
}
