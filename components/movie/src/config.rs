//! Where the upstreams are: the Spin variables `metadata_url` and `rating_url`.
//!
//! They default to `http://metadata.spin.internal` and `http://rating.spin.internal` (service
//! chaining inside one Spin app); pointing them elsewhere splits the app into separate
//! deployments without a code change. The entry point reads them once per instance (variables
//! do not change while an app runs, and each read is a host call) and hands each gateway its
//! base URL.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// Why the upstreams could not be configured. Our fault, never the client's.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading variable {name}: {source}")]
    Variable {
        name: &'static str,
        source: spin_sdk::variables::Error,
    },
    #[error("variable {name} = {value:?} is not an http(s) base URL: {reason}")]
    InvalidUrl {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// An http or https URL with a host, without a trailing slash: a path appended to it with a
/// leading `/` is a valid URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(Rc<str>);

impl BaseUrl {
    pub fn parse(name: &'static str, raw: &str) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::InvalidUrl {
            name,
            value: raw.to_owned(),
            reason,
        };
        let trimmed = raw.trim_end_matches('/');
        let uri: http::Uri = trimmed.parse().map_err(|_| invalid("unparsable"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(invalid("the scheme must be http or https"));
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("there is no host"));
        }
        if uri.query().is_some() {
            return Err(invalid("a base URL has no query"));
        }
        Ok(Self(trimmed.into()))
    }

    /// The URL of `path` (which starts with `/`) below this base.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstreams {
    pub metadata: BaseUrl,
    pub rating: BaseUrl,
}

thread_local! {
    static UPSTREAMS: RefCell<Option<Upstreams>> = const { RefCell::new(None) };
}

impl Upstreams {
    /// This instance's upstreams, read from Spin variables on first use. Instances are
    /// single-threaded, so a thread-local is an instance-local.
    pub async fn for_instance() -> Result<Self, ConfigError> {
        if let Some(cached) = UPSTREAMS.with(|cell| cell.borrow().clone()) {
            return Ok(cached);
        }
        let (metadata, rating) = futures::join!(variable("metadata_url"), variable("rating_url"));
        let upstreams = Self {
            metadata: metadata?,
            rating: rating?,
        };
        UPSTREAMS.with(|cell| cell.replace(Some(upstreams.clone())));
        Ok(upstreams)
    }
}

async fn variable(name: &'static str) -> Result<BaseUrl, ConfigError> {
    let value = spin_sdk::variables::get(name)
        .await
        .map_err(|source| ConfigError::Variable { name, source })?;
    BaseUrl::parse(name, &value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slashes_are_dropped_from_a_base_url() {
        let base = BaseUrl::parse("x", "http://127.0.0.1:9/r//").unwrap();
        assert_eq!(base.join("/ratings"), "http://127.0.0.1:9/r/ratings");
    }

    #[test]
    fn a_service_chaining_url_is_a_base_url() {
        let base = BaseUrl::parse("x", "http://metadata.spin.internal").unwrap();
        assert_eq!(base.to_string(), "http://metadata.spin.internal");
    }

    #[test]
    fn a_url_without_http_scheme_or_host_is_rejected_naming_the_variable() {
        for raw in [
            "metadata.spin.internal",
            "ftp://h",
            "http://",
            "",
            "http://h/?q=1",
        ] {
            let error = BaseUrl::parse("metadata_url", raw).unwrap_err();
            assert!(
                error.to_string().contains("metadata_url"),
                "{raw:?}: {error}"
            );
        }
    }
}
