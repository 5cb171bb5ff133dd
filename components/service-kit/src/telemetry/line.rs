//! One log line: a flat JSON object whose keys follow OpenTelemetry's semantic conventions
//! where one exists (`service.name`, `http.route`, `error.type`, ...), with no message text to
//! parse: what happened is `event.name`, and every fact is a field of its own.

use serde_json::{Map, Value};
#[cfg(target_arch = "wasm32")]
use std::io::Write;

/// How much an operator should care. `info` is business as usual; `warn` is a request served
/// worse than it should have been (a degraded view, a client error the service caused itself
/// is never one); `error` is a request the service failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// A log line under construction.
#[derive(Debug, Clone)]
pub struct Line {
    fields: Map<String, Value>,
}

impl Line {
    /// A line of `service` about `event`, stamped with the wall clock (RFC 3339, UTC, ms).
    pub fn new(level: Level, service: &str, event: &'static str) -> Self {
        Self::at(crate::instance::now_ms(), level, service, event)
    }

    /// A line stamped `at_ms` (milliseconds since the epoch).
    pub fn at(at_ms: u64, level: Level, service: &str, event: &'static str) -> Self {
        let timestamp = crate::instance::rfc3339(i64::try_from(at_ms).unwrap_or(i64::MAX));
        let mut fields = Map::new();
        fields.insert("timestamp".into(), timestamp.into());
        fields.insert("level".into(), level.as_str().into());
        fields.insert("service.name".into(), service.into());
        fields.insert("event.name".into(), event.into());
        Self { fields }
    }

    /// The line with `key` set to `value` (replacing an earlier value).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.set(key, value);
        self
    }

    /// The line with the error that caused it, as `error.message`.
    pub fn cause(self, cause: impl std::fmt::Display) -> Self {
        self.with("error.message", cause.to_string())
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.fields.insert(key.to_owned(), value.into());
    }

    /// The line's level, raised to `level` if that is more severe.
    pub fn raise(&mut self, level: Level) {
        if level > self.level() {
            self.set("level", level.as_str());
        }
    }

    pub fn level(&self) -> Level {
        match self.fields.get("level").and_then(Value::as_str) {
            Some("error") => Level::Error,
            Some("warn") => Level::Warn,
            _ => Level::Info,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// The line as one line of JSON (strings are escaped, so no field can break it).
    pub fn to_json(&self) -> String {
        // A map of JSON values always serialises; serialising it in place spares a copy.
        serde_json::to_string(&self.fields).unwrap_or_default()
    }

    /// Writes the line to stdout. A failed write is dropped: `println!` would panic, and a
    /// panic ends every request on the instance.
    pub fn emit(&self) {
        let mut text = self.to_json();
        text.push('\n');
        #[cfg(target_arch = "wasm32")]
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        // Native builds are unit tests, whose harness captures only `print!`.
        #[cfg(not(target_arch = "wasm32"))]
        print!("{text}");
    }
}

/// A `warn` line of this component about `event`: for what a request survived (a cache that
/// could not be written, a counter that could not count) and its access line does not show.
pub fn warn(event: &'static str) -> Line {
    Line::new(Level::Warn, super::component(), event)
}

/// An `error` line of this component about `event`: for failures outside any request's
/// access line (a misconfigured instance, a consumer's batch).
pub fn error(event: &'static str) -> Line {
    Line::new(Level::Error, super::component(), event)
}

/// An `info` line of this component about `event`.
pub fn info(event: &'static str) -> Line {
    Line::new(Level::Info, super::component(), event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_carries_its_timestamp_level_service_and_event() {
        let line = Line::at(
            1_700_000_000_123,
            Level::Info,
            "movie",
            "http.server.request",
        );
        let json: Value = serde_json::from_str(&line.to_json()).unwrap();
        assert_eq!(json["timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(json["level"], "info");
        assert_eq!(json["service.name"], "movie");
        assert_eq!(json["event.name"], "http.server.request");
    }

    #[test]
    fn a_value_with_newlines_and_quotes_stays_on_one_line() {
        let line = Line::at(0, Level::Warn, "rating", "x").with("error.message", "a\"\nb");
        let text = line.to_json();
        assert!(!text.contains('\n'), "the line broke: {text}");
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["error.message"], "a\"\nb");
    }

    #[test]
    fn raise_only_ever_makes_a_line_more_severe() {
        let mut line = Line::at(0, Level::Warn, "movie", "x");
        line.raise(Level::Info);
        assert_eq!(line.level(), Level::Warn);
        line.raise(Level::Error);
        assert_eq!(line.level(), Level::Error);
    }
}
