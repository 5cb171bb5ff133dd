//! A Spin-faithful test host: loads `spin.toml` and `runtime-config.toml`, runs the built
//! components under wasmtime with Spin's routing, service chaining, outbound rules, stores,
//! variables and instance reuse, and serves them in-process or over HTTP.
//!
//! Trigger-agnostic: [`app`] (loading), [`component`] (grants, linking, counters), [`stores`],
//! [`variables`], the Spin interfaces ([`key_value`], [`sqlite`], [`spin_variables`]) and
//! outbound HTTP ([`outbound`]). Per trigger: [`triggers`].
#![cfg(not(target_arch = "wasm32"))]

pub mod allowed_hosts;
pub mod app;
pub mod bindings;
pub mod build;
pub mod cluster;
pub mod component;
pub mod key_value;
pub mod logs;
pub mod manifest;
pub mod movie_system;
pub mod outbound;
pub mod profiler;
pub mod redis;
pub mod redis_server;
pub mod runtime_config;
pub mod spin_variables;
pub mod sqld_server;
pub mod sqlite;
pub mod state;
pub mod stores;
pub mod tools;
pub mod triggers;
pub mod variables;

pub use app::{App, AppOptions};
pub use triggers::http::client::TestResponse;
pub use triggers::http::pool::InstanceLimits;
pub use triggers::http::server::Server;
