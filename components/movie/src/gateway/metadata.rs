//! The metadata service: `GET {metadata_url}/metadata/{id}`.

use super::request::{Fetched, get_json};
use crate::config::BaseUrl;
use crate::controller::{GatewayError, MetadataGateway};
use crate::model::{MovieId, MovieMetadata};

pub struct HttpMetadataGateway {
    base: BaseUrl,
}

impl HttpMetadataGateway {
    pub fn new(base: BaseUrl) -> Self {
        Self { base }
    }
}

impl MetadataGateway for HttpMetadataGateway {
    async fn metadata(&self, id: &MovieId) -> Result<Option<MovieMetadata>, GatewayError> {
        let url = self.base.join(&format!("/metadata/{id}"));
        match get_json::<MovieMetadata>(&url).await? {
            Fetched::Found(metadata) if metadata.id == id.as_str() => Ok(Some(metadata)),
            Fetched::Found(metadata) => Err(GatewayError::Malformed(format!(
                "asked for movie {id} and got {}",
                metadata.id
            ))),
            Fetched::NotFound => Ok(None),
        }
    }
}
