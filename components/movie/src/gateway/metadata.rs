//! The metadata service: `GET {metadata_url}/metadata/{id}`.

use super::request::get_json;
use crate::cache::entry::Validator;
use crate::config::BaseUrl;
use crate::controller::{Fetched, GatewayError, MetadataGateway};
use crate::model::{MovieId, MovieMetadata};
use std::time::Duration;

pub struct HttpMetadataGateway {
    base: BaseUrl,
}

impl HttpMetadataGateway {
    pub fn new(base: BaseUrl) -> Self {
        Self { base }
    }
}

impl MetadataGateway for HttpMetadataGateway {
    async fn metadata(
        &self,
        id: &MovieId,
        known: Option<&Validator>,
        timeout: Duration,
    ) -> Result<Fetched<MovieMetadata>, GatewayError> {
        let url = self.base.join(&format!("/metadata/{id}"));
        match get_json::<MovieMetadata>(&url, known, timeout).await? {
            Fetched::Found { value, .. } if value.id != id.as_str() => Err(
                GatewayError::Malformed(format!("asked for movie {id} and got {}", value.id)),
            ),
            fetched => Ok(fetched),
        }
    }
}
