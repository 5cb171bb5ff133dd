//! Runs each component's `[component.X.build] command`, like `spin up --build`, once per test
//! process, so tests always run the components built from the current sources.

use crate::manifest::Manifest;
use anyhow::{Context, bail};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static BUILT: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Builds every component of the manifest at `manifest_path` unless this process already did.
pub fn build_once(manifest_path: &Path) -> anyhow::Result<()> {
    let key = manifest_path
        .canonicalize()
        .unwrap_or_else(|_| manifest_path.to_owned());
    let mut built = BUILT
        .lock()
        .map_err(|_| anyhow::anyhow!("build lock poisoned"))?;
    let built = built.get_or_insert_with(HashSet::new);
    if built.contains(&key) {
        return Ok(());
    }
    let manifest = Manifest::load(manifest_path)?;
    let app_dir = manifest_path.parent().unwrap_or(Path::new("."));
    for (id, component) in &manifest.component {
        let Some(build) = &component.build else {
            continue;
        };
        let workdir = build
            .workdir
            .as_ref()
            .map_or(app_dir.to_owned(), |w| app_dir.join(w));
        let status = Command::new("sh")
            .arg("-c")
            .arg(&build.command)
            .current_dir(&workdir)
            .status()
            .with_context(|| format!("running the build command of {id}"))?;
        if !status.success() {
            bail!(
                "building component {id} failed ({status}): {}",
                build.command
            );
        }
    }
    built.insert(key);
    Ok(())
}
