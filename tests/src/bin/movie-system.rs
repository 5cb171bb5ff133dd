//! Serves the movie system through the test host in a process of its own, for the tests that
//! must kill it mid-load (`kill -9`) and then read what it left on disk.
//!
//! `movie-system STORAGE_ROOT`: loads the already built components with their stores under
//! `STORAGE_ROOT`, prints the URL it serves on `127.0.0.1` as its first line, and serves until
//! it is killed.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    use anyhow::Context;
    use spin_test_host::{AppOptions, movie_system};

    let root = std::env::args()
        .nth(1)
        .context("usage: movie-system STORAGE_ROOT")?;
    let app = movie_system::load_built(std::path::Path::new(&root), AppOptions::default())?;
    let server = app.serve().await?;
    println!("{}", server.url());
    std::future::pending::<()>().await;
    Ok(())
}
