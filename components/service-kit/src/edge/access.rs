//! The access line: one structured log line per request, written when its response is ready.
//! It names the request (method, path, matched route, request id), what became of it (status,
//! duration, the error's class and cause) and whatever the service adds ([`AccessNotes`]:
//! movie's upstream calls; [`note`]: a route's own fields, such as movie's cache outcome). Headers, query strings and bodies are never logged, so no token
//! or secret can reach the log.

use super::respond::HttpResponse;
use crate::instance::{Stopwatch, millis, now_ms};
use crate::telemetry::{Level, Line, REQUEST_ID, RequestId};
use http::{HeaderMap, Method};
use std::borrow::Cow;

/// The event name of every access line.
pub const HTTP_SERVER_REQUEST: &str = "http.server.request";

/// What a service adds to the access line of a request it served, beyond what the edge knows.
pub trait AccessNotes {
    fn note(&self, line: &mut Line);
}

/// Fields a route adds to its own request's access line, attached to its response (the route
/// knows what the edge cannot: movie's cache outcome). Only the access line reads them.
#[derive(Debug, Clone, Default)]
pub struct AccessFields(Vec<(&'static str, serde_json::Value)>);

/// Adds `key: value` to the access line of the request `response` answers.
pub fn note(response: &mut HttpResponse, key: &'static str, value: impl Into<serde_json::Value>) {
    let extensions = response.extensions_mut();
    if extensions.get::<AccessFields>().is_none() {
        extensions.insert(AccessFields::default());
    }
    if let Some(fields) = extensions.get_mut::<AccessFields>() {
        fields.0.push((key, value.into()));
    }
}

/// A service with nothing to add.
impl AccessNotes for () {
    fn note(&self, _: &mut Line) {}
}

/// Notes shared with what writes them (movie's upstream gateways hold the same `Rc`).
impl<T: AccessNotes + ?Sized> AccessNotes for std::rc::Rc<T> {
    fn note(&self, line: &mut Line) {
        T::note(self, line);
    }
}

/// What the edge remembers of a request from its arrival until its response.
pub(super) struct Arrival {
    stopwatch: Stopwatch,
    at_ms: u64,
    id: RequestId,
    method: Method,
    path: String,
}

/// Why a request failed, taken from its problem before it becomes a response.
pub(super) struct Failure {
    /// The problem's HTTP status: what a gRPC answer (always 200) stood for.
    pub status: u16,
    pub error_type: Cow<'static, str>,
    pub cause: Option<String>,
    pub grpc_code: Option<u8>,
}

impl Arrival {
    pub fn of(method: &Method, path: &str, headers: &HeaderMap) -> Self {
        Self {
            stopwatch: Stopwatch::start(),
            at_ms: now_ms(),
            id: RequestId::of(headers),
            method: method.clone(),
            path: path.to_owned(),
        }
    }

    /// Stamps the response with the request id and writes the access line.
    pub fn finish(
        self,
        service: &str,
        route: Option<&'static str>,
        response: &mut HttpResponse,
        failure: Option<Failure>,
        notes: &impl AccessNotes,
    ) {
        response
            .headers_mut()
            .insert(REQUEST_ID, self.id.header_value());
        let mut line = self.line(service, route, response.status().as_u16(), failure, notes);
        add_noted(&mut line, response);
        line.emit();
    }

    fn line(
        &self,
        service: &str,
        route: Option<&'static str>,
        status: u16,
        failure: Option<Failure>,
        notes: &impl AccessNotes,
    ) -> Line {
        let failed = failure.as_ref().is_some_and(|f| f.status >= 500);
        let level = if status >= 500 || failed {
            Level::Error
        } else {
            Level::Info
        };
        let mut line = Line::at(self.at_ms, level, service, HTTP_SERVER_REQUEST)
            .with("http.request.method", self.method.as_str())
            .with("url.path", self.path.as_str())
            .with("http.response.status_code", status)
            .with("duration_ms", millis(self.stopwatch.elapsed()))
            .with("request.id", self.id.as_str());
        if let Some(route) = route {
            line.set("http.route", route);
        }
        if let Some(failure) = failure {
            line.set("error.type", failure.error_type.into_owned());
            if let Some(cause) = failure.cause {
                line.set("error.message", cause);
            }
            if let Some(code) = failure.grpc_code {
                line.set("rpc.grpc.status_code", code);
            }
        }
        notes.note(&mut line);
        line
    }
}

/// The fields the route [`note`]d on its response.
fn add_noted(line: &mut Line, response: &HttpResponse) {
    if let Some(fields) = response.extensions().get::<AccessFields>() {
        for (key, value) in &fields.0 {
            line.set(key, value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    struct Upstreams;

    impl AccessNotes for Upstreams {
        fn note(&self, line: &mut Line) {
            line.set("upstreams", serde_json::json!([{"service": "rating"}]));
            line.raise(Level::Warn);
        }
    }

    fn arrival() -> Arrival {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, "req-1".parse().unwrap());
        Arrival::of(&Method::GET, "/movies/42", &headers)
    }

    fn failure(
        status: u16,
        error_type: &'static str,
        cause: Option<&str>,
        grpc: Option<u8>,
    ) -> Failure {
        Failure {
            status,
            error_type: error_type.into(),
            cause: cause.map(str::to_owned),
            grpc_code: grpc,
        }
    }

    fn json(line: &Line) -> Value {
        serde_json::from_str(&line.to_json()).unwrap()
    }

    #[test]
    fn a_served_request_is_one_info_line_naming_route_status_and_id() {
        let line = json(&arrival().line("movie", Some("/movies/{id}"), 200, None, &()));
        assert_eq!(line["level"], "info");
        assert_eq!(line["http.request.method"], "GET");
        assert_eq!(line["url.path"], "/movies/42");
        assert_eq!(line["http.route"], "/movies/{id}");
        assert_eq!(line["http.response.status_code"], 200);
        assert_eq!(line["request.id"], "req-1");
        assert!(line["duration_ms"].is_f64(), "duration missing: {line}");
        assert!(
            line.get("error.type").is_none(),
            "no error on a 200: {line}"
        );
    }

    #[test]
    fn a_failed_request_is_an_error_line_with_its_class_and_cause() {
        let failure = failure(500, "internal", Some("disk I/O error"), None);
        let line = json(&arrival().line("movie", None, 500, Some(failure), &()));
        assert_eq!(line["level"], "error");
        assert_eq!(line["error.type"], "internal");
        assert_eq!(line["error.message"], "disk I/O error");
        assert!(
            line.get("http.route").is_none(),
            "no route was matched: {line}"
        );
    }

    #[test]
    fn a_grpc_call_that_failed_on_the_server_is_an_error_line_though_http_says_200() {
        let failure = failure(503, "upstream_unavailable", None, Some(14));
        let line = json(&arrival().line("movie", None, 200, Some(failure), &()));
        assert_eq!(line["level"], "error");
        assert_eq!(line["rpc.grpc.status_code"], 14);
    }

    #[test]
    fn a_client_error_is_info_with_its_status_as_error_type() {
        let failure = failure(404, "404", None, None);
        let line = json(&arrival().line("movie", None, 404, Some(failure), &()));
        assert_eq!(line["level"], "info");
        assert_eq!(line["error.type"], "404");
    }

    #[test]
    fn fields_a_route_noted_on_its_response_join_the_line() {
        let mut response = crate::edge::respond::empty(http::StatusCode::NO_CONTENT);
        note(&mut response, "movie.cache.outcome", "memory_hit");
        let mut line = arrival().line("movie", None, 204, None, &());
        add_noted(&mut line, &response);
        assert_eq!(json(&line)["movie.cache.outcome"], "memory_hit");
    }

    #[test]
    fn the_service_notes_join_the_line_and_may_raise_its_level() {
        let line = json(&arrival().line("movie", Some("/movies/{id}"), 200, None, &Upstreams));
        assert_eq!(line["upstreams"][0]["service"], "rating");
        assert_eq!(line["level"], "warn");
    }
}
