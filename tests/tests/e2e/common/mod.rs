//! Loading this repository's app for end-to-end tests.

pub mod probe;
pub mod stub;
pub mod yaml;

use spin_test_host::{App, AppOptions, movie_system};
use std::ops::Deref;
use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    movie_system::repo_root()
}

/// The movie system with its stores in a fresh temporary directory.
pub struct MovieSystem {
    pub app: App,
    pub root: tempfile::TempDir,
}

impl Deref for MovieSystem {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

/// The movie system storing its data under `root` (which may hold an earlier run's data),
/// its test client sending an editor's token (every scope) with `App::request`; the security
/// tests send their own.
pub fn load_in(root: &Path, options: AppOptions) -> App {
    let app = movie_system::load(root, options).expect("the movie system builds and loads");
    app.use_bearer(Some(movie_system::editor_token()));
    app
}

pub fn movie_system_with(options: AppOptions) -> MovieSystem {
    let root = tempfile::tempdir().expect("temp dir");
    MovieSystem {
        app: load_in(root.path(), options),
        root,
    }
}

pub fn movie_system() -> MovieSystem {
    movie_system_with(AppOptions::default())
}

/// `GET path` with `Cache-Control: no-cache`: the movie view composed now, not from its cache.
pub async fn get_uncached(app: &App, path: &str) -> spin_test_host::TestResponse {
    let request = http::Request::get(path)
        .header("cache-control", "no-cache")
        .body(bytes::Bytes::new())
        .expect("request");
    app.send(request).await.expect("the app answers")
}

/// Settings for movie's cache that keep every entry fresh for a minute, so a test's views are
/// hits however slow the machine.
pub fn long_lived_cache() -> std::collections::HashMap<String, String> {
    [
        ("cache_memory_fresh_ms", "60000"),
        ("cache_store_fresh_ms", "60000"),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .into()
}

/// Asserts that `response` to `request` is an RFC 9457 problem with `status` and a stated
/// length.
pub fn assert_problem(
    response: &spin_test_host::TestResponse,
    status: http::StatusCode,
    request: &str,
) {
    let body = response.json();
    let length = response.body.len().to_string();
    let seen = (
        response.status,
        response.header("content-type"),
        body["status"].as_u64(),
        body["type"].as_str(),
        body["title"].as_str(),
        response.header("content-length"),
    );
    let expected = (
        status,
        Some("application/problem+json"),
        Some(u64::from(status.as_u16())),
        Some("about:blank"),
        status.canonical_reason(),
        Some(length.as_str()),
    );
    assert_eq!(seen, expected, "{request}: {body}");
}

/// The anchors GitHub gives the Markdown headings of `file` (from the repository root):
/// `### Runbook: rating-ingest` is `#runbook-rating-ingest`. Empty when the file is missing.
pub fn heading_anchors(file: &str) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join(file)).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| {
            heading
                .trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}
