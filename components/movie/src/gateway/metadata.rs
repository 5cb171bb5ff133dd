//! The metadata service: `GET {metadata_url}/metadata/{id}`, or its gRPC `GetMetadata`.

use super::outbound::Outbound;
use super::request::{call_grpc, get_json};
use crate::cache::entry::Validator;
use crate::config::{BaseUrl, Protocol};
use crate::controller::{Fetched, GatewayError, MetadataGateway};
use crate::model::{MovieId, MovieMetadata};
use movie_proto::{self as proto, paths};
use std::rc::Rc;
use std::time::Duration;

pub struct HttpMetadataGateway {
    base: BaseUrl,
    protocol: Protocol,
    outbound: Rc<Outbound>,
}

impl HttpMetadataGateway {
    pub fn new(base: BaseUrl, protocol: Protocol, outbound: Rc<Outbound>) -> Self {
        Self {
            base,
            protocol,
            outbound,
        }
    }

    /// One attempt, over the configured protocol.
    async fn fetch(
        &self,
        id: &MovieId,
        known: Option<&Validator>,
        timeout: Duration,
    ) -> Result<Fetched<MovieMetadata>, GatewayError> {
        let fetched = match self.protocol {
            Protocol::Json => {
                let url = self.base.join(&format!("/metadata/{id}"));
                get_json::<MovieMetadata>(&url, known, timeout, self.outbound.request_id()).await?
            }
            Protocol::Grpc => {
                let url = self.base.join(paths::GET_METADATA);
                let call = proto::GetMetadataRequest {
                    movie_id: id.as_str().to_owned(),
                };
                match call_grpc::<_, proto::GetMetadataResponse>(
                    &url,
                    &call,
                    timeout,
                    self.outbound.request_id(),
                )
                .await?
                {
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
}

impl MetadataGateway for HttpMetadataGateway {
    async fn metadata(
        &self,
        id: &MovieId,
        known: Option<&Validator>,
        timeout: Duration,
    ) -> Result<Fetched<MovieMetadata>, GatewayError> {
        let attempt = self.fetch(id, known, timeout);
        self.outbound.timed("metadata", attempt).await
    }

    /// Its own health report, `GET {metadata_url}/health/metadata`: healthy when it answers 200.
    async fn healthy(&self, timeout: Duration) -> bool {
        self.outbound.healthy("metadata", &self.base, timeout).await
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
