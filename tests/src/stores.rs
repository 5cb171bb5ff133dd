//! The app's stores: every key-value store and SQLite database the runtime config declares
//! (plus `default` where granted), opened once and shared by every instance, and each
//! component's grants checked against them as Spin checks them.

use crate::key_value::KeyValueBackend;
use crate::manifest::Manifest;
use crate::runtime_config::{RuntimeConfig, StoreDecl};
use anyhow::bail;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Key-value backends and SQLite files of the app, by label.
pub struct Stores {
    key_value: BTreeMap<String, Arc<KeyValueBackend>>,
    sqlite: BTreeMap<String, PathBuf>,
}

impl Stores {
    /// Opens every store the runtime config declares, plus `default` where a component is
    /// granted it (Spin always provides `default`).
    pub fn open(
        manifest: &Manifest,
        runtime: &RuntimeConfig,
        root: &Path,
        scratch: &Path,
    ) -> anyhow::Result<Self> {
        let location =
            |label: &str, kind: &str, decl: Option<&StoreDecl>| -> anyhow::Result<PathBuf> {
                let path = match decl.and_then(|d| d.path.as_ref()) {
                    Some(path) if path.is_absolute() => path.clone(),
                    Some(path) => root.join(path),
                    None => scratch.join(format!("{kind}-{label}.db")),
                };
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                Ok(path)
            };
        let mut key_value = BTreeMap::new();
        let mut kv_labels: Vec<&String> = runtime.key_value_store.keys().collect();
        let mut sql_labels: Vec<&String> = runtime.sqlite_database.keys().collect();
        let default = "default".to_owned();
        let default_ref = &default;
        if manifest
            .component
            .values()
            .any(|c| c.key_value_stores.contains(default_ref))
        {
            kv_labels.push(default_ref);
        }
        if manifest
            .component
            .values()
            .any(|c| c.sqlite_databases.contains(default_ref))
        {
            sql_labels.push(default_ref);
        }
        for label in kv_labels {
            let path = location(label, "kv", runtime.key_value_store.get(label))?;
            key_value
                .entry(label.clone())
                .or_insert(KeyValueBackend::open(&path)?);
        }
        let mut sqlite = BTreeMap::new();
        for label in sql_labels {
            let path = location(label, "sqlite", runtime.sqlite_database.get(label))?;
            sqlite.entry(label.clone()).or_insert(path);
        }
        Ok(Self { key_value, sqlite })
    }

    /// Spin refuses to start when a component is granted a store nobody declared.
    pub fn key_value_grants(
        &self,
        id: &str,
        labels: &[String],
    ) -> anyhow::Result<HashMap<String, Arc<KeyValueBackend>>> {
        labels
            .iter()
            .map(|label| match self.key_value.get(label) {
                Some(backend) => Ok((label.clone(), Arc::clone(backend))),
                None => {
                    bail!("component {id} uses key-value store {label:?}, which is not defined")
                }
            })
            .collect()
    }

    pub fn sqlite_grants(
        &self,
        id: &str,
        labels: &[String],
    ) -> anyhow::Result<HashMap<String, PathBuf>> {
        labels
            .iter()
            .map(|label| match self.sqlite.get(label) {
                Some(path) => Ok((label.clone(), path.clone())),
                None => {
                    bail!("component {id} uses SQLite database {label:?}, which is not defined")
                }
            })
            .collect()
    }
}
