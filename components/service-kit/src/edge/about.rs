//! The ownership data every service serves about itself: its Backstage-style
//! `catalog-info.yaml` (owner, on-call contact, lifecycle, tier, runbook, APIs), built into the
//! component at compile time, so what answers is exactly what was deployed.

use super::problem::Problem;
use super::respond::{self, HttpResponse};
use http::{Method, StatusCode};

/// Where a service serves its catalog entry, and the entry itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct About {
    /// A path inside the service's own routes, such as `/metadata/about`.
    pub path: &'static str,
    /// The service's `catalog-info.yaml`, as `include_str!` read it.
    pub catalog_info: &'static str,
}

/// YAML's media type (RFC 9512).
pub const YAML: &str = "application/yaml";

/// The catalog entry on `GET`; 405 for any other method.
pub fn answer(about: &About, method: &Method) -> Result<HttpResponse, Problem> {
    if method != Method::GET {
        return Err(Problem::method_not_allowed(Method::GET.to_string()));
    }
    Ok(respond::bytes(StatusCode::OK, YAML, about.catalog_info))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABOUT: About = About {
        path: "/things/about",
        catalog_info: "kind: Component\n",
    };

    #[test]
    fn the_entry_is_served_as_yaml_as_built() {
        let response = answer(&ABOUT, &Method::GET).unwrap();
        assert_eq!(response.headers()[http::header::CONTENT_TYPE], YAML);
        assert_eq!(response.body().len(), ABOUT.catalog_info.len());
    }

    #[test]
    fn another_method_is_405() {
        let refused = answer(&ABOUT, &Method::PUT).map_err(|p| p.status());
        assert_eq!(refused.err(), Some(StatusCode::METHOD_NOT_ALLOWED));
    }
}
