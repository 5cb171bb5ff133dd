//! The Valkey/Redis users of `deploy/valkey/users.acl.template`, installed on a real
//! `redis-server`: only rating's producer may append to the event stream, so the consumer
//! applies only entries rating wrote; every other client may do its own job and no more.
//! (The event tests run every pipeline scenario with these users, which shows that each
//! user allows what its component does.)

use super::events::redis_with_users;

const STREAM: &str = "ratings:events";
const DEAD: &str = "ratings:events:dead";
const WAKE: &str = "ratings:events:wake";

/// Runs one command as `url`'s user: `Ok` with the reply, or the server's refusal.
fn run(url: &str, name: &str, args: &[&str]) -> Result<redis::Value, String> {
    let mut connection = redis::Client::open(url)
        .and_then(|client| client.get_connection())
        .map_err(|error| error.to_string())?;
    let mut command = redis::cmd(name);
    for arg in args {
        command.arg(*arg);
    }
    command
        .query::<redis::Value>(&mut connection)
        .map_err(|error| error.to_string())
}

fn append(url: &str) -> Result<redis::Value, String> {
    run(url, "XADD", &[STREAM, "*", "event", "{}"])
}

#[test]
fn only_ratings_producer_may_append_to_the_event_stream() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let redis = redis_with_users();
    assert!(append(&redis.url_as("rating")).is_ok(), "rating's XADD");
    for (who, url) in [
        ("no user", redis.address()),
        ("rating-ingest", redis.url_as("rating-ingest")),
        ("movie", redis.url_as("movie")),
        ("rating-wake", redis.url_as("rating-wake")),
    ] {
        let refused = append(&url).expect_err(&format!("{who} appended to the stream"));
        assert!(
            refused.contains("NOPERM") || refused.contains("NOAUTH"),
            "{who}: {refused}"
        );
    }
    let wrong_password = format!("redis://rating:guessed@{}", &redis.address()[8..]);
    assert!(
        append(&wrong_password).is_err(),
        "rating's user with a wrong password appended"
    );
}

#[test]
fn rating_cannot_write_the_dead_letters_not_even_through_a_script() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let redis = redis_with_users();
    let rating = redis.url_as("rating");
    assert!(run(&rating, "XADD", &[DEAD, "*", "event", "{}"]).is_err());
    let script = "return redis.call('XADD', KEYS[1], '*', 'event', '{}')";
    assert!(run(&rating, "EVAL", &[script, "1", DEAD]).is_err());
    assert!(
        run(&rating, "XLEN", &[DEAD]).is_ok(),
        "rating reads the depth"
    );
}

#[test]
fn the_consumer_may_dead_letter_but_not_append_events() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let redis = redis_with_users();
    let ingest = redis.url_as("rating-ingest");
    assert!(run(&ingest, "XADD", &[DEAD, "*", "event", "{}"]).is_ok());
    let script = "return redis.call('XADD', KEYS[1], '*', 'event', '{}')";
    assert!(
        run(&ingest, "EVAL", &[script, "1", STREAM]).is_err(),
        "the consumer ran a script"
    );
}

#[test]
fn movie_may_use_its_cache_keys_and_nothing_else() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let redis = redis_with_users();
    let movie = redis.url_as("movie");
    // What Spin's Redis key-value backend sends for movie's get, set, delete and exists.
    for key in ["view:v1:m1", "breaker:v1", "health-probe"] {
        assert!(run(&movie, "SET", &[key, "x"]).is_ok(), "SET {key}");
        assert!(run(&movie, "GET", &[key]).is_ok(), "GET {key}");
        assert!(run(&movie, "EXISTS", &[key]).is_ok(), "EXISTS {key}");
        assert!(run(&movie, "DEL", &[key]).is_ok(), "DEL {key}");
    }
    assert!(
        run(&movie, "GET", &["secret"]).is_err(),
        "GET of a foreign key"
    );
    assert!(
        run(&movie, "XLEN", &[STREAM]).is_err(),
        "XLEN of the stream"
    );
    assert!(run(&movie, "PUBLISH", &[WAKE, "x"]).is_err(), "PUBLISH");
}

#[test]
fn without_a_password_only_the_wake_channel_can_be_subscribed() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let redis = redis_with_users();
    let anyone = redis.address();
    for (name, args) in [
        ("PUBLISH", vec![WAKE, "x"]),
        ("XLEN", vec![STREAM]),
        ("GET", vec!["view:v1:m1"]),
    ] {
        assert!(
            run(&anyone, name, &args).is_err(),
            "{name} without a password"
        );
    }
    let mut subscriber = redis::Client::open(anyone.as_str())
        .and_then(|client| client.get_connection())
        .expect("connects without a password");
    assert!(
        subscriber.as_pubsub().subscribe(WAKE).is_ok(),
        "SUBSCRIBE {WAKE}"
    );
    // The server's own verdict on a subscription elsewhere (a refused SUBSCRIBE reply is
    // not surfaced by the client's blocking API).
    let verdict = run(
        &redis.url(),
        "ACL",
        &["DRYRUN", "default", "SUBSCRIBE", "another-channel"],
    );
    assert!(
        verdict
            .as_ref()
            .is_ok_and(|reply| *reply != redis::Value::Okay),
        "SUBSCRIBE to another channel without a password: {verdict:?}"
    );
}

#[test]
fn the_scheduled_wake_up_may_only_publish_the_wake() {
    spin_test_host::require!(spin_test_host::tools::REDIS_SERVER);
    let redis = redis_with_users();
    let wake = redis.url_as("rating-wake");
    assert!(run(&wake, "PUBLISH", &[WAKE, "cron"]).is_ok());
    assert!(run(&wake, "PUBLISH", &["other", "x"]).is_err());
    assert!(run(&wake, "XLEN", &[STREAM]).is_err());
}
