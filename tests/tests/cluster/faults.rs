//! Faults a cluster lives through: a database server restarted under load, and a node killed
//! with -9 while the other serves. Writes during the fault fail with a clear 503 or not at all
//! (never a hang), the system recovers by itself, and nothing acknowledged is lost.

use futures::future::join_all;
use spin_test_host::cluster::Cluster;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const WRITERS: usize = 8;
const RECORDS: usize = 4;
/// The longest a write may take before the test calls it a hang: the kit's statement budget
/// (6 s) and a margin.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// One write's outcome: its rating and the status it got, `None` when it got no answer
/// within [`ANSWER_WITHIN`], `Some(0)` when the connection failed.
struct Outcome {
    record: String,
    user: String,
    value: i64,
    status: Option<u16>,
}

/// Counts of acknowledged writes, shared with the writers.
#[derive(Default)]
struct Progress {
    acknowledged: AtomicUsize,
    stop: AtomicBool,
}

/// Runs [`WRITERS`] writers, each sending a new user's rating with `send` (which returns the
/// status, or 0 for a failed connection) until told to stop.
async fn writers<F, Fut>(progress: Arc<Progress>, send: F) -> Vec<Outcome>
where
    F: Fn(usize, String, String, i64) -> Fut + Clone,
    Fut: Future<Output = u16>,
{
    let writers = (0..WRITERS).map(|writer| {
        let progress = Arc::clone(&progress);
        let send = send.clone();
        async move {
            let mut outcomes = Vec::new();
            for n in 0.. {
                if progress.stop.load(Ordering::SeqCst) {
                    break;
                }
                let record = format!("m{}", (writer + n) % RECORDS);
                let user = format!("w{writer}-{n}");
                let value = ((writer + n) % 5 + 1) as i64;
                let status = tokio::time::timeout(
                    ANSWER_WITHIN,
                    send(writer, record.clone(), user.clone(), value),
                )
                .await
                .ok();
                if status.is_some_and(|s| (200..300).contains(&s)) {
                    progress.acknowledged.fetch_add(1, Ordering::SeqCst);
                }
                if status == Some(0) || status == Some(503) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                outcomes.push(Outcome {
                    record,
                    user,
                    value,
                    status,
                });
            }
            outcomes
        }
    });
    join_all(writers).await.into_iter().flatten().collect()
}

/// Waits until `progress` has `count` acknowledged writes (at most 30 s).
async fn acknowledged(progress: &Progress, count: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while progress.acknowledged.load(Ordering::SeqCst) < count {
        assert!(
            Instant::now() < deadline,
            "{what}: fewer than {count} acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every rating on the ratings server, by (record, user).
async fn stored_ratings(cluster: &Cluster) -> HashMap<(String, String), i64> {
    cluster
        .database("ratings")
        .query("SELECT record_id, user_id, value FROM ratings")
        .await
        .into_iter()
        .map(|row| match &row[..] {
            [
                libsql::Value::Text(record),
                libsql::Value::Text(user),
                libsql::Value::Integer(v),
            ] => ((record.clone(), user.clone()), *v),
            other => panic!("a rating row: {other:?}"),
        })
        .collect()
}

/// Asserts that every acknowledged write is stored with its value, and that each record's
/// aggregate matches its stored ratings.
async fn assert_nothing_acknowledged_lost(cluster: &Cluster, outcomes: &[Outcome]) {
    let stored = stored_ratings(cluster).await;
    let lost: Vec<_> = outcomes
        .iter()
        .filter(|o| o.status.is_some_and(|s| (200..300).contains(&s)))
        .filter(|o| stored.get(&(o.record.clone(), o.user.clone())) != Some(&o.value))
        .map(|o| (&o.record, &o.user))
        .collect();
    assert!(lost.is_empty(), "acknowledged ratings lost: {lost:?}");
    let totals = cluster
        .database("ratings")
        .query(
            "SELECT t.record_id, t.total, t.count, \
             (SELECT sum(value) FROM ratings r WHERE r.record_type = t.record_type \
                AND r.record_id = t.record_id), \
             (SELECT count(*) FROM ratings r WHERE r.record_type = t.record_type \
                AND r.record_id = t.record_id) \
             FROM rating_totals t",
        )
        .await;
    for row in totals {
        assert_eq!(
            (&row[1], &row[2]),
            (&row[3], &row[4]),
            "record {:?}: the aggregate (total, count) matches its ratings",
            row[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ratings_server_killed_and_restarted_under_load_costs_503s_then_recovers() {
    let Some(mut cluster) = Cluster::start("a_ratings_server_killed_and_restarted") else {
        return;
    };
    let node = Arc::new(cluster.node(&[("write_rate_limit", "0")]));
    let progress = Arc::new(Progress::default());
    let load = tokio::spawn(writers(Arc::clone(&progress), {
        let node = Arc::clone(&node);
        move |_, record, user, value| {
            let node = Arc::clone(&node);
            async move {
                crate::rate(&node, &record, &user, value as u8)
                    .await
                    .status
                    .as_u16()
            }
        }
    }));
    acknowledged(&progress, 100, "before the restart").await;
    cluster.database_mut("ratings").kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.database_mut("ratings").start_again();
    let before = progress.acknowledged.load(Ordering::SeqCst);
    acknowledged(&progress, before + 100, "after the restart").await;
    progress.stop.store(true, Ordering::SeqCst);
    let outcomes = load.await.expect("the writers finish");

    let hung = outcomes.iter().filter(|o| o.status.is_none()).count();
    assert_eq!(hung, 0, "writes with no answer within {ANSWER_WITHIN:?}");
    let mut statuses: Vec<u16> = outcomes.iter().filter_map(|o| o.status).collect();
    statuses.sort_unstable();
    statuses.dedup();
    assert_eq!(
        statuses,
        [201, 503],
        "each write is acknowledged or refused with 503 while the server is down"
    );
    assert_nothing_acknowledged_lost(&cluster, &outcomes).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_killed_with_sigkill_loses_nothing_acknowledged_while_the_other_serves() {
    let Some(cluster) = Cluster::start("a_node_killed_with_sigkill") else {
        return;
    };
    let settings = [("write_rate_limit", "0")];
    let (mut doomed, doomed_url) = cluster.node_process(&settings);
    let (mut survivor, survivor_url) = cluster.node_process(&settings);
    let urls = Arc::new([doomed_url, survivor_url]);
    let http = reqwest::Client::new();
    let token = Arc::new(spin_test_host::movie_system::editor_token());
    let progress = Arc::new(Progress::default());
    let load = tokio::spawn(writers(Arc::clone(&progress), {
        move |writer, record, user, value| {
            let (http, urls, token) = (http.clone(), Arc::clone(&urls), Arc::clone(&token));
            async move {
                let url = format!("{}/ratings/movie/{record}/users/{user}", urls[writer % 2]);
                let sent = http
                    .put(url)
                    .bearer_auth(token.as_str())
                    .json(&serde_json::json!({ "value": value }))
                    .send()
                    .await;
                sent.map_or(0, |response| response.status().as_u16())
            }
        }
    }));
    acknowledged(&progress, 150, "before the kill").await;
    doomed.kill().expect("SIGKILL sent");
    doomed.wait().expect("the node is gone");
    let before = progress.acknowledged.load(Ordering::SeqCst);
    acknowledged(&progress, before + 100, "on the surviving node").await;
    progress.stop.store(true, Ordering::SeqCst);
    let outcomes = load.await.expect("the writers finish");
    let _ = survivor.kill();
    let _ = survivor.wait();

    let hung = outcomes.iter().filter(|o| o.status.is_none()).count();
    assert_eq!(hung, 0, "writes with no answer within {ANSWER_WITHIN:?}");
    let refused: Vec<u16> = outcomes
        .iter()
        .filter_map(|o| o.status)
        .filter(|s| !(*s == 0 || (200..300).contains(s)))
        .collect();
    assert!(
        refused.is_empty(),
        "statuses besides 2xx and a dead node: {refused:?}"
    );
    assert_nothing_acknowledged_lost(&cluster, &outcomes).await;
}
