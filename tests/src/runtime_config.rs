//! `runtime-config.toml`: which key-value stores and SQLite databases exist and where.
//!
//! The store types Spin's CLI runs that this app uses: `spin` (local files) for both kinds,
//! `libsql` for SQLite databases on a libSQL server, `redis` for key-value stores on Redis or
//! Valkey. Each type's fields are checked as Spin checks them (unknown fields refused).

use anyhow::{Context, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
pub struct RuntimeConfig {
    #[serde(default)]
    pub key_value_store: BTreeMap<String, KeyValueDecl>,
    #[serde(default)]
    pub sqlite_database: BTreeMap<String, SqliteDecl>,
}

/// A SQLite database: a local file, or a database on a libSQL server.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SqliteDecl {
    /// A relative `path` is taken from the runtime config file's directory (Spin does so for
    /// key-value stores; for SQLite it uses the directory `spin up` runs in, which is the same
    /// for this app's documented command). Without a path the data lives as long as the app.
    Spin { path: Option<PathBuf> },
    /// Spin requires both fields and an `http://` or `https://` URL (it speaks libSQL's
    /// protocol over HTTP only).
    Libsql { url: String, token: String },
}

/// A key-value store: a local file, or a Redis (or Valkey) server.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum KeyValueDecl {
    Spin {
        path: Option<PathBuf>,
    },
    /// Every label pointed at one server shares its keys: Spin's Redis store ignores the
    /// label (`docs/spin-facts.md`, "Storage").
    Redis {
        url: String,
    },
}

impl RuntimeConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let config: RuntimeConfig = toml::from_str(text)?;
        for (label, decl) in &config.sqlite_database {
            if let SqliteDecl::Libsql { url, .. } = decl
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                bail!(
                    "SQLite database {label:?}: libSQL URL {url:?} does not start with \
                     \"https://\" or \"http://\" (Spin talks to libSQL over HTTP only)"
                );
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_this_app_deploys_with_parses() {
        let config = RuntimeConfig::parse(
            r#"
            [sqlite_database.a]
            type = "spin"
            path = "a.db"
            [sqlite_database.b]
            type = "libsql"
            url = "http://127.0.0.1:8080"
            token = ""
            [key_value_store.c]
            type = "redis"
            url = "redis://127.0.0.1:6379"
            "#,
        )
        .expect("spin, libsql and redis stores should parse");
        assert!(matches!(
            config.sqlite_database["b"],
            SqliteDecl::Libsql { .. }
        ));
        assert!(matches!(
            config.key_value_store["c"],
            KeyValueDecl::Redis { .. }
        ));
    }

    #[test]
    fn a_libsql_url_that_is_not_http_is_refused() {
        let refused = RuntimeConfig::parse(
            "[sqlite_database.a]\ntype = \"libsql\"\nurl = \"libsql://x\"\ntoken = \"\"\n",
        );
        assert!(refused.is_err(), "Spin refuses a libsql:// URL at start");
    }

    #[test]
    fn an_unknown_type_or_field_is_refused() {
        assert!(RuntimeConfig::parse("[sqlite_database.a]\ntype = \"postgres\"\n").is_err());
        assert!(
            RuntimeConfig::parse(
                "[key_value_store.a]\ntype = \"redis\"\nurl = \"redis://x\"\npath = \"p\"\n"
            )
            .is_err()
        );
    }
}
