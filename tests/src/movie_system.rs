//! This repository's app, loaded the way the end-to-end suite and the benchmark both need it:
//! `spin.toml` and `runtime-config.toml` at the repository root, the components built first
//! (once per process, like `spin up --build`), stores under a directory of the caller's, and
//! no `SPIN_VARIABLE_*` from the environment so a developer's shell cannot change a result.
//! The auth component signs with a fixed test key ([`TEST_SIGNING_SEED`]) unless the caller
//! sets `auth_signing_key`, and [`token`] mints what it would issue.

use crate::app::{App, AppOptions};
use service_kit::auth::sign::{Issue, Signer, encode_base64url};
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

/// The auth component's signing key in tests (never a deployment's: `spin.toml` has none).
pub const TEST_SIGNING_SEED: [u8; 32] = [0x5e; 32];

/// A token the auth component would issue to `subject` with `scopes`, valid for five minutes,
/// signed with [`TEST_SIGNING_SEED`] for `spin.toml`'s default issuer and audience.
pub fn token(subject: &str, scopes: &str) -> String {
    mint(&Issue {
        issuer: "movie-system-auth",
        audience: "movie-system",
        subject,
        scope: scopes,
        id: "test-token",
        now: chrono::Utc::now(),
        lifetime: chrono::Duration::minutes(5),
    })
}

/// `issue` signed with [`TEST_SIGNING_SEED`].
pub fn mint(issue: &Issue<'_>) -> String {
    Signer::from_seed(TEST_SIGNING_SEED).sign(issue)
}

/// A token holding every scope, as an editor and moderator would.
pub fn editor_token() -> String {
    token("editor", "metadata:write ratings:write ratings:admin")
}

/// Loads the event consumer's app (`spin-events.toml`) as `spin up -f spin-events.toml` would,
/// with its stores under `storage_root`: the same `ratings` database as the movie system's
/// under the same root. Its Redis trigger starts with [`App::start_redis`].
pub fn load_events(storage_root: &Path, options: AppOptions) -> anyhow::Result<App> {
    load_events_with(
        storage_root,
        &repo_root().join("runtime-config.toml"),
        options,
    )
}

/// Loads the event consumer's app as [`load_events`] does, with another runtime config.
pub fn load_events_with(
    storage_root: &Path,
    runtime_config: &Path,
    options: AppOptions,
) -> anyhow::Result<App> {
    build()?;
    let root = repo_root();
    let options = AppOptions {
        storage_root: Some(storage_root.to_owned()),
        ignore_environment: true,
        ..options
    };
    App::load(
        &root.join("spin-events.toml"),
        Some(runtime_config),
        options,
    )
}

/// Loads the movie system as [`load`] does, from the components as they were last built.
pub fn load_built(storage_root: &Path, options: AppOptions) -> anyhow::Result<App> {
    load_built_with(
        storage_root,
        &repo_root().join("runtime-config.toml"),
        options,
    )
}

/// Loads the built movie system with another runtime config, as `spin up
/// --runtime-config-file` does (a cluster's libSQL and Redis stores, say).
pub fn load_built_with(
    storage_root: &Path,
    runtime_config: &Path,
    mut options: AppOptions,
) -> anyhow::Result<App> {
    let manifest = repo_root().join("spin.toml");
    options
        .variables
        .entry("auth_signing_key".into())
        .or_insert_with(|| encode_base64url(&TEST_SIGNING_SEED));
    let options = AppOptions {
        storage_root: Some(storage_root.to_owned()),
        ignore_environment: true,
        ..options
    };
    App::load(&manifest, Some(runtime_config), options)
}
