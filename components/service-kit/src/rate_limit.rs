//! Per-client rate limits on what is expensive (writes; movie views that miss the cache):
//! fixed windows counted in the service's own SQLite database, so every instance of a
//! component, on any node sharing the database, sees the same count.
//!
//! A check is one statement (an upsert returning the new count) on the instance's connection.
//! Transport-free: the HTTP side (who the client is, the `RateLimit` headers, 429) is in
//! [`crate::edge::rate_limit`].

use crate::error_class::{Classify, ErrorClass};
use crate::instance::variable;
use crate::storage::StorageFailure;
use std::fmt;
use std::net::IpAddr;

/// A quota of requests per window of `window_s` seconds. A quota of 0 switches limiting off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    pub quota: u32,
    pub window_s: u32,
}

impl RatePolicy {
    pub const OFF: Self = Self {
        quota: 0,
        window_s: 60,
    };

    pub fn is_off(&self) -> bool {
        self.quota == 0
    }

    /// The window `now_s` (seconds since the epoch) falls in.
    pub fn window(&self, now_s: u64) -> u64 {
        now_s / u64::from(self.window_s.max(1))
    }

    /// What the `count`th request of its window at `now_s` is allowed.
    pub fn decide(&self, count: u32, now_s: u64) -> Decision {
        let window_s = u64::from(self.window_s.max(1));
        let reset_s = u32::try_from(window_s - now_s % window_s).unwrap_or(u32::MAX);
        Decision {
            policy: *self,
            allowed: count <= self.quota,
            remaining: self.quota.saturating_sub(count),
            reset_s,
        }
    }
}

/// The outcome of one check, with what the client is told about its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub policy: RatePolicy,
    pub allowed: bool,
    /// Requests left in this window.
    pub remaining: u32,
    /// Seconds until the window ends and the quota is whole again (at least 1).
    pub reset_s: u32,
}

/// A request refused because its client used up the quota; nothing was done.
#[derive(Debug, thiserror::Error)]
#[error("client {client} is over its quota of {} per {} s", decision.policy.quota, decision.policy.window_s)]
pub struct OverQuota {
    pub client: ClientKey,
    pub decision: Decision,
}

impl Classify for OverQuota {
    fn class(&self) -> ErrorClass {
        ErrorClass::RateLimited(self.decision)
    }
}

/// Who a request is counted against: the authenticated subject of its token, or else the
/// client's IP address, as Spin reports the peer or, behind trusted proxies, as they forwarded
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey(String);

impl ClientKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A token's subject, prefixed so that no subject can share a count with an address.
    pub fn subject(subject: &str) -> Self {
        Self(format!("sub:{subject}"))
    }

    /// The client of a request from `peer` (Spin's `spin-client-addr`, `ip:port`) with
    /// `forwarded_for` (`X-Forwarded-For`): the peer, unless it is a trusted proxy; then the
    /// right-most forwarded address that is not a trusted proxy (each proxy appends the
    /// address it saw, so anything left of the last untrusted hop may be forged).
    pub fn of(peer: Option<&str>, forwarded_for: Option<&str>, trusted: &TrustedProxies) -> Self {
        let Some(peer) = peer.and_then(parse_address) else {
            return Self("unknown".into());
        };
        if !trusted.contains(&peer) {
            return Self(peer.to_string());
        }
        let forwarded = forwarded_for
            .unwrap_or_default()
            .rsplit(',')
            .filter_map(parse_address)
            .find(|hop| !trusted.contains(hop));
        Self(forwarded.unwrap_or(peer).to_string())
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `ip`, `ip:port`, `[ipv6]:port` or `[ipv6]`.
fn parse_address(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    raw.parse::<IpAddr>()
        .ok()
        .or_else(|| raw.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            raw.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse().ok())
        })
}

/// The proxies whose `X-Forwarded-For` is believed: exact addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpAddr>);

impl TrustedProxies {
    /// A comma-separated list of IP addresses; `Err` names the first that is not one.
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| entry.parse().map_err(|_| entry.to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn contains(&self, address: &IpAddr) -> bool {
        self.0.contains(address)
    }
}

/// A component's limits, from its Spin variables `rate_limit_quota` (requests per window, 0 for
/// none), `rate_limit_window_s` and `trusted_proxies` (comma-separated addresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub policy: RatePolicy,
    pub trusted: TrustedProxies,
}

impl Limits {
    pub const OFF: Self = Self {
        policy: RatePolicy::OFF,
        trusted: TrustedProxies(Vec::new()),
    };

    /// This instance's limits, read on first use (variables do not change while an app runs,
    /// and each read is a host call). `Err` says which variable is wrong and why.
    pub async fn for_instance() -> Result<Self, String> {
        thread_local! {
            static LIMITS: std::cell::RefCell<Option<Limits>> = const { std::cell::RefCell::new(None) };
        }
        if let Some(limits) = LIMITS.with(|cell| cell.borrow().clone()) {
            return Ok(limits);
        }
        let (quota, window_s, trusted) = futures::join!(
            variable("rate_limit_quota"),
            variable("rate_limit_window_s"),
            variable("trusted_proxies"),
        );
        let number = |name: &str, raw: String| {
            raw.trim()
                .parse::<u32>()
                .map_err(|_| format!("variable {name} = {raw:?} is not a whole number"))
        };
        let window_s = number("rate_limit_window_s", window_s?)?;
        if window_s == 0 {
            return Err("variable rate_limit_window_s must be at least 1".into());
        }
        let limits = Self {
            policy: RatePolicy {
                quota: number("rate_limit_quota", quota?)?,
                window_s,
            },
            trusted: TrustedProxies::parse(&trusted?).map_err(|entry| {
                format!("variable trusted_proxies: {entry:?} is not an IP address")
            })?,
        };
        LIMITS.with(|cell| cell.replace(Some(limits.clone())));
        Ok(limits)
    }
}

/// One fixed-window count per client, one row each, in the service's database. The window
/// restarts the count in the same statement, so no row ever needs a separate reset.
pub const COUNTS_TABLE: &str = "CREATE TABLE request_counts (
    client TEXT PRIMARY KEY,
    window INTEGER NOT NULL,
    count INTEGER NOT NULL
) WITHOUT ROWID";

/// Counts one request of `client` (`?1`) in `window` (`?2`) and returns the window's count.
pub const COUNT_REQUEST: &str =
    "INSERT INTO request_counts (client, window, count) VALUES (?, ?, 1)
    ON CONFLICT (client) DO UPDATE SET
        count = CASE WHEN window = excluded.window THEN count + 1 ELSE 1 END,
        window = excluded.window
    RETURNING count";

/// Drops the rows of clients not seen in the current or the previous window (`?1`: the
/// previous window), so the table holds only recent clients. Run once per instance.
pub const FORGET_OLD_CLIENTS: &str = "DELETE FROM request_counts WHERE window < ?";

/// Where a service counts its clients' metered requests: its SQLite database
/// ([`crate::sqlite::SharedConnection`]) or, in unit tests, [`MemoryCounts`].
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait RequestCounter {
    /// Counts one request of `client` against `policy` at `now_s`.
    async fn count_request(
        &self,
        client: &ClientKey,
        policy: &RatePolicy,
        now_s: u64,
    ) -> Result<Decision, StorageFailure>;
}

impl<T: RequestCounter> RequestCounter for std::rc::Rc<T> {
    async fn count_request(
        &self,
        client: &ClientKey,
        policy: &RatePolicy,
        now_s: u64,
    ) -> Result<Decision, StorageFailure> {
        T::count_request(self, client, policy, now_s).await
    }
}

impl RequestCounter for MemoryCounts {
    async fn count_request(
        &self,
        client: &ClientKey,
        policy: &RatePolicy,
        now_s: u64,
    ) -> Result<Decision, StorageFailure> {
        Ok(self.count(client, policy, now_s))
    }
}

/// Counts in memory, as the SQLite table does: for the in-memory repositories of unit tests.
#[derive(Debug, Default)]
pub struct MemoryCounts(std::cell::RefCell<std::collections::HashMap<String, (u64, u32)>>);

impl MemoryCounts {
    pub fn count(&self, client: &ClientKey, policy: &RatePolicy, now_s: u64) -> Decision {
        let window = policy.window(now_s);
        let mut counts = self.0.borrow_mut();
        let entry = counts
            .entry(client.as_str().to_owned())
            .or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        policy.decide(entry.1, now_s)
    }
}

/// The wall clock in whole seconds since the epoch, for windows shared by every instance.
pub fn now_s() -> u64 {
    crate::instance::now_ms() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RatePolicy = RatePolicy {
        quota: 3,
        window_s: 60,
    };

    fn trusted(raw: &str) -> TrustedProxies {
        TrustedProxies::parse(raw).unwrap()
    }

    #[test]
    fn requests_up_to_the_quota_are_allowed_and_count_down() {
        let third = POLICY.decide(3, 120);
        assert_eq!((third.allowed, third.remaining), (true, 0));
        let fourth = POLICY.decide(4, 120);
        assert_eq!((fourth.allowed, fourth.remaining), (false, 0));
    }

    #[test]
    fn reset_is_the_time_left_in_the_window() {
        assert_eq!(POLICY.decide(1, 120).reset_s, 60);
        assert_eq!(POLICY.decide(1, 179).reset_s, 1);
        assert_eq!(POLICY.window(179), 2);
        assert_eq!(POLICY.window(180), 3);
    }

    #[test]
    fn the_client_is_the_peers_address_without_port() {
        let key = ClientKey::of(Some("203.0.113.7:51234"), None, &TrustedProxies::default());
        assert_eq!(key.as_str(), "203.0.113.7");
        let v6 = ClientKey::of(Some("[2001:db8::1]:443"), None, &TrustedProxies::default());
        assert_eq!(v6.as_str(), "2001:db8::1");
    }

    #[test]
    fn forwarded_addresses_from_an_untrusted_peer_are_ignored() {
        let key = ClientKey::of(
            Some("203.0.113.7:1"),
            Some("198.51.100.1"),
            &TrustedProxies::default(),
        );
        assert_eq!(key.as_str(), "203.0.113.7");
    }

    #[test]
    fn behind_trusted_proxies_the_last_untrusted_hop_is_the_client() {
        let key = ClientKey::of(
            Some("10.0.0.2:1"),
            Some("6.6.6.6, 198.51.100.1, 10.0.0.1"),
            &trusted("10.0.0.1, 10.0.0.2"),
        );
        assert_eq!(
            key.as_str(),
            "198.51.100.1",
            "a forged left-most hop is not believed"
        );
    }

    #[test]
    fn a_request_without_peer_address_is_counted_as_unknown() {
        let key = ClientKey::of(None, None, &TrustedProxies::default());
        assert_eq!(key.as_str(), "unknown");
    }

    #[test]
    fn a_trusted_proxy_list_names_its_first_invalid_entry() {
        assert_eq!(TrustedProxies::parse("10.0.0.1, nope"), Err("nope".into()));
        assert_eq!(TrustedProxies::parse(""), Ok(TrustedProxies::default()));
    }
}
