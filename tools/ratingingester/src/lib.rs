//! The ingester's work, as functions a test can call: read and validate a file of events,
//! publish them, wake the consumer.
#![cfg(not(target_arch = "wasm32"))]

use rating::events::event::{self, RatingEvent};
use rating::events::stream::{APPEND_ALL, STREAM, WAKE_CHANNEL};

pub const USAGE: &str = "usage:
  ratingingester [--redis URL] [--chunk N] FILE   publish FILE's events (a JSON array)
  ratingingester wake [--redis URL]              wake the consumer
URL defaults to SPIN_VARIABLE_EVENTS_REDIS_URL, else redis://127.0.0.1:6379";

const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
/// Events per atomic publish: a chunk is one script run, which blocks the server meanwhile.
const DEFAULT_CHUNK: usize = 500;

/// Runs a command line; the text to print on success.
pub fn run(args: &[String]) -> Result<String, String> {
    let mut redis = std::env::var("SPIN_VARIABLE_EVENTS_REDIS_URL")
        .unwrap_or_else(|_| DEFAULT_REDIS.to_owned());
    let mut chunk = DEFAULT_CHUNK;
    let mut positional = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--redis" => redis = args.next().ok_or("--redis needs a URL")?.clone(),
            "--chunk" => {
                chunk = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| (1..=5_000).contains(n))
                    .ok_or("--chunk needs a number from 1 to 5000")?;
            }
            _ => positional.push(arg.as_str()),
        }
    }
    match positional.as_slice() {
        ["wake"] => {
            wake(&redis)?;
            Ok("woke the consumer".to_owned())
        }
        [file] => {
            let bytes = std::fs::read(file).map_err(|e| format!("reading {file}: {e}"))?;
            let events = read_events(&bytes).map_err(|errors| errors.join("\n"))?;
            let published = publish(&redis, &events, chunk)?;
            Ok(format!("published {published} events from {file}"))
        }
        _ => Err("expected a FILE or `wake`".to_owned()),
    }
}

/// Every event of a file in the book's format, completed with ids (from the file's digest)
/// and the schema version, or every problem found (`[3].value: must be an integer from 1 to 5`).
pub fn read_events(bytes: &[u8]) -> Result<Vec<RatingEvent>, Vec<String>> {
    let items: Vec<serde_json::Value> = match serde_json::from_slice(bytes) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(_) => return Err(vec!["the file must hold a JSON array of events".to_owned()]),
        Err(error) => return Err(vec![format!("the file is not valid JSON: {error}")]),
    };
    event::read_batch(items, &event::batch_digest(bytes)).map_err(|errors| {
        errors
            .into_vec()
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    })
}

fn connect(address: &str) -> Result<redis::Connection, String> {
    redis::Client::open(address)
        .and_then(|client| client.get_connection())
        .map_err(|e| format!("connecting to {address}: {e}"))
}

/// Publishes `events` in chunks, each one atomic step, then wakes the consumer. A failure
/// part-way leaves the chunks before it published: running the same file again is safe.
pub fn publish(address: &str, events: &[RatingEvent], chunk: usize) -> Result<usize, String> {
    let mut connection = connect(address)?;
    let mut published = 0;
    for part in events.chunks(chunk.max(1)) {
        let mut script = redis::cmd("EVAL");
        script.arg(APPEND_ALL).arg(1).arg(STREAM);
        for event in part {
            script.arg(event.to_payload());
        }
        let ids: Vec<String> = script
            .query(&mut connection)
            .map_err(|e| format!("publishing after {published} events: {e}"))?;
        published += ids.len();
    }
    redis::cmd("PUBLISH")
        .arg(WAKE_CHANNEL)
        .arg("wake")
        .query::<i64>(&mut connection)
        .map_err(|e| format!("waking the consumer: {e}"))?;
    Ok(published)
}

/// Wakes the consumer.
pub fn wake(address: &str) -> Result<(), String> {
    redis::cmd("PUBLISH")
        .arg(WAKE_CHANNEL)
        .arg("wake")
        .query::<i64>(&mut connect(address)?)
        .map(drop)
        .map_err(|e| format!("waking the consumer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOK_FILE: &[u8] = include_bytes!("../ratingsdata.json");

    #[test]
    fn the_books_file_is_read_with_ids_from_its_digest() {
        let events = read_events(BOOK_FILE).unwrap();
        assert_eq!(events.len(), 5);
        let digest = event::batch_digest(BOOK_FILE);
        assert_eq!(events[4].id.as_str(), format!("{digest}-4"));
    }

    #[test]
    fn every_invalid_event_is_reported_and_none_is_returned() {
        let file = br#"[{"userId":"1","recordId":"1","recordType":"1","value":7,"providerId":"p","eventType":"put"}, 3]"#;
        assert_eq!(
            read_events(file),
            Err(vec![
                "[0].value: must be an integer from 1 to 5".to_owned(),
                "[1]: must be an event object".to_owned()
            ])
        );
    }

    #[test]
    fn a_file_that_is_not_an_array_is_refused() {
        assert!(read_events(b"{}").is_err());
    }

    #[test]
    fn a_command_line_without_a_file_is_refused() {
        assert!(run(&[]).is_err());
        assert!(run(&["--chunk".to_owned(), "0".to_owned(), "f".to_owned()]).is_err());
    }
}
