//! What a component tells its operator, as data: one JSON object per line on stdout, which
//! Spin writes to the terminal and to `.spin/logs/<component>_stdout.txt` (a collector's file
//! receiver reads it there; see `deploy/otel`). spin-sdk binds no guest OpenTelemetry API, so
//! the log line is the component's only structured channel; Spin's own spans and metrics
//! cover the rest.
//!
//! [`request_id`] names one client request across the services it reaches; [`line`] is the
//! line itself. The access line every request gets is written by [`crate::edge::serve`].

pub mod line;
pub mod request_id;

pub use line::{Level, Line, error, info, warn};

use std::sync::OnceLock;

static COMPONENT: OnceLock<&'static str> = OnceLock::new();

/// Names the component every line of this instance speaks for: set by [`crate::edge::serve`]
/// from the service's name, and by an entry point that serves no HTTP (rating's consumer).
/// The first name sticks: an instance is one component.
pub fn name_component(name: &'static str) {
    let _ = COMPONENT.set(name);
}

/// The component's name, or `unknown` before anything named it.
pub fn component() -> &'static str {
    COMPONENT.get().copied().unwrap_or("unknown")
}
pub use request_id::{REQUEST_ID, RequestId};
