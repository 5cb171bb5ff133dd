//! The probe component (tests/probe), built on demand.

use std::path::PathBuf;

/// The probe's Wasm file, built by the probe fixture's build command.
pub fn wasm() -> PathBuf {
    let manifest = super::repo_root().join("tests/fixtures/probe-app/spin.toml");
    spin_test_host::build::build_once(&manifest).expect("probe builds");
    super::repo_root().join("target/wasm32-wasip2/release/spin_probe.wasm")
}
