//! Where the upstreams are: the Spin variables `metadata_url` and `rating_url`.
//!
//! They default to `http://metadata.spin.internal` and `http://rating.spin.internal` (service
//! chaining inside one Spin app); pointing them elsewhere splits the app into separate
//! deployments without a code change. Read once per instance: variables do not change while
//! an app runs, and each read is a host call.

use crate::controller::GatewayError;
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstreams {
    /// Base URL of the metadata service, without a trailing slash.
    pub metadata: String,
    /// Base URL of the rating service, without a trailing slash.
    pub rating: String,
}

impl Upstreams {
    pub fn new(metadata: &str, rating: &str) -> Self {
        Self {
            metadata: metadata.trim_end_matches('/').to_owned(),
            rating: rating.trim_end_matches('/').to_owned(),
        }
    }
}

thread_local! {
    static UPSTREAMS: RefCell<Option<Rc<Upstreams>>> = const { RefCell::new(None) };
}

/// This instance's upstream URLs, read from Spin variables on first use.
pub async fn upstreams() -> Result<Rc<Upstreams>, GatewayError> {
    if let Some(cached) = UPSTREAMS.with(|cell| cell.borrow().clone()) {
        return Ok(cached);
    }
    let (metadata, rating) = futures::join!(variable("metadata_url"), variable("rating_url"));
    let upstreams = Rc::new(Upstreams::new(&metadata?, &rating?));
    UPSTREAMS.with(|cell| cell.replace(Some(Rc::clone(&upstreams))));
    Ok(upstreams)
}

async fn variable(name: &str) -> Result<String, GatewayError> {
    spin_sdk::variables::get(name)
        .await
        .map_err(|error| GatewayError::Configuration(format!("variable {name}: {error:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slashes_are_dropped_from_base_urls() {
        let upstreams = Upstreams::new("http://metadata.spin.internal/", "http://127.0.0.1:9/r//");
        assert_eq!(upstreams.metadata, "http://metadata.spin.internal");
        assert_eq!(upstreams.rating, "http://127.0.0.1:9/r");
    }
}
