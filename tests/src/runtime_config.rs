//! `runtime-config.toml`: which key-value stores and SQLite databases exist and where.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
pub struct RuntimeConfig {
    #[serde(default)]
    pub key_value_store: BTreeMap<String, StoreDecl>,
    #[serde(default)]
    pub sqlite_database: BTreeMap<String, StoreDecl>,
}

/// A store of type `spin` (the local SQLite-backed kind). A relative `path` is taken from the
/// runtime config file's directory (Spin does so for key-value stores; for SQLite it uses the
/// directory `spin up` runs in, which is the same for this app's documented command). Without a
/// path the data lives as long as the app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreDecl {
    #[serde(rename = "type")]
    pub kind: String,
    pub path: Option<PathBuf>,
}

impl RuntimeConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let config: RuntimeConfig = toml::from_str(text)?;
        for (label, decl) in config.key_value_store.iter().chain(&config.sqlite_database) {
            if decl.kind != "spin" {
                bail!(
                    "store {label:?} has type {:?}; this host only runs type \"spin\"",
                    decl.kind
                );
            }
        }
        Ok(config)
    }
}
