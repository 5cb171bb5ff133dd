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
    /// Whether the server runs with the ACL users of a template (see [`Self::start_with_users`]).
    acl: bool,
}

/// The user the tests themselves run commands as on a server with ACL users: every
/// command, key and channel. Not in the template: production has no such user.
const HARNESS_USER: &str = "test-harness";

impl RedisServer {
    /// Starts a server; panics with the reason if `redis-server` is missing (`.ci/run`
    /// installs Debian's package).
    pub fn start() -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir"), false)
    }

    /// Starts a server whose users are those of an ACL template such as
    /// `deploy/valkey/users.acl.template`, installed as its README says (comment lines
    /// dropped, each `@NAME_PASSWORD@` replaced by [`Self::password`] of the user), plus the
    /// harness's own user.
    pub fn start_with_users(template: &Path) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let template = std::fs::read_to_string(template)
            .unwrap_or_else(|e| panic!("{}: {e}", template.display()));
        let mut users = render_acl(&template);
        users.push_str(&format!(
            "user {HARNESS_USER} on >{} ~* &* +@all\n",
            Self::password(HARNESS_USER)
        ));
        std::fs::write(dir.path().join("users.acl"), users).expect("users.acl written");
        Self::start_in(dir, true)
    }

    fn start_in(dir: tempfile::TempDir, acl: bool) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free loopback port");
        let mut server = Self {
            port,
            dir,
            child: None,
            acl,
        };
        server.spawn();
        server
    }

    /// The test password of ACL user `user`.
    pub fn password(user: &str) -> String {
        format!("{user}-test-password")
    }

    /// `redis://127.0.0.1:<port>`, without credentials: what `allowed_outbound_hosts` names.
    pub fn address(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The URL the tests' own commands use: the harness's user when the server has ACL users.
    pub fn url(&self) -> String {
        if self.acl {
            self.url_as(HARNESS_USER)
        } else {
            self.address()
        }
    }

    /// `redis://<user>:<password>@127.0.0.1:<port>`.
    pub fn url_as(&self, user: &str) -> String {
        format!(
            "redis://{user}:{}@127.0.0.1:{}",
            Self::password(user),
            self.port
        )
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
        let binary = crate::tools::REDIS_SERVER
            .find()
            .unwrap_or_else(|| "redis-server".into());
        let child = Command::new(binary)
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
            .args(
                self.acl
                    .then(|| ["--aclfile".into(), self.dir.path().join("users.acl")])
                    .into_iter()
                    .flatten(),
            )
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

/// An ACL template as installed: comment and blank lines dropped (Valkey reads none), and
/// every `@NAME_PASSWORD@` replaced by the test password of the user on that line.
pub fn render_acl(template: &str) -> String {
    template
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|line| {
            let user = line.split_whitespace().nth(1).unwrap_or_default();
            let mut rendered = line.to_owned();
            while let Some(start) = rendered.find(">@") {
                let Some(length) = rendered[start + 2..].find('@') else {
                    break;
                };
                let placeholder = &rendered[start + 1..start + 3 + length];
                rendered = rendered.replacen(placeholder, &RedisServer::password(user), 1);
            }
            rendered + "\n"
        })
        .collect()
}
