//! Where a component spends its CPU under load: the book's pprof section, for Wasm. Runs the
//! movie system in the test host with wasmtime's guest profiler on one component, sends it a
//! load, writes the profile for the Firefox Profiler and prints the busiest functions.
//!
//! `cargo bench -p spin-test-host --bench profile [-- COMPONENT REQUESTS COMPOSED]`: the
//! component to profile (movie; built first in the `profiling` profile: release code with its
//! function names), how many views to send (4000, 16 at a time) and the percentage of them
//! composed with `no-cache` (50; 0 profiles the hits alone, 100 the misses alone), and how
//! many movies they are spread over (100; 1 makes the hits memory hits). The profile goes to `target/profiles/<component>.json`:
//! open it at https://profiler.firefox.com (Load a profile from file) for the call tree and
//! flame graph.

use futures::future::join_all;
use http::Method;
use serde_json::json;
use spin_test_host::profiler::{FrameShare, ProfileOptions, frame_shares};
use spin_test_host::{AppOptions, movie_system};
use std::time::{Duration, Instant};

const MOVIES: usize = 100;
const CONCURRENCY: usize = 16;

/// The 25 first frames, function names cut at 140 characters.
fn print_frames(title: &str, frames: &[FrameShare]) {
    println!("\n{title}\n{:>6} {:>6}  function", "self", "total");
    for frame in frames.iter().take(25) {
        let name: String = frame.function.chars().take(140).collect();
        println!(
            "{:>5.1}% {:>5.1}%  {name}",
            frame.self_share * 100.0,
            frame.total_share * 100.0
        );
    }
}

/// The component built like `release` but with its function names (the `profiling` profile),
/// so the profile's frames are readable. Components are crates of their own name.
fn build_with_names(component: &str) -> anyhow::Result<std::path::PathBuf> {
    let root = movie_system::repo_root();
    let status = std::process::Command::new(env!("CARGO"))
        .args([
            "build",
            "--profile",
            "profiling",
            "--target",
            "wasm32-wasip2",
            "-p",
            component,
        ])
        .current_dir(&root)
        .status()?;
    anyhow::ensure!(status.success(), "building {component} with names failed");
    Ok(root.join(format!("target/wasm32-wasip2/profiling/{component}.wasm")))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let component = args.first().cloned().unwrap_or_else(|| "movie".into());
    let requests: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(4000);
    let composed: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(50);
    let movies: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(MOVIES);

    let profiled = build_with_names(&component)?;
    let root = tempfile::tempdir()?;
    let app = movie_system::load(
        root.path(),
        AppOptions {
            profile: Some(ProfileOptions {
                component: component.clone(),
                interval: Duration::from_millis(1),
            }),
            // A load, not an abuse: the views' quota must not turn it into 429s.
            variables: [("view_rate_limit".to_owned(), "100000000".to_owned())].into(),
            replace_sources: [(component.clone(), profiled)].into(),
            ..AppOptions::default()
        },
    )?;
    app.use_bearer(Some(movie_system::editor_token()));
    for i in 0..MOVIES {
        let title = json!({"title": format!("Movie {i}"), "director": "Someone"});
        app.request(Method::PUT, &format!("/metadata/m{i}"), Some(title))
            .await?;
        let rating = json!({"value": 1 + i % 5});
        app.request(
            Method::PUT,
            &format!("/ratings/movie/m{i}/users/u{i}"),
            Some(rating),
        )
        .await?;
    }

    let started = Instant::now();
    for chunk in (0..requests).collect::<Vec<_>>().chunks(CONCURRENCY) {
        let views = chunk.iter().map(|&n| {
            let mut request = http::Request::get(format!("/movies/m{}", n % movies));
            if n % 100 < composed {
                request = request.header("cache-control", "no-cache");
            }
            app.send(request.body(bytes::Bytes::new()).expect("request"))
        });
        for response in join_all(views).await {
            let response = response?;
            anyhow::ensure!(
                response.status.is_success(),
                "a view failed: {}",
                response.status
            );
        }
    }
    let elapsed = started.elapsed();

    let dir = movie_system::repo_root().join("target/profiles");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{component}.json"));
    app.write_profile(std::fs::File::create(&path)?)?;
    let profile: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    let samples = profile["threads"][0]["samples"]["length"]
        .as_u64()
        .unwrap_or(0);
    println!(
        "{requests} views in {:.2} s ({:.0}/s), {samples} samples of {component} at 1 ms; profile: {}",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        path.display()
    );
    let mut frames = frame_shares(&profile)?;
    print_frames("where the samples were (self)", &frames);
    frames.sort_by(|a, b| b.total_share.total_cmp(&a.total_share));
    print_frames("what the samples were under (total)", &frames);
    Ok(())
}
