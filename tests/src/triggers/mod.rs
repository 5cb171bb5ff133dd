//! The triggers the host runs, each in its own module: they decide when a component's
//! instances are made and which export is called. Everything they share (compiled components,
//! grants, stores, variables, counters) is trigger-agnostic and lives in `crate::app` and
//! `crate::component`.
//!
//! Adding a trigger type: model it in `crate::manifest` (unknown types are rejected there), add
//! a module here that builds from the manifest and the loaded components, and hold it in
//! `crate::app::AppShared`. No HTTP code changes.

pub mod http;
pub mod redis;
