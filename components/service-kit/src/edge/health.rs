//! The health report every service answers on `GET /health/{service}`.

use super::respond::{self, HttpResponse};
use http::StatusCode;
use serde::Serialize;
use std::fmt::Display;

/// The outcome of one check of a service's own store or dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    name: &'static str,
    /// Why it failed, for the log only: a health endpoint is often public.
    failure: Option<String>,
}

impl Check {
    pub fn new<E: Display>(name: &'static str, outcome: Result<(), E>) -> Self {
        Self {
            name,
            failure: outcome.err().map(|error| error.to_string()),
        }
    }
}

#[derive(Serialize)]
struct Report<'a> {
    service: &'a str,
    status: &'a str,
    checks: Vec<CheckView<'a>>,
    /// Informational sections (e.g. rating's event pipeline): shown, never a pass or fail.
    #[serde(flatten)]
    details: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct CheckView<'a> {
    name: &'a str,
    status: &'a str,
}

fn word(passed: bool) -> &'static str {
    if passed { "pass" } else { "fail" }
}

/// 200 when every check passed, 503 otherwise, with one entry per check and the service's
/// informational `details` beside them. Failure causes go to the log.
pub fn report(
    service: &str,
    checks: &[Check],
    details: serde_json::Map<String, serde_json::Value>,
) -> HttpResponse {
    for check in checks {
        if let Some(failure) = &check.failure {
            crate::telemetry::warn("health.check_failed")
                .with("health.check", check.name)
                .cause(failure)
                .emit();
        }
    }
    let healthy = checks.iter().all(|check| check.failure.is_none());
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let checks = checks
        .iter()
        .map(|check| CheckView {
            name: check.name,
            status: word(check.failure.is_none()),
        })
        .collect();
    respond::json(
        status,
        &Report {
            service,
            status: word(healthy),
            checks,
            details,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failed_check_makes_the_service_unavailable() {
        let checks = [
            Check::new("a", Ok::<_, &str>(())),
            Check::new("b", Err("down")),
        ];
        assert_eq!(
            report("x", &checks, Default::default()).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn passing_checks_make_the_service_available() {
        let checks = [Check::new("a", Ok::<_, &str>(()))];
        assert_eq!(
            report("x", &checks, Default::default()).status(),
            StatusCode::OK
        );
    }
}
