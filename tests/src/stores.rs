//! The app's stores: every key-value store and SQLite database the runtime config declares
//! (plus `default` where granted), opened once and shared by every instance, and each
//! component's grants checked against them as Spin checks them.

use crate::key_value::KeyValueBackend;
use crate::manifest::Manifest;
use crate::runtime_config::{KeyValueDecl, RuntimeConfig, SqliteDecl};
use crate::sqlite::Database;
use anyhow::bail;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Key-value backends and SQLite databases of the app, by label.
pub struct Stores {
    key_value: BTreeMap<String, Arc<KeyValueBackend>>,
    sqlite: BTreeMap<String, Database>,
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
            |label: &str, kind: &str, path: Option<&PathBuf>| -> anyhow::Result<PathBuf> {
                let path = match path {
                    Some(path) if path.is_absolute() => path.clone(),
                    Some(path) => root.join(path),
                    None => scratch.join(format!("{kind}-{label}.db")),
                };
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                Ok(path)
            };
        let default = "default".to_owned();
        let granted_default = |grants: fn(&crate::manifest::ComponentDecl) -> &Vec<String>| {
            manifest
                .component
                .values()
                .any(|c| grants(c).contains(&default))
        };
        let mut key_value_decls = runtime.key_value_store.clone();
        if granted_default(|c| &c.key_value_stores) {
            key_value_decls
                .entry(default.clone())
                .or_insert(KeyValueDecl::Spin { path: None });
        }
        let mut sqlite_decls = runtime.sqlite_database.clone();
        if granted_default(|c| &c.sqlite_databases) {
            sqlite_decls
                .entry(default.clone())
                .or_insert(SqliteDecl::Spin { path: None });
        }
        let mut key_value = BTreeMap::new();
        for (label, decl) in key_value_decls {
            let backend = match decl {
                KeyValueDecl::Spin { path } => {
                    KeyValueBackend::open(&location(&label, "kv", path.as_ref())?)?
                }
                KeyValueDecl::Redis { url } => KeyValueBackend::redis(&url)?,
            };
            key_value.insert(label, backend);
        }
        let mut sqlite = BTreeMap::new();
        for (label, decl) in sqlite_decls {
            let database = match decl {
                SqliteDecl::Spin { path } => {
                    Database::File(location(&label, "sqlite", path.as_ref())?)
                }
                SqliteDecl::Libsql { url, token } => Database::LibSql { url, token },
            };
            sqlite.insert(label, database);
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
    ) -> anyhow::Result<HashMap<String, Database>> {
        labels
            .iter()
            .map(|label| match self.sqlite.get(label) {
                Some(database) => Ok((label.clone(), database.clone())),
                None => {
                    bail!("component {id} uses SQLite database {label:?}, which is not defined")
                }
            })
            .collect()
    }
}
