//! HTTP routing as Spin does it: `routefinder` (the matcher Spin uses) over the manifest's
//! routes, exact routes before wildcards, the longest prefix first, private routes left out;
//! plus the `spin-*` headers a component receives.

use crate::manifest::{Manifest, RouteDecl};
use anyhow::anyhow;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::BTreeMap;
use std::net::SocketAddr;

#[derive(Debug, Clone)]
struct Handler {
    component: String,
    /// The route as written, e.g. `/metadata/...`.
    raw_route: String,
    /// The route with the application base in front.
    based_route: String,
}

pub struct Router {
    base: String,
    routes: routefinder::Router<Handler>,
}

/// The outcome of routing one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub component: String,
    pub based_route: String,
    pub raw_route: String,
    pub path_info: String,
    pub named: BTreeMap<String, String>,
    pub base: String,
}

impl Router {
    pub fn build(manifest: &Manifest) -> anyhow::Result<Self> {
        let base = manifest
            .application
            .trigger
            .http
            .as_ref()
            .and_then(|h| h.base.clone())
            .unwrap_or_else(|| "/".to_owned());
        let mut routes = routefinder::Router::new();
        for trigger in &manifest.trigger.http {
            let RouteDecl::Path(raw_route) = &trigger.route else {
                continue;
            };
            let based_route = with_base(&base, raw_route);
            let spec = match based_route.strip_suffix("/...") {
                Some(prefix) => format!("{prefix}/*"),
                None => based_route.clone(),
            };
            let handler = Handler {
                component: trigger.component.clone(),
                raw_route: raw_route.clone(),
                based_route,
            };
            routes
                .add(spec.as_str(), handler)
                .map_err(|e| anyhow!("route {raw_route}: {e}"))?;
        }
        Ok(Self { base, routes })
    }

    /// The component for `path`, or `None` (Spin then answers 404 with an empty body).
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let found = self.routes.best_match(path)?;
        let handler = found.handler();
        let captures = found.captures();
        let path_info = match (captures.wildcard(), path.ends_with('/')) {
            (None, _) => String::new(),
            // Spin keeps the trailing slash routefinder drops.
            (Some(""), false) => String::new(),
            (Some(""), true) => "/".to_owned(),
            (Some(rest), false) => format!("/{rest}"),
            (Some(rest), true) => format!("/{rest}/"),
        };
        let named = captures
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Some(RouteMatch {
            component: handler.component.clone(),
            based_route: handler.based_route.clone(),
            raw_route: handler.raw_route.clone(),
            path_info,
            named,
            base: self.base.clone(),
        })
    }
}

impl RouteMatch {
    /// What Spin builds for a service-chaining request to `<component>.spin.internal`: the
    /// component is chosen by host name, as if under the route `/...`.
    pub fn chained(component: &str, path: &str) -> Self {
        Self {
            component: component.to_owned(),
            based_route: "/...".to_owned(),
            raw_route: "/...".to_owned(),
            path_info: path.to_owned(),
            named: BTreeMap::new(),
            base: "/".to_owned(),
        }
    }

    /// Adds the `spin-*` headers Spin sets on the request the component sees. Spin appends
    /// them after the client's own headers and removes nothing (its WASI executor rebuilds the
    /// header map as the request's headers followed by its own), so a client that sends
    /// `spin-client-addr` makes the component see two values, Spin's last.
    pub fn set_spin_headers(&self, headers: &mut HeaderMap, full_url: &str, client: SocketAddr) {
        let component_route = self
            .raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route);
        let mut set = |name: &str, value: &str| {
            if let (Ok(name), Ok(value)) =
                (HeaderName::try_from(name), HeaderValue::try_from(value))
            {
                headers.append(name, value);
            }
        };
        set("spin-full-url", full_url);
        set("spin-path-info", &self.path_info);
        set("spin-matched-route", &self.based_route);
        set("spin-base-path", &self.base);
        set("spin-raw-component-route", &self.raw_route);
        set("spin-component-route", component_route);
        set("spin-client-addr", &client.to_string());
        for (name, value) in &self.named {
            set(&format!("spin-path-match-{name}"), value);
        }
    }
}

fn with_base(base: &str, route: &str) -> String {
    let base = base.strip_suffix('/').unwrap_or(base);
    let route = if route.starts_with('/') {
        route.to_owned()
    } else {
        format!("/{route}")
    };
    let route = route.strip_suffix('/').map(str::to_owned).unwrap_or(route);
    format!("{base}{route}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let mut text = String::from("spin_manifest_version = 2\n[application]\nname = \"t\"\n");
        for (route, component) in routes {
            text.push_str(&format!(
                "[[trigger.http]]\nroute = \"{route}\"\ncomponent = \"{component}\"\n"
            ));
        }
        for component in ["a", "b", "c"] {
            text.push_str(&format!("[component.{component}]\nsource = \"x.wasm\"\n"));
        }
        text.push_str("[[trigger.http]]\nroute = { private = true }\ncomponent = \"c\"\n");
        Router::build(&Manifest::parse(&text).unwrap()).unwrap()
    }

    fn component(router: &Router, path: &str) -> Option<String> {
        router.route(path).map(|m| m.component)
    }

    #[test]
    fn a_wildcard_matches_its_prefix_itself_and_everything_below() {
        let r = router(&[("/d/...", "a")]);
        assert_eq!(r.route("/d").map(|m| m.path_info), Some(String::new()));
        assert_eq!(
            r.route("/d/foo/bar").map(|m| m.path_info),
            Some("/foo/bar".to_owned())
        );
        assert_eq!(
            r.route("/d/foo/").map(|m| m.path_info),
            Some("/foo/".to_owned())
        );
        assert_eq!(component(&r, "/dx"), None);
    }

    #[test]
    fn exact_beats_wildcard_and_longer_prefixes_win() {
        let r = router(&[("/d/...", "a"), ("/d/exact", "b"), ("/d/deeper/...", "c")]);
        assert_eq!(component(&r, "/d/exact"), Some("b".into()));
        assert_eq!(component(&r, "/d/other"), Some("a".into()));
        assert_eq!(component(&r, "/d/deeper/x"), Some("c".into()));
    }

    #[test]
    fn named_segments_are_captured() {
        let r = router(&[("/m/:id/x/...", "a")]);
        let found = r.route("/m/42/x/rest").unwrap();
        assert_eq!(found.named.get("id").map(String::as_str), Some("42"));
        assert_eq!(found.path_info, "/rest");
    }

    #[test]
    fn private_routes_are_not_routable_and_unknown_paths_match_nothing() {
        let r = router(&[("/a", "a")]);
        assert_eq!(component(&r, "/"), None);
        assert_eq!(component(&r, "/c"), None);
    }

    #[test]
    fn spin_headers_come_after_the_clients_own() {
        let r = router(&[("/d/...", "a")]);
        let mut headers = HeaderMap::new();
        headers.insert(
            "spin-client-addr",
            HeaderValue::from_static("203.0.113.9:1"),
        );
        let client: SocketAddr = "127.0.0.1:44728".parse().unwrap();
        r.route("/d/x")
            .unwrap()
            .set_spin_headers(&mut headers, "http://h/d/x", client);
        let values: Vec<_> = headers
            .get_all("spin-client-addr")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(values, ["203.0.113.9:1", "127.0.0.1:44728"]);
    }

    #[test]
    fn spin_headers_follow_the_observed_values() {
        let r = router(&[("/d/...", "a")]);
        let mut headers = HeaderMap::new();
        let client: SocketAddr = "127.0.0.1:44728".parse().unwrap();
        r.route("/d/foo/bar").unwrap().set_spin_headers(
            &mut headers,
            "http://127.0.0.1:3777/d/foo/bar?q=1",
            client,
        );
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(get("spin-path-info").as_deref(), Some("/foo/bar"));
        assert_eq!(get("spin-matched-route").as_deref(), Some("/d/..."));
        assert_eq!(get("spin-base-path").as_deref(), Some("/"));
        assert_eq!(get("spin-raw-component-route").as_deref(), Some("/d/..."));
        assert_eq!(get("spin-component-route").as_deref(), Some("/d"));
        assert_eq!(get("spin-client-addr").as_deref(), Some("127.0.0.1:44728"));
        assert_eq!(
            get("spin-full-url").as_deref(),
            Some("http://127.0.0.1:3777/d/foo/bar?q=1")
        );
    }
}
