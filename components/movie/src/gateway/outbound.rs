//! What the outbound calls of one inbound request share: the request id they forward, so the
//! upstreams' access lines carry the id of the view they served, and the record of every call
//! (which upstream, how long, what came of it), for movie's own access line.

use super::request::get_json;
use crate::config::BaseUrl;
use crate::controller::{Fetched, GatewayError};
use service_kit::edge::AccessNotes;
use service_kit::instance::{Stopwatch, millis};
use service_kit::telemetry::{Level, Line, RequestId};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// Shared by the gateways of one request (they run concurrently on one task, hence `Rc`).
#[derive(Debug, Default)]
pub struct Outbound {
    request_id: Option<RequestId>,
    calls: RefCell<Vec<Call>>,
}

/// One attempt at one upstream.
#[derive(Debug, Clone)]
pub struct Call {
    pub upstream: &'static str,
    pub duration: Duration,
    /// `found`, `not_modified` or `absent`; else the failure.
    pub outcome: Result<&'static str, GatewayError>,
}

impl Outbound {
    pub fn new(request_id: RequestId) -> Rc<Self> {
        Rc::new(Self {
            request_id: Some(request_id),
            calls: RefCell::default(),
        })
    }

    /// The id every outbound request carries in `x-request-id`.
    pub fn request_id(&self) -> Option<&RequestId> {
        self.request_id.as_ref()
    }

    /// Runs one attempt at `upstream`, recording how long it took and what came of it.
    pub async fn timed<T>(
        &self,
        upstream: &'static str,
        attempt: impl Future<Output = Result<Fetched<T>, GatewayError>>,
    ) -> Result<Fetched<T>, GatewayError> {
        let stopwatch = Stopwatch::start();
        let result = attempt.await;
        let outcome = match &result {
            Ok(Fetched::Found { .. }) => Ok("found"),
            Ok(Fetched::NotModified) => Ok("not_modified"),
            Ok(Fetched::Absent) => Ok("absent"),
            Err(error) => Err(error.clone()),
        };
        self.calls.borrow_mut().push(Call {
            upstream,
            duration: stopwatch.elapsed(),
            outcome,
        });
        result
    }

    /// Whether `upstream` reports itself healthy: `GET {base}/health/{upstream}` answers 200
    /// within `timeout`. One attempt, recorded like the others.
    pub async fn healthy(&self, upstream: &'static str, base: &BaseUrl, timeout: Duration) -> bool {
        let url = base.join(&format!("/health/{upstream}"));
        let attempt = get_json::<serde_json::Value>(&url, None, timeout, self.request_id());
        let report = self.timed(upstream, attempt).await;
        matches!(report, Ok(Fetched::Found { .. }))
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }
}

/// The calls as the access line's `upstreams` array, and `upstream.failed`: the upstreams
/// whose last attempt failed, comma-separated, so the view went without them (a 2xx with it is a degraded or
/// stale view; the collector counts those). A failed call makes the line a warning, even when
/// a retry saved the response.
impl AccessNotes for Outbound {
    fn note(&self, line: &mut Line) {
        let calls = self.calls.borrow();
        if calls.is_empty() {
            return;
        }
        let entries: Vec<serde_json::Value> = calls.iter().map(entry).collect();
        line.set("upstreams", entries);
        let mut failed: Vec<&str> = Vec::new();
        for call in calls.iter() {
            failed.retain(|upstream| *upstream != call.upstream);
            if call.outcome.is_err() {
                failed.push(call.upstream);
            }
        }
        if !failed.is_empty() {
            // One string (`rating`, `metadata,rating`), so that it can be a metric's label.
            line.set("upstream.failed", failed.join(","));
        }
        if calls.iter().any(|call| call.outcome.is_err()) {
            line.raise(Level::Warn);
        }
    }
}

fn entry(call: &Call) -> serde_json::Value {
    let (outcome, message) = match &call.outcome {
        Ok(outcome) => (*outcome, None),
        Err(error) => (error.kind(), Some(error.to_string())),
    };
    let mut entry = serde_json::Map::new();
    entry.insert("service".into(), call.upstream.into());
    entry.insert("duration_ms".into(), millis(call.duration).into());
    entry.insert("outcome".into(), outcome.into());
    if let Some(message) = message {
        entry.insert("error.message".into(), message.into());
    }
    entry.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_after(outcomes: Vec<Result<Fetched<()>, GatewayError>>) -> serde_json::Value {
        let outbound = Outbound::new(RequestId::parse("r1").unwrap());
        for outcome in outcomes {
            let _ = futures::executor::block_on(outbound.timed("rating", async { outcome }));
        }
        let mut line = Line::at(0, Level::Info, "movie", "http.server.request");
        outbound.note(&mut line);
        serde_json::from_str(&line.to_json()).unwrap()
    }

    #[test]
    fn each_attempt_is_listed_with_its_outcome() {
        let line = line_after(vec![
            Err(GatewayError::Status(503)),
            Ok(Fetched::Found {
                value: (),
                tag: None,
            }),
        ]);
        let upstreams = line["upstreams"].as_array().unwrap();
        assert_eq!(upstreams.len(), 2, "{line}");
        assert_eq!(upstreams[0]["service"], "rating");
        assert_eq!(upstreams[0]["outcome"], "status");
        assert_eq!(upstreams[0]["error.message"], "unexpected status 503");
        assert_eq!(upstreams[1]["outcome"], "found");
        assert!(upstreams[1]["duration_ms"].is_f64());
        assert!(
            line.get("upstream.failed").is_none(),
            "a retry that succeeded leaves nothing failed: {line}"
        );
    }

    #[test]
    fn an_upstream_whose_last_attempt_failed_is_named_failed() {
        let line = line_after(vec![
            Err(GatewayError::Status(503)),
            Err(GatewayError::Status(503)),
        ]);
        assert_eq!(line["upstream.failed"], "rating");
    }

    #[test]
    fn a_failed_attempt_makes_the_line_a_warning() {
        let line = line_after(vec![Err(GatewayError::TimedOut)]);
        assert_eq!(line["level"], "warn");
        assert_eq!(line["upstreams"][0]["outcome"], "timeout");
    }

    #[test]
    fn answered_calls_leave_the_level_alone() {
        let line = line_after(vec![Ok(Fetched::Absent)]);
        assert_eq!(line["level"], "info");
    }

    #[test]
    fn without_calls_the_line_has_no_upstreams() {
        let line = line_after(vec![]);
        assert!(line.get("upstreams").is_none(), "{line}");
    }
}
