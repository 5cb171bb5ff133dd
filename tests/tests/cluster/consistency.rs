//! Writes from many clients over both nodes: none hangs, none is lost, aggregates are exact,
//! and what is counted for all nodes (the rate limit, the reconciliation lease) is counted
//! once.

use crate::{aggregate, rate};
use futures::future::join_all;
use http::{Method, StatusCode};
use spin_test_host::cluster::Cluster;
use std::time::{Duration, Instant};

const CLIENTS: usize = 16;
const WRITES_PER_CLIENT: usize = 15;
const RECORDS: usize = 4;

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_clients_over_two_nodes_all_land_with_exact_aggregates() {
    let Some(cluster) = Cluster::start("sixteen_clients_over_two_nodes") else {
        return;
    };
    let nodes = [
        cluster.node(&[("write_rate_limit", "0")]),
        cluster.node(&[("write_rate_limit", "0")]),
    ];
    let started = Instant::now();
    let clients = (0..CLIENTS).map(|client| {
        let node = &nodes[client % 2];
        async move {
            let mut answers = Vec::new();
            for n in 0..WRITES_PER_CLIENT {
                let record = format!("m{}", (client + n) % RECORDS);
                let value = ((client + n) % 5 + 1) as u8;
                let user = format!("c{client}-{n}");
                let answer = tokio::time::timeout(
                    Duration::from_secs(10),
                    rate(node, &record, &user, value),
                )
                .await;
                answers.push((record, value, answer.map(|r| r.status)));
            }
            answers
        }
    });
    let answers: Vec<_> = join_all(clients).await.into_iter().flatten().collect();
    let elapsed = started.elapsed();
    let failed: Vec<_> = answers
        .iter()
        .filter(|(_, _, status)| !matches!(status, Ok(s) if s.is_success()))
        .collect();
    assert!(
        failed.is_empty(),
        "every write is answered 2xx within 10 s; {} were not: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    for record in 0..RECORDS {
        let record = format!("m{record}");
        let mine: Vec<u8> = answers
            .iter()
            .filter(|(r, _, _)| *r == record)
            .map(|(_, value, _)| *value)
            .collect();
        let expected_sum: f64 = mine.iter().map(|v| f64::from(*v)).sum();
        for node in &nodes {
            let (count, sum) = aggregate(node, &record).await;
            assert_eq!(count, mine.len() as i64, "{record}'s count on either node");
            assert!(
                (sum - expected_sum).abs() < 1e-6,
                "{record}'s sum on either node: {sum} != {expected_sum}"
            );
        }
    }
    // Rating's statements and instances per node: how much the group commit batched.
    let spent = |node: &spin_test_host::App| {
        let rating = node.stats("rating").expect("rating's counters");
        let load = |counter: &std::sync::atomic::AtomicUsize| {
            counter.load(std::sync::atomic::Ordering::SeqCst)
        };
        (load(&rating.sqlite_statements), load(&rating.instantiated))
    };
    eprintln!(
        "{} writes from {CLIENTS} clients over two nodes in {elapsed:?}; (statements, instances) \
         of rating per node: {:?} {:?}",
        answers.len(),
        spent(&nodes[0]),
        spent(&nodes[1])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_write_rate_limit_is_counted_once_for_both_nodes() {
    let Some(cluster) = Cluster::start("the_write_rate_limit_is_counted_once") else {
        return;
    };
    let limit = [("write_rate_limit", "6"), ("rate_limit_window_s", "600")];
    let nodes = [cluster.node(&limit), cluster.node(&limit)];
    let mut statuses = Vec::new();
    for n in 0..10 {
        let response = rate(&nodes[n % 2], "m1", &format!("u{n}"), 4).await;
        statuses.push(response.status.as_u16());
    }
    assert_eq!(
        statuses,
        [201, 201, 201, 201, 201, 201, 429, 429, 429, 429],
        "six writes in all, whichever node served them, then 429 on both"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reconciliation_run_on_each_node_at_once_is_one_run_and_one_409() {
    let Some(cluster) = Cluster::start("a_reconciliation_run_on_each_node") else {
        return;
    };
    let nodes = [cluster.node(&[]), cluster.node(&[])];
    for n in 0..40 {
        rate(&nodes[0], &format!("m{}", n % 8), &format!("u{n}"), 3).await;
    }
    let run =
        |node| async move { node_request(node, Method::POST, "/jobs/reconcile?chunk=2").await };
    let (first, second) = tokio::join!(run(&nodes[0]), run(&nodes[1]));
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "one run holds the lease, the other is refused: {:?} / {:?}",
        first.json(),
        second.json()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_from_one_node_imports_through_the_other_unchanged() {
    let Some(cluster) = Cluster::start("an_export_from_one_node_imports") else {
        return;
    };
    let nodes = [cluster.node(&[]), cluster.node(&[])];
    for n in 0..5 {
        let response = nodes[0]
            .request(
                Method::PUT,
                &format!("/metadata/x{n}"),
                Some(serde_json::json!({ "title": format!("Film {n}"), "director": "D" })),
            )
            .await
            .expect("the node answers");
        assert!(response.status.is_success(), "{:?}", response.json());
    }
    let export = node_request(&nodes[1], Method::GET, "/metadata/export").await;
    assert_eq!(export.status, StatusCode::OK, "export on the other node");
    let lines = String::from_utf8_lossy(&export.body).lines().count();
    assert_eq!(
        lines, 5,
        "every movie written on node 1 is in node 2's export"
    );

    let renamed = String::from_utf8_lossy(&export.body).replace("Film", "Movie");
    let request = http::Request::post("/metadata/import")
        .header("content-type", "application/x-ndjson")
        .header(
            "authorization",
            format!("Bearer {}", spin_test_host::movie_system::editor_token()),
        )
        .body(bytes::Bytes::from(renamed))
        .expect("request");
    let import = nodes[1].send(request).await.expect("the node answers");
    assert!(import.status.is_success(), "import: {:?}", import.json());
    let read = node_request(&nodes[0], Method::GET, "/metadata/x3").await;
    assert_eq!(
        read.json()["title"],
        "Movie 3",
        "node 1 reads node 2's import"
    );
}

async fn node_request(
    node: &spin_test_host::App,
    method: Method,
    path: &str,
) -> spin_test_host::TestResponse {
    node.request(method, path, None)
        .await
        .expect("the node answers")
}

/// Bad requests, each answered as on local files: what validation refuses never reaches the
/// libSQL server, and what the server refuses keeps its status.
#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_the_same_answers_on_libsql_as_on_local_files() {
    let Some(cluster) = Cluster::start("bad_input_gets_the_same_answers_on_libsql") else {
        return;
    };
    let remote = cluster.node(&[]);
    let local_root = tempfile::tempdir().expect("temp dir");
    let local = spin_test_host::movie_system::load(local_root.path(), Default::default())
        .expect("the movie system loads on local files");
    local.use_bearer(Some(spin_test_host::movie_system::editor_token()));
    let cases: [(Method, &str, Option<serde_json::Value>); 8] = [
        (
            Method::PUT,
            "/ratings/movie/m1/users/u1",
            Some(serde_json::json!({ "value": 9 })),
        ),
        (
            Method::PUT,
            "/ratings/movie/m1/users/u1",
            Some(serde_json::json!({ "value": "five" })),
        ),
        (Method::PUT, "/ratings/movie/m1/users/u1", None),
        (
            Method::PUT,
            "/ratings/movie/m%00/users/u1",
            Some(serde_json::json!({ "value": 3 })),
        ),
        (
            Method::PUT,
            "/metadata/m1",
            Some(serde_json::json!({ "title": "" })),
        ),
        (Method::GET, "/metadata/nobody-wrote-this", None),
        (Method::GET, "/ratings/movie/never-rated", None),
        (
            Method::POST,
            "/ratings/events",
            Some(serde_json::json!([{ "eventId": "x" }])),
        ),
    ];
    for (method, path, body) in cases {
        let on_local = local.request(method.clone(), path, body.clone()).await;
        let on_libsql = remote.request(method.clone(), path, body).await;
        let (on_local, on_libsql) = (
            on_local.expect("the local node answers"),
            on_libsql.expect("the libSQL node answers"),
        );
        assert!(
            on_local.status.is_client_error(),
            "{method} {path} is bad input: {}",
            on_local.status
        );
        assert_eq!(
            (on_libsql.status, on_libsql.json()["title"].clone()),
            (on_local.status, on_local.json()["title"].clone()),
            "{method} {path}: the same problem on libSQL as on local files"
        );
    }
}
