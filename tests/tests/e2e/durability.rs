//! No acknowledged write is lost when the process serving it is killed (`kill -9`) mid-load:
//! the movie system runs in a child process (`src/bin/movie-system.rs`), clients write ratings
//! and metadata into it at full speed, the child is killed while requests are in flight, and
//! the files it left are read back with a fresh SQLite connection, which recovers the
//! write-ahead log as the next `spin up` would.

use futures::future::join_all;
use spin_test_host::movie_system;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const RATING_CLIENTS: usize = 12;
const METADATA_CLIENTS: usize = 4;
/// Acknowledged writes after which the child is killed, its clients still sending.
const KILL_AFTER: usize = 400;
const RECORDS: usize = 10;

/// The writes the child acknowledged before it died.
#[derive(Default)]
struct Acknowledged {
    /// `(record id, user id)` to the rating value.
    ratings: HashMap<(String, String), i64>,
    /// Movie id to title.
    titles: HashMap<String, String>,
}

/// Starts the child on `root` and returns it with the URL it serves.
fn start_child(root: &Path) -> (Child, String) {
    movie_system::build().expect("the components build");
    let mut child = Command::new(env!("CARGO_BIN_EXE_movie-system"))
        .arg(root)
        // Hundreds of writes from one client: the rate limit is not what this test is about.
        .arg("write_rate_limit=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the movie-system child starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut url = String::new();
    BufReader::new(stdout)
        .read_line(&mut url)
        .expect("the child prints its URL");
    assert!(
        url.starts_with("http://"),
        "the child's first line: {url:?}"
    );
    (child, url.trim().to_owned())
}

/// One client's writes, each to a key nobody else writes, until a request fails because the
/// child is gone. Returns what was acknowledged.
async fn write_until_killed(
    base: String,
    client: usize,
    acknowledged: Arc<AtomicUsize>,
    killed: Arc<AtomicBool>,
) -> Acknowledged {
    let http = reqwest::Client::new();
    let token = spin_test_host::movie_system::editor_token();
    let mut mine = Acknowledged::default();
    for n in 0.. {
        let (request, write) = if client < RATING_CLIENTS {
            let record = format!("m{}", n % RECORDS);
            let user = format!("c{client}-{n}");
            let value = (client + n) % 5 + 1;
            let url = format!("{base}/ratings/movie/{record}/users/{user}");
            let body = serde_json::json!({ "value": value });
            (
                http.put(url).bearer_auth(&token).json(&body),
                Ok((record, user, value as i64)),
            )
        } else {
            let id = format!("c{client}-{n}");
            let title = format!("Title {client}/{n}");
            let body = serde_json::json!({ "title": title });
            (
                http.put(format!("{base}/metadata/{id}"))
                    .bearer_auth(&token)
                    .json(&body),
                Err((id, title)),
            )
        };
        let Ok(response) = request.timeout(Duration::from_secs(30)).send().await else {
            break;
        };
        let status = response.status();
        if response.bytes().await.is_err() {
            break;
        }
        assert!(
            status.is_success() || killed.load(Ordering::SeqCst),
            "client {client}, write {n}: {status} before the kill"
        );
        if status.is_success() {
            match write {
                Ok((record, user, value)) => {
                    mine.ratings.insert((record, user), value);
                }
                Err((id, title)) => {
                    mine.titles.insert(id, title);
                }
            }
            acknowledged.fetch_add(1, Ordering::SeqCst);
        }
    }
    mine
}

/// Runs the load, kills the child with SIGKILL once [`KILL_AFTER`] writes were acknowledged,
/// and returns the storage root with every acknowledged write.
async fn killed_mid_load() -> (tempfile::TempDir, Acknowledged) {
    let root = tempfile::tempdir().unwrap();
    let (mut child, url) = start_child(root.path());
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let clients = (0..RATING_CLIENTS + METADATA_CLIENTS).map(|client| {
        tokio::spawn(write_until_killed(
            url.clone(),
            client,
            Arc::clone(&acknowledged),
            Arc::clone(&killed),
        ))
    });
    let clients: Vec<_> = clients.collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while acknowledged.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} writes acknowledged in 120 s",
            acknowledged.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    killed.store(true, Ordering::SeqCst);
    child.kill().expect("SIGKILL the child");
    child.wait().expect("the child is reaped");
    let mut all = Acknowledged::default();
    for client in join_all(clients).await {
        let client = client.expect("a client task finished");
        all.ratings.extend(client.ratings);
        all.titles.extend(client.titles);
    }
    (root, all)
}

/// Fails naming how many of `total` acknowledged writes are `missing`, and one of them.
fn assert_none_missing<T: std::fmt::Debug>(what: &str, missing: &[T], total: usize) {
    assert!(
        missing.is_empty(),
        "{} of {total} acknowledged {what} lost or changed, e.g. {:?}",
        missing.len(),
        missing.first()
    );
}

fn open(root: &Path, file: &str) -> rusqlite::Connection {
    rusqlite::Connection::open(root.join(".spin").join(file)).expect("the file opens")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_acknowledged_rating_is_in_the_file_after_a_kill_9() {
    let (root, acknowledged) = killed_mid_load().await;
    let db = open(root.path(), "ratings.db");
    let mut lookup = db
        .prepare(
            "SELECT value FROM ratings
            WHERE record_type = 'movie' AND record_id = ? AND user_id = ?",
        )
        .unwrap();
    let missing: Vec<_> = acknowledged
        .ratings
        .iter()
        .filter(|((record, user), value)| {
            let stored: Option<i64> = lookup.query_row([record, user], |row| row.get(0)).ok();
            stored != Some(**value)
        })
        .collect();
    assert_none_missing("ratings", &missing, acknowledged.ratings.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_acknowledged_metadata_write_is_in_the_file_after_a_kill_9() {
    let (root, acknowledged) = killed_mid_load().await;
    let db = open(root.path(), "metadata.db");
    let mut lookup = db
        .prepare("SELECT title FROM metadata WHERE id = ?")
        .unwrap();
    let missing: Vec<_> = acknowledged
        .titles
        .iter()
        .filter(|(id, title)| {
            let stored: Option<String> = lookup.query_row([id], |row| row.get(0)).ok();
            stored.as_ref() != Some(*title)
        })
        .collect();
    assert_none_missing("metadata writes", &missing, acknowledged.titles.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_aggregates_match_the_ratings_after_a_kill_9() {
    let (root, acknowledged) = killed_mid_load().await;
    assert!(
        !acknowledged.ratings.is_empty(),
        "no rating was acknowledged before the kill"
    );
    let db = open(root.path(), "ratings.db");
    let drifted: i64 = db
        .query_row(
            "SELECT count(*) FROM (
                SELECT record_type, record_id, sum(value) AS total, count(*) AS count
                FROM ratings GROUP BY record_type, record_id
            ) AS truth
            FULL OUTER JOIN rating_totals AS kept USING (record_type, record_id)
            WHERE truth.total IS NOT kept.total OR truth.count IS NOT kept.count",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(
        drifted, 0,
        "records whose running total differs from their ratings after the kill"
    );
}
