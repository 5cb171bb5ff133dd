//! A real libSQL server (`sqld`) for the cluster tests and benchmarks: started on a free
//! loopback port with a data directory of its own, restartable on the same port and data,
//! killed on drop.
//!
//! `sqld` is not packaged for Debian; users get it from the libSQL server image or release
//! archives. It is found as [`crate::tools`] finds every program (`PATH`, then `target/tools/`
//! where `.ci/run` installs it); where it is absent, a test that needs it is skipped with one
//! line saying so, unless `CI` is set.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SqldServer {
    binary: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl SqldServer {
    /// Starts a server with an empty database.
    pub fn start(binary: &Path) -> Self {
        let port = free_port();
        let mut server = Self {
            binary: binary.to_owned(),
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        server.spawn();
        server
    }

    /// `http://127.0.0.1:<port>`: what a `libsql` runtime config entry names.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server as a crash would (SIGKILL): whatever it acknowledged must be in its
    /// files.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a stopped server again on the same port and data.
    pub fn start_again(&mut self) {
        self.spawn();
    }

    /// Runs one statement straight on the server with the libSQL client, as an operator's
    /// shell would, and returns its rows.
    pub async fn query(&self, sql: &str) -> Vec<Vec<libsql::Value>> {
        let outcome = async {
            let database = libsql::Builder::new_remote(self.url(), String::new())
                .build()
                .await?;
            let connection = database.connect()?;
            let mut rows = connection.query(sql, ()).await?;
            let mut all = Vec::new();
            while let Some(row) = rows.next().await? {
                all.push(
                    (0..rows.column_count())
                        .map(|i| row.get_value(i))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            Ok::<_, libsql::Error>(all)
        };
        outcome
            .await
            .unwrap_or_else(|e| panic!("{sql} on sqld at {}: {e}", self.url()))
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.binary)
            .arg("--db-path")
            .arg(self.dir.path().join("data"))
            .args(["--http-listen-addr", &format!("127.0.0.1:{}", self.port)])
            .arg("--no-welcome")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} runs: {e}", self.binary.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sqld on port {} never listened",
                self.port
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for SqldServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}
