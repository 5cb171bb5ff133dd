//! Loading this repository's app for end-to-end tests.
#![allow(dead_code)]

pub mod probe;
pub mod stub;

use spin_test_host::{App, AppOptions, InstanceLimits};
use std::ops::Deref;
use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// The movie system with its stores in a fresh temporary directory.
pub struct MovieSystem {
    pub app: App,
    pub root: tempfile::TempDir,
}

impl Deref for MovieSystem {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

/// Builds the components (once per test process) and loads `spin.toml` with
/// `runtime-config.toml`, storing data under `root`.
pub fn load_in(root: &Path, mut options: AppOptions) -> App {
    let manifest = repo_root().join("spin.toml");
    spin_test_host::build::build_once(&manifest).expect("components build");
    options.storage_root = Some(root.to_owned());
    options.ignore_environment = true;
    App::load(
        &manifest,
        Some(&repo_root().join("runtime-config.toml")),
        options,
    )
    .expect("app loads")
}

pub fn movie_system_with(options: AppOptions) -> MovieSystem {
    let root = tempfile::tempdir().expect("temp dir");
    MovieSystem {
        app: load_in(root.path(), options),
        root,
    }
}

pub fn movie_system() -> MovieSystem {
    movie_system_with(AppOptions::default())
}

/// Both reuse settings the suite runs under: Spin's defaults and a fresh instance per request.
pub fn reuse_settings() -> [InstanceLimits; 2] {
    [InstanceLimits::default(), InstanceLimits::NO_REUSE]
}
