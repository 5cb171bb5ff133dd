//! The movie system as deployed on a cluster, on one machine: each service's database on a
//! libSQL server of its own (`sqld`), the view cache and the event log on one Redis server
//! with the deployment's ACL users (`deploy/valkey/users.acl.template`), and any number of
//! app nodes over them, each with its own instances, sharing nothing but those servers.
//!
//! A node is either an [`App`] in this process ([`Cluster::node`]), whose counters a test can
//! read, or a process of its own ([`Cluster::node_process`]), which a test can kill with -9.

use crate::app::{App, AppOptions};
use crate::movie_system;
use crate::redis_server::RedisServer;
use crate::sqld_server::SqldServer;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The app's SQLite labels (`spin.toml`), one libSQL server each, as in
/// `deploy/spinkube/runtime-config.example.toml`.
pub const DATABASES: [&str; 4] = ["metadata", "ratings", "movie", "auth"];

pub struct Cluster {
    pub databases: BTreeMap<&'static str, SqldServer>,
    pub redis: RedisServer,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts the servers, or returns `None` after saying why `test` is skipped (no `sqld`).
    pub fn start(test: &str) -> Option<Self> {
        let sqld = crate::tools::SQLD.required_by(test)?;
        let databases = DATABASES
            .into_iter()
            .map(|label| (label, SqldServer::start(&sqld)))
            .collect();
        let redis = RedisServer::start_with_users(
            &movie_system::repo_root().join("deploy/valkey/users.acl.template"),
        );
        let cluster = Self {
            databases,
            redis,
            dir: tempfile::tempdir().expect("temp dir"),
        };
        std::fs::write(cluster.runtime_config(), cluster.runtime_config_text())
            .expect("runtime-config.toml written");
        movie_system::build().expect("the components build");
        Some(cluster)
    }

    /// The runtime config every node loads: the deployment's shape, pointed at these servers.
    pub fn runtime_config(&self) -> PathBuf {
        self.dir.path().join("runtime-config.toml")
    }

    fn runtime_config_text(&self) -> String {
        let mut text = String::new();
        for (label, server) in &self.databases {
            text.push_str(&format!(
                "[sqlite_database.{label}]\ntype = \"libsql\"\nurl = \"{}\"\ntoken = \"\"\n\n",
                server.url()
            ));
        }
        text.push_str(&format!(
            "[key_value_store.cache]\ntype = \"redis\"\nurl = \"{}\"\n",
            self.redis.url_as("movie")
        ));
        text
    }

    /// The database server behind `label`.
    pub fn database(&self, label: &str) -> &SqldServer {
        &self.databases[label]
    }

    pub fn database_mut(&mut self, label: &str) -> &mut SqldServer {
        self.databases
            .get_mut(label)
            .unwrap_or_else(|| panic!("no database {label}"))
    }

    /// What every node of the movie system is given beyond `spin.toml`'s defaults: the event
    /// log, as ACL user `rating`. `extra` adds to or overrides these.
    pub fn node_variables(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut variables: HashMap<String, String> = [
            ("events_redis_url".to_owned(), self.redis.address()),
            ("events_redis_user".to_owned(), "rating".to_owned()),
            (
                "events_redis_password".to_owned(),
                RedisServer::password("rating"),
            ),
        ]
        .into();
        variables.extend(
            extra
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        variables
    }

    /// A node of the movie system in this process, its client sending an editor's token.
    pub fn node(&self, extra: &[(&str, &str)]) -> App {
        let options = AppOptions {
            variables: self.node_variables(extra),
            ..AppOptions::default()
        };
        let app = movie_system::load_built_with(self.dir.path(), &self.runtime_config(), options)
            .expect("a node of the movie system loads");
        app.use_bearer(Some(movie_system::editor_token()));
        app
    }

    /// A node of the event consumer's app (`spin-events.toml`) in this process, as ACL user
    /// `rating-ingest`; its trigger starts with [`App::start_redis`].
    pub fn consumer_node(&self, extra: &[(&str, &str)]) -> App {
        let mut variables = self.node_variables(extra);
        variables.insert("events_redis_user".into(), "rating-ingest".into());
        variables.insert(
            "events_redis_password".into(),
            RedisServer::password("rating-ingest"),
        );
        let options = AppOptions {
            variables,
            ..AppOptions::default()
        };
        movie_system::load_events_with(self.dir.path(), &self.runtime_config(), options)
            .expect("a node of the event consumer loads")
    }

    /// A node of the movie system in a process of its own (`src/bin/movie-system.rs`),
    /// serving over HTTP; returns it with its URL.
    pub fn node_process(&self, extra: &[(&str, &str)]) -> (Child, String) {
        start_node_process(
            self.dir.path(),
            &self.runtime_config(),
            &self.node_variables(extra),
        )
    }
}

/// Starts `movie-system --runtime-config FILE ROOT NAME=VALUE...` and reads the URL it prints.
fn start_node_process(
    root: &Path,
    runtime_config: &Path,
    variables: &HashMap<String, String>,
) -> (Child, String) {
    let binary = std::env::var_os("CARGO_BIN_EXE_movie-system")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let mut path = std::env::current_exe().expect("the test binary's path");
            path.pop();
            if path.ends_with("deps") {
                path.pop();
            }
            path.join("movie-system")
        });
    let mut child = Command::new(&binary)
        .arg("--runtime-config")
        .arg(runtime_config)
        .arg(root)
        .args(
            variables
                .iter()
                .map(|(name, value)| format!("{name}={value}")),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", binary.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut url = String::new();
    BufReader::new(stdout)
        .read_line(&mut url)
        .expect("the node prints its URL");
    assert!(url.starts_with("http://"), "the node's first line: {url:?}");
    (child, url.trim().to_owned())
}
