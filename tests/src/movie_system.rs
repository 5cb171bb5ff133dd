//! This repository's app, loaded the way the end-to-end suite and the benchmark both need it:
//! `spin.toml` and `runtime-config.toml` at the repository root, the components built first
//! (once per process, like `spin up --build`), stores under a directory of the caller's, and
//! no `SPIN_VARIABLE_*` from the environment so a developer's shell cannot change a result.

use crate::app::{App, AppOptions};
use std::path::{Path, PathBuf};

/// The repository root: the directory holding `spin.toml`.
pub fn repo_root() -> PathBuf {
    let tests_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests_dir.parent().unwrap_or(tests_dir).to_owned()
}

/// Builds the components and loads the movie system with its stores under `storage_root`.
pub fn load(storage_root: &Path, options: AppOptions) -> anyhow::Result<App> {
    let root = repo_root();
    let manifest = root.join("spin.toml");
    crate::build::build_once(&manifest)?;
    let options = AppOptions {
        storage_root: Some(storage_root.to_owned()),
        ignore_environment: true,
        ..options
    };
    App::load(&manifest, Some(&root.join("runtime-config.toml")), options)
}
