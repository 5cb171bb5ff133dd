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
    build()?;
    load_built(storage_root, options)
}

/// Runs the components' build commands unless this process already did.
pub fn build() -> anyhow::Result<()> {
    crate::build::build_once(&repo_root().join("spin.toml"))
}

/// Loads the movie system as [`load`] does, from the components as they were last built.
pub fn load_built(storage_root: &Path, options: AppOptions) -> anyhow::Result<App> {
    let root = repo_root();
    let manifest = root.join("spin.toml");
    let options = AppOptions {
        storage_root: Some(storage_root.to_owned()),
        ignore_environment: true,
        ..options
    };
    App::load(&manifest, Some(&root.join("runtime-config.toml")), options)
}
