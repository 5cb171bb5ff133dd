//! Asynchronous rating ingestion: rating providers publish [`event::RatingEvent`]s, and the
//! ingestion consumer applies them to the ratings database, at least once and idempotently.
//!
//! - [`event`]: the event and its validation (the REST rules).
//! - [`stream`]: the Redis stream protocol: keys, ids, reply parsing.
//! - [`log`]: the log as producers and the consumer use it, on Spin's outbound Redis.
//! - [`batch`]: the rules of applying a batch (duplicates, per-rating order).
//! - [`consumer`]: one wake-up of the consumer.
//!
//! `ARCHITECTURE.md` ("Asynchronous ingestion") explains the design and each failure case.

pub mod batch;
pub mod consumer;
pub mod event;
pub mod log;
pub mod stream;

use consumer::Settings;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use service_kit::instance::{ConfigError, variable};

/// Most events one `POST /ratings/events` may carry (the body is also capped at 64 KiB).
pub const MAX_EVENTS_PER_REQUEST: usize = 500;

/// The event log's address: the component's `redis_url` (`redis://host:port`, what
/// `allowed_outbound_hosts` names), with `redis_user` and `redis_password` in it when they are
/// set (a Valkey ACL user: README "Security"). Read once per instance: variables do not change
/// while an app runs, and each read is a host call.
pub async fn redis_address() -> Result<String, ConfigError> {
    thread_local! {
        static ADDRESS: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    }
    if let Some(address) = ADDRESS.with(|cell| cell.borrow().clone()) {
        return Ok(address);
    }
    let (url, user, password) = futures::join!(
        variable("redis_url"),
        variable("redis_user"),
        variable("redis_password"),
    );
    let address = with_credentials(&url?, &user?, &password?)?;
    ADDRESS.with(|cell| cell.replace(Some(address.clone())));
    Ok(address)
}

/// `url` with `user` and `password` as its userinfo, each percent-encoded; `url` itself when
/// both are empty. Spin checks `allowed_outbound_hosts` against the host and port alone, so the
/// credentials never need to be in the manifest; a `url` that already carries some is refused,
/// since they would end up in an allowed-hosts entry, which Spin cannot parse.
pub fn with_credentials(url: &str, user: &str, password: &str) -> Result<String, ConfigError> {
    if user.is_empty() && password.is_empty() {
        return Ok(url.to_owned());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(ConfigError::invalid(
            "redis_url",
            format!("{url:?} is not a redis:// URL"),
        ));
    };
    if rest
        .split('/')
        .next()
        .is_some_and(|authority| authority.contains('@'))
    {
        return Err(ConfigError::invalid(
            "redis_url",
            "carries credentials: give them in redis_user and redis_password",
        ));
    }
    Ok(format!(
        "{scheme}://{}:{}@{rest}",
        percent_encoded(user),
        percent_encoded(password)
    ))
}

/// Every byte but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
fn percent_encoded(text: &str) -> String {
    const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    utf8_percent_encode(text, RESERVED).to_string()
}

/// The consumer's settings, from its variables (`events_batch_size`, `events_claim_idle_ms`,
/// `events_max_deliveries`).
pub async fn settings() -> Result<Settings, ConfigError> {
    async fn number(name: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
        let raw = variable(name).await?;
        raw.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                ConfigError::invalid(
                    name,
                    format!("must be an integer from {min} to {max}, not {raw:?}"),
                )
            })
    }
    Ok(Settings {
        batch_size: usize::try_from(number("events_batch_size", 1, 2_000).await?)
            .unwrap_or(Settings::default().batch_size),
        claim_idle_ms: number("events_claim_idle_ms", 100, 3_600_000).await?,
        max_deliveries: number("events_max_deliveries", 1, 100).await?,
        ..Settings::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_credentials_the_address_is_the_url() {
        assert_eq!(
            with_credentials("redis://valkey:6379", "", ""),
            Ok("redis://valkey:6379".to_owned())
        );
    }

    #[test]
    fn credentials_go_into_the_userinfo_percent_encoded() {
        assert_eq!(
            with_credentials("redis://valkey:6379", "rating", "p@ss:w/rd"),
            Ok("redis://rating:p%40ss%3Aw%2Frd@valkey:6379".to_owned())
        );
    }

    #[test]
    fn a_url_that_already_carries_credentials_is_refused() {
        let refused = with_credentials("redis://a:b@valkey:6379", "rating", "x").unwrap_err();
        assert!(
            !refused.to_string().contains("a:b"),
            "the message shows the secret: {refused}"
        );
    }
}
