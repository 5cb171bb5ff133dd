//! End-to-end tests: the built components under the Spin-faithful host in `tests/src`.
//! One test binary (linking wasmtime once) with a module per concern.
#![cfg(not(target_arch = "wasm32"))]

mod common;

mod api_contract;
mod api_document;
mod book_scenario;
mod build_inputs;
mod bulk;
mod client_identity;
mod concurrency;
mod contract;
mod cost;
mod dependencies;
mod deployment;
mod development_key;
mod durability;
mod event_acl;
mod events;
mod grpc;
mod host;
mod hostile_input;
mod isolation;
mod keep_alive;
mod least_privilege;
mod operations;
mod ownership;
mod persistence;
mod readme;
mod reconcile;
mod reliability;
mod security;
mod smoke;
mod storage;
mod telemetry;
mod validation;
