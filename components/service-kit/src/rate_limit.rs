//! Per-client rate limits on what is expensive (writes; movie views that miss the cache):
//! fixed windows counted in the service's own SQLite database, so every instance of a
//! component, on any node sharing the database, sees the same count.
//!
//! A check is one statement (an upsert returning the new count) on the instance's connection.
//! Transport-free: the HTTP side (who the client is, the `RateLimit` headers, 429) is in
//! [`crate::edge::rate_limit`].

use crate::error_class::{Classify, ErrorClass};
use crate::instance::{ConfigError, variable};
pub use crate::quota::{Decision, RatePolicy};
use crate::storage::StorageFailure;
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;

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
/// client's address, as Spin reports the peer or, behind trusted proxies, as they forwarded it.
/// An IPv6 client is its /64 network: one host is commonly given a whole /64, so a count per
/// address would let it pick a new identity for every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey(String);

impl ClientKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key of a request nothing is counted for (no limits configured).
    pub fn unknown() -> Self {
        Self("unknown".to_owned())
    }

    /// A token's subject, prefixed so that no subject can share a count with an address.
    pub fn subject(subject: &str) -> Self {
        Self(format!("sub:{subject}"))
    }

    /// The client of a request whose connection came from `peer` (the address Spin reports,
    /// `ip:port`), with the `X-Forwarded-For` hops `forwarded`, in the order they were written
    /// (every field line, left to right).
    ///
    /// Each proxy appends the address it saw, so a hop is believed only when the one who wrote
    /// it is a trusted proxy: walking from the peer leftwards, the client is the first address
    /// that is not a trusted proxy (anything further left may be forged), or the last one
    /// reached when every hop is trusted. An unreadable hop stops the walk at the proxy that
    /// wrote it. This is what nginx's `real_ip_recursive on` computes.
    pub fn of<'h>(
        peer: Option<&str>,
        forwarded: impl DoubleEndedIterator<Item = &'h str>,
        trusted: &TrustedProxies,
    ) -> Self {
        let Some(mut client) = peer.and_then(parse_address) else {
            return Self("unknown".into());
        };
        if trusted.contains(&client) {
            for hop in forwarded.rev() {
                let Some(address) = parse_address(hop) else {
                    break;
                };
                client = address;
                if !trusted.contains(&client) {
                    break;
                }
            }
        }
        Self::address(client)
    }

    /// An IPv4 address as itself, an IPv6 address as its /64 network.
    fn address(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self(v4.to_string()),
            IpAddr::V6(v6) => {
                let network = ipnet::Ipv6Net::new(v6, 64).map(|net| net.trunc());
                Self(network.map_or_else(|_| v6.to_string(), |net| net.to_string()))
            }
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `ip`, `ip:port`, `[ipv6]:port` or `[ipv6]`; an IPv4-mapped IPv6 address as the IPv4 one, so
/// one client has one form whichever socket family the listener used.
fn parse_address(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    let address = raw
        .parse::<IpAddr>()
        .ok()
        .or_else(|| raw.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            raw.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse().ok())
        })?;
    Some(address.to_canonical())
}

/// The proxies whose `X-Forwarded-For` is believed: addresses and CIDR ranges (the pods of an
/// ingress controller change addresses, their network does not).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of IP addresses and CIDR ranges (`10.0.0.7`, `10.0.0.0/8`,
    /// `fd00::/8`); `Err` names the first entry that is neither.
    pub fn parse(raw: &str) -> Result<Self, NotAProxy> {
        raw.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let network = entry.parse::<IpNet>().ok().or_else(|| {
                    entry
                        .parse::<IpAddr>()
                        .ok()
                        .map(|address| IpNet::from(address.to_canonical()))
                });
                network
                    .map(|net| net.trunc())
                    .ok_or_else(|| NotAProxy(entry.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn contains(&self, address: &IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(address))
    }
}

/// An entry of `trusted_proxies` that is neither an IP address nor a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR range")]
pub struct NotAProxy(pub String);

/// A component's limits, from its Spin variables `rate_limit_quota` (requests per window, 0 for
/// none), `rate_limit_window_s` and `trusted_proxies` (comma-separated addresses and ranges).
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
    pub async fn for_instance() -> Result<Self, ConfigError> {
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
                .map_err(|_| ConfigError::invalid(name, format!("{raw:?} is not a whole number")))
        };
        let window_s = number("rate_limit_window_s", window_s?)?;
        if window_s == 0 {
            return Err(ConfigError::invalid(
                "rate_limit_window_s",
                "must be at least 1",
            ));
        }
        let limits = Self {
            policy: RatePolicy {
                quota: number("rate_limit_quota", quota?)?,
                window_s,
            },
            trusted: TrustedProxies::parse(&trusted?)
                .map_err(|entry| ConfigError::invalid("trusted_proxies", entry))?,
        };
        LIMITS.with(|cell| cell.replace(Some(limits.clone())));
        Ok(limits)
    }
}

/// Admission of a request whose cost shows only while it runs (movie's view reaches its
/// upstreams only on a miss): the work asks when it knows, and the request is counted then,
/// at most once, as a metered route is counted before it runs. The edge's `Meter` is the one
/// implementation that counts; [`Unmetered`] admits everything.
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Admission {
    /// Counts the request against its client's quota: `Err` when it is over (nothing more is
    /// to be done for it).
    async fn admit(&self) -> Result<(), OverQuota>;
}

/// Admits every request: where nothing is counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unmetered;

impl Admission for Unmetered {
    async fn admit(&self) -> Result<(), OverQuota> {
        Ok(())
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

    /// The client of a request from `peer` whose `X-Forwarded-For` lines are `lines`.
    fn client(peer: &str, lines: &[&str], trusted: &TrustedProxies) -> String {
        let hops = lines.iter().flat_map(|line| line.split(','));
        ClientKey::of(Some(peer), hops, trusted).as_str().to_owned()
    }

    const NONE: &[&str] = &[];

    #[test]
    fn the_client_is_the_peers_address_without_port() {
        let nobody = TrustedProxies::default();
        assert_eq!(client("203.0.113.7:51234", NONE, &nobody), "203.0.113.7");
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_network() {
        let nobody = TrustedProxies::default();
        assert_eq!(
            client("[2001:db8:1:2:aaaa::1]:443", NONE, &nobody),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            client("[2001:db8:1:2:bbbb::9]:443", NONE, &nobody),
            "2001:db8:1:2::/64",
            "another address of the same /64 is the same client"
        );
    }

    #[test]
    fn an_ipv4_mapped_peer_is_the_ipv4_client() {
        let nobody = TrustedProxies::default();
        assert_eq!(
            client("[::ffff:203.0.113.7]:1", NONE, &nobody),
            "203.0.113.7"
        );
    }

    #[test]
    fn forwarded_addresses_from_an_untrusted_peer_are_ignored() {
        let nobody = TrustedProxies::default();
        assert_eq!(
            client("203.0.113.7:1", &["198.51.100.1"], &nobody),
            "203.0.113.7"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_last_untrusted_hop_is_the_client() {
        let key = client(
            "10.0.0.2:1",
            &["6.6.6.6, 198.51.100.1, 10.0.0.1"],
            &trusted("10.0.0.1, 10.0.0.2"),
        );
        assert_eq!(
            key, "198.51.100.1",
            "a forged left-most hop is not believed"
        );
    }

    #[test]
    fn a_trusted_range_covers_every_proxy_address_in_it() {
        let ingress = trusted("10.42.0.0/16");
        assert_eq!(
            client(
                "10.42.7.9:1",
                &["6.6.6.6, 198.51.100.1, 10.42.3.3"],
                &ingress
            ),
            "198.51.100.1"
        );
        assert_eq!(
            client("10.43.0.1:1", &["198.51.100.1"], &ingress),
            "10.43.0.1",
            "a peer outside the range is the client"
        );
    }

    #[test]
    fn a_forged_field_line_before_the_proxys_own_is_not_believed() {
        // The client sent its own X-Forwarded-For line; the proxy appended another.
        let key = client(
            "10.0.0.1:1",
            &["6.6.6.6", "198.51.100.1"],
            &trusted("10.0.0.1"),
        );
        assert_eq!(key, "198.51.100.1");
    }

    #[test]
    fn an_unreadable_hop_makes_the_proxy_that_wrote_it_the_client() {
        let key = client(
            "10.0.0.1:1",
            &["198.51.100.1, unknown, 10.0.0.2"],
            &trusted("10.0.0.0/8"),
        );
        assert_eq!(
            key, "10.0.0.2",
            "nothing left of an unreadable hop is believed"
        );
    }

    #[test]
    fn when_every_hop_is_trusted_the_left_most_one_is_the_client() {
        let key = client(
            "10.0.0.1:1",
            &["10.0.0.9, 10.0.0.2"],
            &trusted("10.0.0.0/8"),
        );
        assert_eq!(key, "10.0.0.9");
    }

    #[test]
    fn a_request_without_peer_address_is_counted_as_unknown() {
        let key = ClientKey::of(None, std::iter::empty(), &TrustedProxies::default());
        assert_eq!(key.as_str(), "unknown");
    }

    #[test]
    fn a_trusted_proxy_list_names_its_first_invalid_entry() {
        assert_eq!(
            TrustedProxies::parse("10.0.0.1, nope"),
            Err(NotAProxy("nope".into()))
        );
        assert_eq!(
            TrustedProxies::parse("10.0.0.0/33"),
            Err(NotAProxy("10.0.0.0/33".into()))
        );
        assert_eq!(TrustedProxies::parse(""), Ok(TrustedProxies::default()));
    }
}
