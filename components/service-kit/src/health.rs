//! The health report every service answers on its health route.

use crate::respond::{self, HttpResponse};
use http::StatusCode;
use serde::Serialize;

#[derive(Serialize)]
struct Report<'a> {
    service: &'a str,
    status: &'a str,
    checks: Vec<Check<'a>>,
}

#[derive(Serialize)]
struct Check<'a> {
    name: &'a str,
    status: &'a str,
}

/// 200 when every check passed, 503 otherwise, with one entry per check. Failure causes go to
/// the log only: a health endpoint is often public.
pub fn report<E: std::fmt::Display>(
    service: &str,
    checks: &[(&str, Result<(), E>)],
) -> HttpResponse {
    let mut healthy = true;
    let checks = checks
        .iter()
        .map(|(name, outcome)| {
            if let Err(error) = outcome {
                eprintln!("health check {name} of {service} failed: {error}");
                healthy = false;
            }
            Check {
                name,
                status: if outcome.is_ok() { "pass" } else { "fail" },
            }
        })
        .collect();
    let (status, word) = if healthy {
        (StatusCode::OK, "pass")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "fail")
    };
    respond::json(
        status,
        &Report {
            service,
            status: word,
            checks,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failed_check_makes_the_service_unavailable() {
        let response = report("x", &[("a", Ok(())), ("b", Err("down"))]);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            report::<&str>("x", &[("a", Ok(()))]).status(),
            StatusCode::OK
        );
    }
}
