//! The messages of `movie.proto` (the book's `api/movie.proto`), derived with prost on
//! hand-written structs instead of generated ones: no `protoc` and no build script in any
//! component's build. `tests/compatibility.rs` compiles the `.proto` file and fails if a
//! field here (name, number or type) or there drifts from the book's contract.
//!
//! The file has no package, so the services' paths are `/MetadataService/...`,
//! `/RatingService/...` and `/MovieService/...`, exactly the book's.

/// The gRPC paths of the book's methods.
pub mod paths {
    pub const GET_METADATA: &str = "/MetadataService/GetMetadata";
    pub const PUT_METADATA: &str = "/MetadataService/PutMetadata";
    pub const GET_AGGREGATED_RATING: &str = "/RatingService/GetAggregatedRating";
    pub const PUT_RATING: &str = "/RatingService/PutRating";
    pub const GET_MOVIE_DETAILS: &str = "/MovieService/GetMovieDetails";
    /// `moviesystem/v1/ratings.proto`.
    pub const GET_RATING_SUMMARY: &str = "/moviesystem.v1.RatingExtensions/GetRatingSummary";
    /// Segments under `/metadata/` (and `/movies/`) that name routes, not movies: no movie may
    /// have them as its id, or `GET /metadata/{id}` and movie's call to it would reach the
    /// route instead of the movie.
    pub const RESERVED_MOVIE_IDS: &[&str] = &["export", "import", "about"];
}

/// The gRPC service names, as the health service knows them.
pub mod services {
    pub const METADATA: &str = "MetadataService";
    pub const RATING: &str = "RatingService";
    pub const MOVIE: &str = "MovieService";
}

/// The media type of a protobuf message on the REST routes.
pub const PROTOBUF: &str = "application/x-protobuf";

#[derive(Clone, PartialEq, prost::Message)]
pub struct Metadata {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub title: String,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(string, tag = "4")]
    pub director: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MovieDetails {
    #[prost(double, tag = "1")]
    pub rating: f64,
    #[prost(message, optional, tag = "2")]
    pub metadata: Option<Metadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetMetadataRequest {
    #[prost(string, tag = "1")]
    pub movie_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetMetadataResponse {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<Metadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PutMetadataRequest {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<Metadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PutMetadataResponse {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetAggregatedRatingRequest {
    #[prost(string, tag = "1")]
    pub record_id: String,
    #[prost(string, tag = "2")]
    pub record_type: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetAggregatedRatingResponse {
    #[prost(double, tag = "1")]
    pub rating_value: f64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRatingRequest {
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(string, tag = "2")]
    pub record_id: String,
    #[prost(string, tag = "3")]
    pub record_type: String,
    #[prost(int32, tag = "4")]
    pub rating_value: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRatingResponse {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetMovieDetailsRequest {
    #[prost(string, tag = "1")]
    pub movie_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetMovieDetailsResponse {
    #[prost(message, optional, tag = "1")]
    pub movie_details: Option<MovieDetails>,
}

/// `moviesystem/v1/ratings.proto`: this system's extensions of the book's contract.
pub mod v1 {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GetRatingSummaryRequest {
        #[prost(string, tag = "1")]
        pub record_id: String,
        #[prost(string, tag = "2")]
        pub record_type: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RatingSummary {
        #[prost(double, tag = "1")]
        pub average: f64,
        #[prost(uint64, tag = "2")]
        pub count: u64,
    }
}
