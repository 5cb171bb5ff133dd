//! The standard gRPC health service's messages (`grpc/health/v1/health.proto`), so load
//! balancers and `grpc_health_probe` can ask a service whether it is serving.

/// `grpc.health.v1.HealthCheckRequest`: the service asked about; empty for the server.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    pub service: String,
}

/// `grpc.health.v1.HealthCheckResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckResponse {
    #[prost(enumeration = "ServingStatus", tag = "1")]
    pub status: i32,
}

/// `grpc.health.v1.HealthCheckResponse.ServingStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ServingStatus {
    Unknown = 0,
    Serving = 1,
    NotServing = 2,
    /// Only for `Watch`.
    ServiceUnknown = 3,
}

impl HealthCheckResponse {
    pub fn new(serving: bool) -> Self {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        Self {
            status: status.into(),
        }
    }
}

/// The path of `Check`, and of `Watch` (which this system answers with one message, then ends
/// the stream: a Spin request cannot stay open to push later changes).
pub const CHECK_PATH: &str = "/grpc.health.v1.Health/Check";
pub const WATCH_PATH: &str = "/grpc.health.v1.Health/Watch";
