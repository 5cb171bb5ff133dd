//! The external programs some tests need (`redis-server`, `promtool`, `schemathesis`, `sqld`),
//! found where a developer or `.ci/run` puts them, so that `cargo test` on a fresh machine
//! passes: a test whose program is missing prints one line saying what to install and returns,
//! except where `CI` is set, where a missing program fails the test (CI must run them all).

use std::path::PathBuf;

/// A program the tests use, and how to get it.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    pub name: &'static str,
    /// What to install, for the skip line.
    pub install: &'static str,
}

pub const REDIS_SERVER: Tool = Tool {
    name: "redis-server",
    install: "Debian's redis-server package",
};
pub const PROMTOOL: Tool = Tool {
    name: "promtool",
    install: "Debian's prometheus package, or set PROMTOOL",
};
pub const SCHEMATHESIS: Tool = Tool {
    name: "schemathesis",
    install: "`python3 -m venv target/ci-venv && target/ci-venv/bin/pip install -r \
              tests/contract/requirements.txt`, or set SCHEMATHESIS",
};
pub const SQLD: Tool = Tool {
    name: "sqld",
    install: "the libSQL server's release binary or image, on PATH or in target/tools/",
};

impl Tool {
    /// The program: the file named by `$NAME` (upper case, `-` as `_`) if that is set (a
    /// missing file is a missing program), else the first on
    /// `PATH`, else where `.ci/run` installs it (`target/tools/`, `target/ci-venv/bin/`).
    pub fn find(self) -> Option<PathBuf> {
        let variable = self.name.to_uppercase().replace('-', "_");
        if let Some(path) = std::env::var_os(variable) {
            let path = PathBuf::from(path);
            return path.is_file().then_some(path);
        }
        let on_path = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(self.name))
                .find(|candidate| candidate.is_file())
        });
        let target = crate::movie_system::repo_root().join("target");
        on_path.or_else(|| {
            ["tools", "ci-venv/bin"]
                .map(|dir| target.join(dir).join(self.name))
                .into_iter()
                .find(|candidate| candidate.is_file())
        })
    }

    /// The program for `test`, or `None` after printing that `test` is skipped; under `CI`
    /// a missing program fails the test.
    pub fn required_by(self, test: &str) -> Option<PathBuf> {
        match self.find() {
            Some(path) => Some(path),
            None if std::env::var_os("CI").is_some() => panic!(
                "{test}: {} is not installed and CI is set ({}); .ci/run installs it",
                self.name, self.install
            ),
            None => {
                // Straight to the process's stderr: the test harness captures `eprintln!` of
                // a passing test, and this line is for whoever runs `cargo test`.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "skipped {test}: needs {} ({})",
                    self.name,
                    self.install
                );
                None
            }
        }
    }
}

/// Returns from the calling test (after one line saying so) when `$tool` is missing and `CI`
/// is not set.
#[macro_export]
macro_rules! require {
    ($tool:expr) => {
        if $tool.required_by(module_path!()).is_none() {
            return;
        }
    };
}
