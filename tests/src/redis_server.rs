//! A real `redis-server` for the event tests and the event benchmark: started on a free loopback port in a directory
//! of its own, with the append-only file synced on every write (what production needs for
//! "nothing accepted is lost"), restartable on the same port and data, killed on drop.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server; panics with the reason if `redis-server` is missing (`.ci/run`
    /// installs Debian's package).
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free loopback port");
        let mut server = Self {
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        server.spawn();
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection())
            .expect("connects to the test Redis")
    }

    /// Runs one command and returns its reply.
    pub fn command<T: redis::FromRedisValue>(&self, name: &str, args: &[&str]) -> T {
        let mut command = redis::cmd(name);
        for arg in args {
            command.arg(*arg);
        }
        command
            .query(&mut self.client())
            .unwrap_or_else(|e| panic!("{name} {args:?}: {e}"))
    }

    /// Starts a stopped server again on the same port and data.
    pub fn start_again(&mut self) {
        self.spawn();
    }

    /// Stops the server, flushing its append-only file first.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = redis::cmd("SHUTDOWN").query::<()>(&mut self.client());
            let _ = child.wait();
        }
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (install Debian's redis-server package)");
        self.child = Some(child);
        wait_for_ping(&self.url(), self.dir.path());
    }
}

fn wait_for_ping(url: &str, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pinged = redis::Client::open(url)
            .and_then(|client| client.get_connection())
            .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection));
        match pinged {
            Ok(_) => return,
            Err(error) if Instant::now() > deadline => {
                panic!("redis-server in {} never answered: {error}", dir.display())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
