//! The metadata service: `GET {metadata_url}/metadata/{id}`.

use super::request::{Fetched, get_json};
use crate::config::upstreams;
use crate::controller::{GatewayError, MetadataGateway};
use crate::model::{MovieId, MovieMetadata};

/// Resolves the upstream URL on first use (see [`crate::config`]).
pub struct HttpMetadataGateway;

impl MetadataGateway for HttpMetadataGateway {
    async fn metadata(&self, id: &MovieId) -> Result<Option<MovieMetadata>, GatewayError> {
        let url = format!("{}/metadata/{}", upstreams().await?.metadata, id.as_str());
        match get_json::<MovieMetadata>(&url).await? {
            Fetched::Found(metadata) if metadata.id == id.as_str() => Ok(Some(metadata)),
            Fetched::Found(metadata) => Err(GatewayError::Malformed(format!(
                "asked for movie {} and got {}",
                id.as_str(),
                metadata.id
            ))),
            Fetched::NotFound => Ok(None),
        }
    }
}
