//! The metadata service: `GET {metadata_url}/metadata/{id}`, or its gRPC `GetMetadata`.

use super::request::{call_grpc, get_json};
use crate::cache::entry::Validator;
use crate::config::{BaseUrl, Protocol};
use crate::controller::{Fetched, GatewayError, MetadataGateway};
use crate::model::{MovieId, MovieMetadata};
use movie_proto::{self as proto, paths};
use std::time::Duration;

pub struct HttpMetadataGateway {
    base: BaseUrl,
    protocol: Protocol,
}

impl HttpMetadataGateway {
    pub fn new(base: BaseUrl, protocol: Protocol) -> Self {
        Self { base, protocol }
    }
}

impl MetadataGateway for HttpMetadataGateway {
    async fn metadata(
        &self,
        id: &MovieId,
        known: Option<&Validator>,
        timeout: Duration,
    ) -> Result<Fetched<MovieMetadata>, GatewayError> {
        let fetched = match self.protocol {
            Protocol::Json => {
                let url = self.base.join(&format!("/metadata/{id}"));
                get_json::<MovieMetadata>(&url, known, timeout).await?
            }
            Protocol::Grpc => {
                let url = self.base.join(paths::GET_METADATA);
                let call = proto::GetMetadataRequest {
                    movie_id: id.as_str().to_owned(),
                };
                match call_grpc::<_, proto::GetMetadataResponse>(&url, &call, timeout).await? {
                    Fetched::Found { value, tag } => Fetched::Found {
                        value: from_message(value.metadata.unwrap_or_default()),
                        tag,
                    },
                    Fetched::Absent => Fetched::Absent,
                    Fetched::NotModified => Fetched::NotModified,
                }
            }
        };
        match fetched {
            Fetched::Found { value, .. } if value.id != id.as_str() => Err(
                GatewayError::Malformed(format!("asked for movie {id} and got {}", value.id)),
            ),
            fetched => Ok(fetched),
        }
    }

    /// Its own health report, `GET {metadata_url}/health/metadata`: healthy when it answers 200.
    async fn healthy(&self, timeout: Duration) -> bool {
        let url = self.base.join("/health/metadata");
        let report = get_json::<serde_json::Value>(&url, None, timeout).await;
        matches!(report, Ok(Fetched::Found { .. }))
    }
}

fn from_message(message: proto::Metadata) -> MovieMetadata {
    MovieMetadata {
        id: message.id,
        title: message.title,
        description: message.description,
        director: message.director,
    }
}
