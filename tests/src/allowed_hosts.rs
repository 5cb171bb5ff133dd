//! `allowed_outbound_hosts`: which URLs a component may request, after templates are rendered.

use anyhow::{anyhow, bail, ensure};
use http::Uri;

/// One rendered entry, e.g. `http://metadata.spin.internal`, `https://*.example.com:8443`,
/// `*://localhost:*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: Option<String>,
    host: HostPattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.suffix`: any host ending in `.suffix`.
    Subdomain(String),
}

impl AllowedHost {
    /// Parses an entry as Spin does: a scheme is required, a path is not allowed, and a
    /// missing port means the scheme's default port.
    pub fn parse(entry: &str) -> anyhow::Result<Self> {
        let (scheme, rest) = entry
            .split_once("://")
            .ok_or_else(|| anyhow!("allowed host {entry:?} has no scheme"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        ensure!(
            !rest.contains('/'),
            "allowed host {entry:?} must not have a path"
        );
        let scheme = (scheme != "*").then(|| scheme.to_ascii_lowercase());
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, "*")) => (host, None),
            Some((host, port)) => (
                host,
                Some(
                    port.parse::<u16>()
                        .map_err(|_| anyhow!("bad port in {entry:?}"))?,
                ),
            ),
            None => {
                let default = scheme.as_deref().and_then(default_port);
                let Some(default) = default else {
                    bail!("allowed host {entry:?} needs a port for its scheme");
                };
                (rest, Some(default))
            }
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            HostPattern::Subdomain(suffix.to_owned())
        } else {
            HostPattern::Exact(host)
        };
        Ok(Self { scheme, host, port })
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let scheme_ok = self.scheme.as_deref().is_none_or(|s| s == scheme);
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(exact) => exact == host,
            HostPattern::Subdomain(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1),
        };
        scheme_ok && host_ok && self.port.is_none_or(|p| p == port)
    }
}

/// The port an address or entry without one means, for the schemes Spin knows.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "redis" | "rediss" => Some(6379),
        _ => None,
    }
}

/// A component's rendered allow list.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Vec<AllowedHost>);

impl AllowedHosts {
    pub fn parse(entries: &[String]) -> anyhow::Result<Self> {
        entries
            .iter()
            .map(|e| AllowedHost::parse(e))
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    /// Whether a request to `uri` may leave the component. Nothing is implicitly allowed:
    /// not loopback, not `self`, not `*.spin.internal` (`docs/spin-facts.md`).
    pub fn allows(&self, uri: &Uri) -> bool {
        let Some(scheme) = uri.scheme_str() else {
            return false;
        };
        let Some(host) = uri.host() else { return false };
        let scheme = scheme.to_ascii_lowercase();
        let Some(port) = uri.port_u16().or_else(|| default_port(&scheme)) else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        self.0
            .iter()
            .any(|allowed| allowed.allows(&scheme, &host, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entries: &[&str], uri: &str) -> bool {
        let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        AllowedHosts::parse(&entries)
            .unwrap()
            .allows(&uri.parse().unwrap())
    }

    #[test]
    fn an_exact_entry_allows_its_default_port_only() {
        assert!(allows(
            &["http://metadata.spin.internal"],
            "http://metadata.spin.internal/metadata/1"
        ));
        assert!(!allows(
            &["http://metadata.spin.internal"],
            "http://metadata.spin.internal:8080/"
        ));
        assert!(!allows(
            &["http://metadata.spin.internal"],
            "https://metadata.spin.internal/"
        ));
        assert!(!allows(
            &["http://metadata.spin.internal"],
            "http://rating.spin.internal/"
        ));
    }

    #[test]
    fn wildcards_cover_subdomains_ports_and_schemes() {
        assert!(allows(
            &["http://*.spin.internal"],
            "http://rating.spin.internal/x"
        ));
        assert!(!allows(
            &["http://*.spin.internal"],
            "http://spin.internal/x"
        ));
        assert!(allows(&["http://127.0.0.1:*"], "http://127.0.0.1:41234/x"));
        assert!(allows(&["*://example.com:443"], "https://example.com/"));
    }

    #[test]
    fn a_redis_entry_without_a_port_means_6379() {
        assert!(allows(&["redis://127.0.0.1"], "redis://127.0.0.1:6379"));
        assert!(allows(
            &["redis://127.0.0.1:6380"],
            "redis://127.0.0.1:6380"
        ));
        assert!(!allows(&["redis://127.0.0.1"], "redis://127.0.0.1:6380"));
        assert!(!allows(
            &["http://127.0.0.1:6379"],
            "redis://127.0.0.1:6379"
        ));
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        assert!(!allows(&[], "http://127.0.0.1:80/"));
        assert!(!allows(&[], "http://metadata.spin.internal/"));
    }

    #[test]
    fn entries_need_a_scheme_and_no_path() {
        assert!(AllowedHost::parse("example.com").is_err());
        assert!(AllowedHost::parse("http://example.com/api").is_err());
        assert!(AllowedHost::parse("http://example.com/").is_ok());
    }
}
