//! The `google.rpc` messages a status carries in `grpc-status-details-bin`: the rich error
//! model clients of Google's APIs already decode (`google/rpc/status.proto`,
//! `error_details.proto`). Field numbers are those files'.

/// `google.rpc.Status`: the code and message again, and typed details.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

/// `google.protobuf.Any`: a message and the URL of its type.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

impl Any {
    /// `message` packed under `type.googleapis.com/{full_name}`.
    pub fn pack(full_name: &str, message: &impl prost::Message) -> Self {
        Self {
            type_url: format!("type.googleapis.com/{full_name}"),
            value: message.encode_to_vec(),
        }
    }
}

/// `google.rpc.BadRequest`: which fields of the request were invalid, and why.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BadRequest {
    #[prost(message, repeated, tag = "1")]
    pub field_violations: Vec<FieldViolation>,
}

impl BadRequest {
    pub const FULL_NAME: &'static str = "google.rpc.BadRequest";
}

/// `google.rpc.BadRequest.FieldViolation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FieldViolation {
    /// The field's path in the request message, e.g. `metadata.title`.
    #[prost(string, tag = "1")]
    pub field: String,
    #[prost(string, tag = "2")]
    pub description: String,
}

/// `google.rpc.RetryInfo`: how long to wait before the same call may succeed.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<Duration>,
}

impl RetryInfo {
    pub const FULL_NAME: &'static str = "google.rpc.RetryInfo";
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Duration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}
