//! A Spin-faithful test host: loads `spin.toml` and `runtime-config.toml`, runs the built
//! components under wasmtime with Spin's routing, service chaining, outbound rules, stores,
//! variables and instance reuse, and serves them in-process or over HTTP.
#![cfg(not(target_arch = "wasm32"))]

pub mod allowed_hosts;
pub mod app;
pub mod bindings;
pub mod build;
pub mod client;
pub mod component;
pub mod key_value;
pub mod logs;
pub mod manifest;
pub mod outbound;
pub mod routing;
pub mod runtime_config;
pub mod server;
pub mod spin_variables;
pub mod sqlite;
pub mod state;
pub mod variables;

pub use app::{App, AppOptions};
pub use client::TestResponse;
pub use component::InstanceLimits;
pub use server::Server;
