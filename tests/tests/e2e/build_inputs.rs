//! `spin up --build` rebuilds a component when a file its build reads changes, and `spin watch`
//! rebuilds on save, only if the component's `watch` globs match that file. The build's own
//! dep-info (`target/wasm32-wasip2/release/<crate>.d`, written by the build the suite runs
//! first) lists every file the compiler read, `include_str!` targets included; each one in
//! the repository, and each crate's `Cargo.toml` with the workspace's and the lock file, must
//! match a glob of every component built from that crate.

use super::common::repo_root;
use globset::{Glob, GlobSet, GlobSetBuilder};
use spin_test_host::manifest::Manifest;
use std::collections::BTreeSet;
use std::path::Path;

/// The repository files the last build of `krate` read, relative to the root.
fn build_inputs(krate: &str) -> BTreeSet<String> {
    let root = repo_root();
    // Cargo names the artifact after the crate: `-` becomes `_`.
    let artifact = krate.replace('-', "_");
    let dep_info = root.join(format!("target/wasm32-wasip2/release/{artifact}.d"));
    let text = std::fs::read_to_string(&dep_info)
        .unwrap_or_else(|error| panic!("{}: {error}", dep_info.display()));
    let first = text.lines().next().unwrap_or_default();
    let (_, inputs) = first.split_once(": ").expect("`target: inputs`");
    let mut files: BTreeSet<String> = inputs
        .split(' ')
        .filter_map(|path| Path::new(path).strip_prefix(&root).ok())
        .map(normalized)
        .filter(|path| !path.starts_with("target/"))
        .collect();
    // Cargo reads each crate's manifest, the workspace's and the lock file too.
    let crates: BTreeSet<String> = files
        .iter()
        .filter_map(|file| file.split_once("/src/").map(|(dir, _)| dir.to_owned()))
        .collect();
    files.extend(crates.iter().map(|dir| format!("{dir}/Cargo.toml")));
    files.extend(["Cargo.toml".to_owned(), "Cargo.lock".to_owned()]);
    // A crate's build script, and what it told Cargo to rerun it for (the .proto files).
    for dir in &crates {
        if root.join(dir).join("build.rs").is_file() {
            files.insert(format!("{dir}/build.rs"));
            files.extend(
                build_script_inputs(&root, dir)
                    .map(|input| normalized(Path::new(&format!("{dir}/{input}")))),
            );
        }
    }
    files
}

/// The `cargo:rerun-if-changed` paths the newest run of the build script of the crate in
/// `dir` printed for the wasm build, relative to `dir`.
fn build_script_inputs(root: &Path, dir: &str) -> impl Iterator<Item = String> {
    let manifest = std::fs::read_to_string(root.join(dir).join("Cargo.toml")).expect("manifest");
    let package = manifest
        .lines()
        .find_map(|line| line.strip_prefix("name = "))
        .map(|name| name.trim_matches('"').to_owned())
        .expect("a package name");
    let runs = root.join("target/wasm32-wasip2/release/build");
    let newest = std::fs::read_dir(&runs)
        .expect("build script runs")
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .strip_prefix(&package)
                .is_some_and(|rest| rest.starts_with('-'))
        })
        .map(|entry| entry.path().join("output"))
        .filter(|output| output.is_file())
        .max_by_key(|output| output.metadata().and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| panic!("{package}'s build script has not run for the wasm build"));
    let output = std::fs::read_to_string(newest).expect("build script output");
    output
        .lines()
        .filter_map(|line| line.strip_prefix("cargo:rerun-if-changed="))
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into_iter()
}

/// `path` without `.` and `..` segments (`include_str!("../../../docs/x")` is recorded as
/// written), as the repository-relative path a glob matches.
fn normalized(path: &Path) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.iter().filter_map(|part| part.to_str()) {
        match part {
            "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

fn globs(patterns: &[String]) -> GlobSet {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        set.add(Glob::new(pattern).unwrap_or_else(|error| panic!("{pattern}: {error}")));
    }
    set.build().expect("a glob set")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_file_a_component_build_reads_is_watched() {
    spin_test_host::movie_system::build().expect("the components build");
    for manifest in ["spin.toml", "spin-events.toml"] {
        let loaded = Manifest::load(&repo_root().join(manifest)).expect(manifest);
        for (component, decl) in &loaded.component {
            let Some(build) = &decl.build else { continue };
            let krate = build
                .command
                .split_once(" -p ")
                .map(|(_, rest)| rest.split_whitespace().next().unwrap_or_default())
                .expect("the build command names its package with -p");
            let inputs = build_inputs(krate);
            assert!(
                inputs.iter().any(|file| file.ends_with("/src/lib.rs")),
                "{manifest} {component}: no sources in the dep-info of {krate}"
            );
            let watched = globs(&build.watch);
            let unwatched: Vec<&String> = inputs
                .iter()
                .filter(|file| !watched.is_match(file))
                .collect();
            assert!(
                unwatched.is_empty(),
                "{manifest} {component}: its build reads files no `watch` glob matches: {unwatched:?}"
            );
        }
    }
}
