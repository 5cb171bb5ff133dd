//! Serves the movie system through the test host in a process of its own, for the tests that
//! must kill it mid-load (`kill -9`) and then read what it left on disk.
//!
//! `movie-system [--runtime-config FILE] STORAGE_ROOT [NAME=VALUE ...]`: loads the already
//! built components with their stores under `STORAGE_ROOT` (as `runtime-config.toml`, or
//! `FILE`, declares them) and the given Spin variables, prints the URL it serves on
//! `127.0.0.1` as its first line, and serves until it is killed.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    use anyhow::Context;
    use spin_test_host::{AppOptions, movie_system};

    const USAGE: &str = "usage: movie-system [--runtime-config FILE] STORAGE_ROOT [NAME=VALUE ...]";
    let mut args = std::env::args().skip(1).peekable();
    let runtime_config = if args.peek().map(String::as_str) == Some("--runtime-config") {
        args.next();
        Some(args.next().context(USAGE)?)
    } else {
        None
    };
    let root = args.next().context(USAGE)?;
    let variables = args
        .map(|pair| {
            pair.split_once('=')
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .with_context(|| format!("{pair:?} is not NAME=VALUE"))
        })
        .collect::<anyhow::Result<_>>()?;
    let options = AppOptions {
        variables,
        ..AppOptions::default()
    };
    let root = std::path::Path::new(&root);
    let app = match runtime_config {
        Some(file) => movie_system::load_built_with(root, std::path::Path::new(&file), options)?,
        None => movie_system::load_built(root, options)?,
    };
    let server = app.serve().await?;
    println!("{}", server.url());
    std::future::pending::<()>().await;
    Ok(())
}
