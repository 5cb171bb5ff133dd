//! Asynchronous rating ingestion end to end: a real `redis-server`, the HTTP app
//! (`spin.toml`) and the consumer's app (`spin-events.toml`) over one `ratings` database, as
//! two `spin up` processes would run them.

use super::common;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use spin_test_host::redis_server::RedisServer;
use spin_test_host::triggers::redis::RedisListeners;
use spin_test_host::{App, AppOptions, TestResponse, movie_system};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const STREAM: &str = "ratings:events";
const DEAD: &str = "ratings:events:dead";
const WAKE: &str = "ratings:events:wake";
/// Entries pending this long are taken over; short so the tests need not wait.
const CLAIM_IDLE_MS: &str = "300";

/// Redis, the HTTP app and the consumer, over one directory.
pub struct Pipeline {
    pub redis: RedisServer,
    pub root: tempfile::TempDir,
    pub http: App,
    pub consumer: App,
    pub listeners: RedisListeners,
}

/// A Redis server with the system's ACL users (`deploy/valkey/users.acl.template`), so every
/// event test also proves that each client's user allows what it does.
pub fn redis_with_users() -> RedisServer {
    RedisServer::start_with_users(&common::repo_root().join("deploy/valkey/users.acl.template"))
}

/// Where the event log is, and the ACL user a component reaches it as.
fn log_variables(redis: &RedisServer, user: &str) -> HashMap<String, String> {
    [
        ("events_redis_url".to_owned(), redis.address()),
        ("events_redis_user".to_owned(), user.to_owned()),
        (
            "events_redis_password".to_owned(),
            RedisServer::password(user),
        ),
    ]
    .into()
}

/// The HTTP app's settings: the event log, as user `rating`.
fn http_variables(redis: &RedisServer) -> HashMap<String, String> {
    log_variables(redis, "rating")
}

/// The consumer's settings: the same log as user `rating-ingest`, and a short takeover time.
fn consumer_variables(redis: &RedisServer) -> HashMap<String, String> {
    let mut variables = log_variables(redis, "rating-ingest");
    variables.insert("events_claim_idle_ms".to_owned(), CLAIM_IDLE_MS.to_owned());
    variables
}

/// Loads the consumer's app over `root` and starts its trigger, as its supervisor would.
pub async fn start_consumer(redis: &RedisServer, root: &std::path::Path) -> (App, RedisListeners) {
    let options = AppOptions {
        variables: consumer_variables(redis),
        ..AppOptions::default()
    };
    let consumer = movie_system::load_events(root, options).expect("spin-events.toml loads");
    let listeners = consumer
        .start_redis()
        .await
        .expect("the Redis trigger starts");
    (consumer, listeners)
}

pub async fn pipeline() -> Pipeline {
    let redis = redis_with_users();
    let root = tempfile::tempdir().expect("temp dir");
    let options = AppOptions {
        variables: http_variables(&redis),
        ..AppOptions::default()
    };
    let http = common::load_in(root.path(), options);
    let (consumer, listeners) = start_consumer(&redis, root.path()).await;
    Pipeline {
        redis,
        root,
        http,
        consumer,
        listeners,
    }
}

impl Pipeline {
    fn stream_length(&self) -> u64 {
        self.redis.command("XLEN", &[STREAM])
    }

    fn wake(&self) {
        self.redis.command::<i64>("PUBLISH", &[WAKE, "test"]);
    }

    /// Wakes the consumer every 100 ms until `done` holds (at most 20 s): the wake-ups a
    /// scheduler would send, so entries left pending are taken over.
    async fn wake_until(&self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "{what} never happened:\n{}",
                self.consumer.logs()
            );
            self.wake();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every published entry is applied or dead-lettered.
    async fn drained(&self) {
        self.wake_until("the stream emptying", |p| p.stream_length() == 0)
            .await;
    }

    async fn publish(&self, events: Value) -> TestResponse {
        self.http
            .request(Method::POST, "/ratings/events", Some(events))
            .await
            .expect("the app answers")
    }

    async fn aggregate(&self, record_type: &str, record_id: &str) -> Value {
        let path = format!("/ratings/{record_type}/{record_id}");
        let response = self.http.request(Method::GET, &path, None).await.unwrap();
        match response.status {
            StatusCode::OK => {
                let body = response.json();
                json!([body["average"], body["count"]])
            }
            status => json!(status.as_u16()),
        }
    }

    async fn health(&self) -> Value {
        let response = self
            .http
            .request(Method::GET, "/health/rating", None)
            .await
            .unwrap();
        assert_eq!(response.status, StatusCode::OK, "rating is healthy");
        response.json()["events"].clone()
    }

    fn dead_letters(&self) -> Vec<HashMap<String, String>> {
        let entries: Vec<(String, HashMap<String, String>)> =
            self.redis.command("XRANGE", &[DEAD, "-", "+"]);
        entries.into_iter().map(|(_, fields)| fields).collect()
    }
}

fn put(id: &str, user: &str, record: &str, value: u8) -> Value {
    json!({"eventId": id, "userId": user, "recordId": record, "recordType": "movie",
           "value": value, "providerId": "test-provider", "eventType": "put"})
}

fn delete(id: &str, user: &str, record: &str) -> Value {
    json!({"eventId": id, "userId": user, "recordId": record, "recordType": "movie",
           "providerId": "test-provider", "eventType": "delete"})
}

/// A wire event as a foreign producer would XADD it.
fn wire(event: &Value) -> String {
    let mut event = event.clone();
    event["schemaVersion"] = json!("1.0");
    event.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_books_file_is_ingested_end_to_end_and_a_second_run_changes_nothing() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let p = pipeline().await;
    let file = common::repo_root().join("tools/ratingingester/ratingsdata.json");
    let events = ratingingester::read_events(&std::fs::read(&file).unwrap()).unwrap();
    let published = ratingingester::publish(&p.redis.url_as("rating"), &events, 2).unwrap();
    assert_eq!(published, 5, "events published from the book's file");
    p.drained().await;
    let aggregates = json!([p.aggregate("1", "1").await, p.aggregate("1", "2").await]);
    assert_eq!(
        aggregates,
        json!([[4.0, 2], [4.0, 1]]),
        "records 1 and 2 of type 1 after the book's file (107's rating of 2 deleted)"
    );
    let applied = p.health().await["lastApplied"]["appliedTotal"].clone();
    ratingingester::publish(&p.redis.url_as("rating"), &events, 500).unwrap();
    p.drained().await;
    assert_eq!(
        (
            p.health().await["lastApplied"]["appliedTotal"].clone(),
            p.aggregate("1", "2").await
        ),
        (applied, json!([4.0, 1])),
        "the same file again: nothing applied, nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn posted_events_are_accepted_then_applied_once_however_often_they_are_sent() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let p = pipeline().await;
    let batch = json!([put("e1", "u1", "m1", 5), put("e2", "u2", "m1", 3)]);
    for attempt in 0..3 {
        let response = p.publish(batch.clone()).await;
        assert_eq!(
            (response.status, response.json()),
            (StatusCode::ACCEPTED, json!({"accepted": 2})),
            "POST /ratings/events, attempt {attempt}"
        );
    }
    p.drained().await;
    assert_eq!(p.aggregate("movie", "m1").await, json!([4.0, 2]));
    let health = p.health().await;
    assert_eq!(
        (&health["lag"], &health["lastApplied"]["appliedTotal"]),
        (&json!(0), &json!(2)),
        "the health report after three sends of two events: {health}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_without_ids_get_stable_ones_so_a_resent_batch_is_not_applied_twice() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let p = pipeline().await;
    let anonymous = |value| {
        json!([{"userId": "u1", "recordId": "m1", "recordType": "movie", "value": value,
                 "providerId": "p", "eventType": "put"}])
    };
    p.publish(anonymous(5)).await;
    p.drained().await;
    p.publish(json!([put("later", "u1", "m1", 2)])).await;
    p.publish(anonymous(5)).await;
    p.drained().await;
    assert_eq!(
        p.aggregate("movie", "m1").await,
        json!([2.0, 1]),
        "the re-sent batch is the same event: the later put stands"
    );
}

impl Pipeline {
    /// Appends `event` and has a consumer take it and die before acknowledging it: the entry
    /// stays pending until it is taken over, after entries appended later were applied.
    fn append_and_lose(&self, event: &Value) {
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg(&["CREATE", STREAM, "rating-ingest", "0", "MKSTREAM"])
            .query(&mut self.redis.client());
        if let Err(error) = created {
            assert_eq!(
                error.code(),
                Some("BUSYGROUP"),
                "creating the group: {error}"
            );
        }
        self.redis
            .command::<String>("XADD", &[STREAM, "*", "event", &wire(event)]);
        let _: redis::Value = self.redis.command(
            "XREADGROUP",
            &[
                "GROUP",
                "rating-ingest",
                "lost",
                "COUNT",
                "1",
                "STREAMS",
                STREAM,
                ">",
            ],
        );
    }

    /// Entries delivered and not yet acknowledged.
    fn pending(&self) -> u64 {
        let (count, ..): (u64, redis::Value, redis::Value, redis::Value) =
            self.redis.command("XPENDING", &[STREAM, "rating-ingest"]);
        count
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_entry_delivered_late_does_not_undo_a_newer_one() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let p = pipeline().await;
    p.append_and_lose(&put("old", "u1", "m1", 1));
    p.publish(json!([put("new", "u1", "m1", 4)])).await;
    p.drained().await;
    assert_eq!(
        p.aggregate("movie", "m1").await,
        json!([4.0, 1]),
        "the newer put stands after the older one was taken over"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delete_is_not_undone_by_an_older_put_delivered_after_it() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let p = pipeline().await;
    p.append_and_lose(&put("old-put", "u1", "m1", 5));
    p.publish(json!([put("a", "u1", "m1", 3), delete("b", "u1", "m1")]))
        .await;
    p.drained().await;
    assert_eq!(
        p.aggregate("movie", "m1").await,
        json!(404),
        "an entry older than the delete leaves the rating deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_unknown_version_and_foreign_entries_are_dead_lettered_with_their_reason() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let p = pipeline().await;
    let invalid = wire(&put("bad-value", "u1", "m1", 9));
    let mut future = put("v2", "u2", "m1", 4);
    future["schemaVersion"] = json!("2.0");
    let valid = wire(&put("good", "u3", "m1", 4));
    for payload in [invalid.as_str(), &future.to_string(), "not json", &valid] {
        p.redis
            .command::<String>("XADD", &[STREAM, "*", "event", payload]);
    }
    p.redis
        .command::<String>("XADD", &[STREAM, "*", "value", "5", "user", "u4"]);
    p.drained().await;
    let reasons: Vec<(String, String)> = p
        .dead_letters()
        .into_iter()
        .map(|fields| (fields["reason"].clone(), fields["event"].clone()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                "invalid event: value: must be an integer from 1 to 5".to_owned(),
                invalid
            ),
            (
                "invalid event: schemaVersion: major version 2 is not supported; this consumer reads 1.x"
                    .to_owned(),
                future.to_string()
            ),
            (
                "not valid JSON: expected ident at line 1 column 2".to_owned(),
                "not json".to_owned()
            ),
            (
                "the entry must have exactly one field, `event`".to_owned(),
                r#"{"user":"u4","value":"5"}"#.to_owned()
            ),
        ],
        "the dead letters, in stream order, with what was sent"
    );
    assert_eq!(
        (
            p.aggregate("movie", "m1").await,
            p.health().await["deadLetters"].clone()
        ),
        (json!([4.0, 1]), json!(4)),
        "only the valid event applied; the health report counts the dead letters"
    );
    let logged: Vec<Value> = p
        .consumer
        .log("rating-ingest")
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["event.name"] == "events.dead_lettered")
        .collect();
    assert_eq!(
        logged.len(),
        4,
        "one warn line per dead letter, for the collector to count: {logged:?}"
    );
    assert!(
        logged.iter().all(|line| line["level"] == "warn"
            && line["service.name"] == "rating-ingest"
            && line["error.message"].is_string()),
        "{logged:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_that_traps_mid_batch_loses_nothing_and_applies_nothing_twice() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let p = pipeline().await;
    // Migrate the database first, so the consumer's statements are its own.
    p.health().await;
    let consumer = p.consumer.stats("rating-ingest").unwrap();
    // A cold consumer connection runs three setup statements, then BEGIN and the batch's
    // first insert: the sixth is inside the transaction.
    consumer.trap_at_statement(6);
    let events: Vec<Value> = (0..100)
        .map(|i| put(&format!("e{i}"), &format!("u{i}"), "m1", 1 + (i % 5) as u8))
        .collect();
    p.publish(Value::Array(events)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while consumer.trapped() == 0 {
        assert!(Instant::now() < deadline, "the consumer never trapped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pending = (p.pending(), p.aggregate("movie", "m1").await);
    assert_eq!(
        pending,
        (100, json!(404)),
        "after the trap: every entry pending, nothing applied"
    );
    p.drained().await;
    assert_eq!(
        (
            p.aggregate("movie", "m1").await,
            p.health().await["lastApplied"]["appliedTotal"].clone(),
            consumer.trapped()
        ),
        (json!([3.0, 100]), json!(100), 1),
        "after recovery: each of the 100 events applied once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_restart_stops_the_consumer_loses_nothing_and_the_http_api_stays_up() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let mut p = pipeline().await;
    let first: Vec<Value> = (0..20)
        .map(|i| put(&format!("a{i}"), &format!("u{i}"), "m1", 5))
        .collect();
    p.publish(Value::Array(first)).await;
    p.drained().await;
    p.redis.stop();
    let exit = tokio::time::timeout(Duration::from_secs(10), p.listeners.exit())
        .await
        .expect("the trigger exits when Redis goes");
    assert!(
        exit.to_string().starts_with("disconnected from"),
        "the trigger's exit: {exit}"
    );
    let refused = p.publish(json!([put("x", "u1", "m2", 1)])).await;
    common::assert_problem(
        &refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "POST during the outage",
    );
    assert_eq!(
        (
            refused.header("retry-after"),
            p.health().await["status"].clone(),
            p.aggregate("movie", "m1").await
        ),
        (Some("5"), json!("unreachable"), json!([5.0, 20])),
        "during the outage: publishing says when to retry, reads and health still answer"
    );
    p.redis.start_again();
    // The supervisor starts the consumer again.
    let (consumer, listeners) = start_consumer(&p.redis, p.root.path()).await;
    (p.consumer, p.listeners) = (consumer, listeners);
    let second: Vec<Value> = (20..40)
        .map(|i| put(&format!("a{i}"), &format!("u{i}"), "m1", 1))
        .collect();
    p.publish(Value::Array(second)).await;
    p.drained().await;
    assert_eq!(
        p.aggregate("movie", "m1").await,
        json!([3.0, 40]),
        "every event from before and after the restart applied once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn publishing_needs_ratings_admin_and_a_valid_batch_and_a_refused_batch_publishes_nothing() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let p = pipeline().await;
    let batch = json!([put("e1", "u1", "m1", 5)]);
    let writer = movie_system::token("u1", "ratings:write");
    let anonymous = p
        .http
        .request_as(None, Method::POST, "/ratings/events", Some(batch.clone()))
        .await
        .unwrap();
    let writer = p
        .http
        .request_as(Some(&writer), Method::POST, "/ratings/events", Some(batch))
        .await
        .unwrap();
    assert_eq!(
        (anonymous.status, writer.status),
        (StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN),
        "without a token, and with ratings:write only"
    );
    let invalid = p
        .publish(json!([
            put("ok", "u1", "m1", 5),
            put("bad", "", "m1", 0),
            7
        ]))
        .await;
    common::assert_problem(&invalid, StatusCode::BAD_REQUEST, "an invalid batch");
    let fields: Vec<Value> = invalid.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(
        fields,
        [json!("[1].userId"), json!("[1].value"), json!("[2]")]
    );
    let empty = p.publish(json!([])).await;
    common::assert_problem(&empty, StatusCode::BAD_REQUEST, "an empty batch");
    assert_eq!(p.stream_length(), 0, "nothing refused was published");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_redis_the_http_system_runs_and_only_publishing_says_so() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let closed = RedisServer::start();
    let url = closed.url();
    drop(closed);
    let app = common::movie_system_with(AppOptions {
        variables: [("events_redis_url".to_owned(), url)].into(),
        ..AppOptions::default()
    });
    let refused = app
        .request(
            Method::POST,
            "/ratings/events",
            Some(json!([put("e", "u", "m", 1)])),
        )
        .await
        .unwrap();
    common::assert_problem(
        &refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "POST without Redis",
    );
    let health = app
        .request(Method::GET, "/health/rating", None)
        .await
        .unwrap();
    let rated = app
        .request(
            Method::PUT,
            "/ratings/movie/m/users/u",
            Some(json!({"value": 4})),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            health.status,
            health.json()["events"]["status"].clone(),
            rated.status
        ),
        (StatusCode::OK, json!("unreachable"), StatusCode::CREATED),
        "health passes and writes work without the event log"
    );
}

// ---- cost --------------------------------------------------------------------------------

/// What one wake-up of a cold consumer costs, for a backlog of `events` events.
async fn wake_cost(events: usize) -> (usize, usize) {
    let p = pipeline().await;
    p.health().await;
    let stats = p.consumer.stats("rating-ingest").unwrap();
    let batch: Vec<Value> = (0..events)
        .map(|i| put(&format!("e{i}"), &format!("u{i}"), "m1", 3))
        .collect();
    // Published straight to the stream, without the wake-up a producer sends.
    for event in &batch {
        p.redis
            .command::<String>("XADD", &[STREAM, "*", "event", &wire(event)]);
    }
    let (statements, commands) = (stats.sqlite_statements(), stats.redis_commands());
    let handled = p.listeners.handled();
    p.wake();
    while p.listeners.handled() == handled {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(p.stream_length(), 0, "one wake-up drained {events} events");
    (
        stats.sqlite_statements() - statements,
        stats.redis_commands() - commands,
    )
}

/// A batch is a fixed number of statements and commands, whatever its size: setup (3), one
/// transaction of BEGIN, five multi-row statements and COMMIT; Redis: create the group, look
/// for abandoned entries, read, acknowledge, delete, and one more look and read to find the
/// stream empty.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_costs_the_same_statements_and_commands_whatever_its_size() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let (small, large) = (wake_cost(5).await, wake_cost(400).await);
    assert_eq!(
        (small, large),
        ((10, 7), (10, 7)),
        "(SQLite statements, Redis commands) of one wake-up for 5 and for 400 events"
    );
}

/// Publishing is one Redis connection and two commands (the append script and the wake-up),
/// and the write's rate-limit count: no rating is written by the request.
#[tokio::test(flavor = "multi_thread")]
async fn a_published_batch_costs_one_connection_two_commands_and_one_statement() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let p = pipeline().await;
    p.publish(json!([put("warm", "u0", "m1", 1)])).await;
    let rating = p.http.stats("rating").unwrap();
    let before = (
        rating.redis_opens(),
        rating.redis_commands(),
        rating.sqlite_statements(),
    );
    let batch: Vec<Value> = (0..50)
        .map(|i| put(&format!("e{i}"), &format!("u{i}"), "m1", 3))
        .collect();
    p.publish(Value::Array(batch)).await;
    let after = (
        rating.redis_opens(),
        rating.redis_commands(),
        rating.sqlite_statements(),
    );
    assert_eq!(
        (after.0 - before.0, after.1 - before.1, after.2 - before.2),
        (1, 2, 1),
        "(Redis connections, Redis commands, SQLite statements) of POST /ratings/events"
    );
}
