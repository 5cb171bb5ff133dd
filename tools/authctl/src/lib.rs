//! `authctl`'s commands as a library, so the end-to-end tests register clients and mint
//! tokens exactly as an operator does. The binary is `src/main.rs`.
#![cfg(not(target_arch = "wasm32"))]

pub mod commands;
