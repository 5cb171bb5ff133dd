//! The movie service's configuration, all from Spin variables: where the upstreams are
//! (`metadata_url`, `rating_url`) and how it caches and calls them ([`Settings`]).
//!
//! The URLs default to `http://metadata.spin.internal` and `http://rating.spin.internal`
//! (service chaining inside one Spin app); pointing them elsewhere splits the app into separate
//! deployments without a code change. The entry point reads every variable once per instance
//! (variables do not change while an app runs, and each read is a host call).

use crate::cache::Ttl;
use crate::reliability::breaker::BreakerPolicy;
use crate::reliability::retry::RetryPolicy;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

/// Why the upstreams could not be configured. Our fault, never the client's.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Spin could not give a variable.
    #[error(transparent)]
    Variable(#[from] service_kit::instance::ConfigError),
    #[error("variable {name} = {value:?} is not a whole number{unit}")]
    InvalidNumber {
        name: &'static str,
        value: String,
        unit: &'static str,
    },
    #[error("variable {name} = {value:?} is not one of {choices}")]
    InvalidChoice {
        name: &'static str,
        value: String,
        choices: &'static str,
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
    /// `upstream_protocol`: how both upstreams are called.
    pub protocol: Protocol,
}

/// How the movie service talks to its upstreams: REST with JSON (the default, which
/// revalidates cached views with ETags), or the book's gRPC methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Json,
    Grpc,
}

impl Protocol {
    pub fn parse(name: &'static str, raw: &str) -> Result<Self, ConfigError> {
        match raw.trim() {
            "json" => Ok(Self::Json),
            "grpc" => Ok(Self::Grpc),
            other => Err(ConfigError::InvalidChoice {
                name,
                value: other.to_owned(),
                choices: "json or grpc",
            }),
        }
    }
}

/// How views are cached and upstreams called. Defaults are in `spin.toml` and README's
/// reliability section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The instance-memory level (`cache_memory_fresh_ms`, `cache_memory_stale_ms`).
    pub memory: Ttl,
    /// The key-value level (`cache_store_fresh_ms`, `cache_store_stale_ms`).
    pub store: Ttl,
    /// `upstream_attempts`, `upstream_timeout_ms`, `retry_backoff_ms`.
    pub retry: RetryPolicy,
    /// The whole request's time for upstream calls and backoff (`request_budget_ms`).
    pub budget: Duration,
    /// `breaker_failures`, `breaker_cooldown_ms`.
    pub breaker: BreakerPolicy,
}

/// Everything the movie service is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub upstreams: Upstreams,
    pub settings: Settings,
}

thread_local! {
    static CONFIG: RefCell<Option<Config>> = const { RefCell::new(None) };
}

impl Config {
    /// This instance's configuration, read from Spin variables on first use. Instances are
    /// single-threaded, so a thread-local is an instance-local.
    pub async fn for_instance() -> Result<Self, ConfigError> {
        if let Some(cached) = CONFIG.with(|cell| cell.borrow().clone()) {
            return Ok(cached);
        }
        let (metadata, rating, protocol) = futures::join!(
            url("metadata_url"),
            url("rating_url"),
            variable("upstream_protocol")
        );
        let (memory_fresh, memory_stale, store_fresh, store_stale, timeout) = futures::join!(
            millis("cache_memory_fresh_ms"),
            millis("cache_memory_stale_ms"),
            millis("cache_store_fresh_ms"),
            millis("cache_store_stale_ms"),
            millis("upstream_timeout_ms"),
        );
        let (budget, attempts, backoff, failures, cooldown) = futures::join!(
            millis("request_budget_ms"),
            count("upstream_attempts"),
            millis("retry_backoff_ms"),
            count("breaker_failures"),
            millis("breaker_cooldown_ms"),
        );
        let config = Self {
            upstreams: Upstreams {
                metadata: metadata?,
                rating: rating?,
                protocol: Protocol::parse("upstream_protocol", &protocol?)?,
            },
            settings: Settings {
                memory: Ttl {
                    fresh: memory_fresh?,
                    stale: memory_stale?,
                },
                store: Ttl {
                    fresh: store_fresh?,
                    stale: store_stale?,
                },
                retry: RetryPolicy {
                    attempts: attempts?,
                    attempt_timeout: timeout?,
                    backoff_base: backoff?,
                },
                budget: budget?,
                breaker: BreakerPolicy {
                    failures: failures?,
                    cooldown: cooldown?,
                },
            },
        };
        CONFIG.with(|cell| cell.replace(Some(config.clone())));
        Ok(config)
    }
}

async fn variable(name: &'static str) -> Result<String, ConfigError> {
    Ok(service_kit::instance::variable(name).await?)
}

async fn url(name: &'static str) -> Result<BaseUrl, ConfigError> {
    BaseUrl::parse(name, &variable(name).await?)
}

async fn millis(name: &'static str) -> Result<Duration, ConfigError> {
    parse_millis(name, &variable(name).await?)
}

async fn count(name: &'static str) -> Result<u32, ConfigError> {
    parse_count(name, &variable(name).await?)
}

/// A duration given in whole milliseconds.
pub fn parse_millis(name: &'static str, raw: &str) -> Result<Duration, ConfigError> {
    raw.trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| ConfigError::InvalidNumber {
            name,
            value: raw.to_owned(),
            unit: " of milliseconds",
        })
}

/// A count of at least 1.
pub fn parse_count(name: &'static str, raw: &str) -> Result<u32, ConfigError> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| ConfigError::InvalidNumber {
            name,
            value: raw.to_owned(),
            unit: " of at least 1",
        })
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
    fn durations_are_whole_milliseconds() {
        assert_eq!(
            parse_millis("x", " 250 ").ok(),
            Some(Duration::from_millis(250))
        );
        let error = parse_millis("upstream_timeout_ms", "0.5s").unwrap_err();
        assert!(error.to_string().contains("upstream_timeout_ms"), "{error}");
    }

    #[test]
    fn a_count_must_be_at_least_one() {
        assert_eq!(parse_count("x", "3").ok(), Some(3));
        assert!(parse_count("upstream_attempts", "0").is_err());
        assert!(parse_count("upstream_attempts", "-1").is_err());
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
