//! The ingester's work, as functions a test can call: read and validate a file of events,
//! publish them, wake the consumer.
#![cfg(not(target_arch = "wasm32"))]

use clap::{Args, Parser, Subcommand};
use rating::events::event::{self, RatingEvent};
use rating::events::stream::{APPEND_ALL, STREAM, WAKE_CHANNEL};
use std::path::PathBuf;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "ratingingester",
    version,
    about = "The book's rating ingester: publishes a file of rating events to the rating service's event log",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A JSON array of rating events in the book's format: every event is validated with the
    /// rating service's rules, and nothing is published if one is invalid. Events without
    /// `eventId` get `<digest of the file>-<index>`, so publishing a file again changes nothing.
    #[arg(required = true)]
    file: Option<PathBuf>,
    /// Events per atomic publish (each chunk is one script run, which blocks the server).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=5_000))]
    chunk: u16,
    #[command(flatten)]
    server: Server,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Wake the consumer: what a scheduler runs every minute, so entries left by a consumer
    /// that stopped are taken over.
    Wake {
        #[command(flatten)]
        server: Server,
    },
}

/// The event log's server.
#[derive(Debug, Args)]
struct Server {
    /// The Redis or Valkey URL, with an ACL user's credentials if it has users.
    #[arg(
        long,
        env = "SPIN_VARIABLE_EVENTS_REDIS_URL",
        hide_env_values = true,
        default_value = "redis://127.0.0.1:6379"
    )]
    redis: String,
}

/// Runs a command line (without the program name); the text to print on success (`--help`
/// included), or why it failed.
pub fn run(args: &[String]) -> Result<String, String> {
    match Cli::try_parse_from(command_line(args)) {
        Ok(cli) => execute(cli),
        Err(shown) if !shown.use_stderr() => Ok(shown.render().to_string()),
        Err(error) => Err(error.render().to_string()),
    }
}

/// Parses a command line (without the program name) as the binary would, without running
/// it: what a test of documented commands needs.
pub fn parse(args: &[String]) -> Result<Cli, String> {
    Cli::try_parse_from(command_line(args)).map_err(|error| error.render().to_string())
}

fn command_line(args: &[String]) -> impl Iterator<Item = &str> {
    std::iter::once("ratingingester").chain(args.iter().map(String::as_str))
}

/// Runs parsed arguments.
pub fn execute(cli: Cli) -> Result<String, String> {
    match (cli.command, cli.file) {
        (Some(Command::Wake { server }), _) => {
            wake(&server.redis)?;
            Ok("woke the consumer".to_owned())
        }
        (None, Some(file)) => {
            let shown = file.display();
            let bytes = std::fs::read(&file).map_err(|e| format!("reading {shown}: {e}"))?;
            let events = read_events(&bytes).map_err(|errors| errors.join("\n"))?;
            let published = publish(&cli.server.redis, &events, usize::from(cli.chunk))?;
            Ok(format!("published {published} events from {shown}"))
        }
        (None, None) => Err("expected a FILE or `wake` (see --help)".to_owned()),
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
        .map_err(|e| format!("connecting to {}: {e}", without_credentials(address)))
}

/// `address` as it may be printed: an ACL user's password stays out of error messages.
fn without_credentials(address: &str) -> String {
    match (address.split_once("://"), address.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://***@{host}"),
        _ => address.to_owned(),
    }
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

    fn line(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn a_command_line_without_a_file_is_refused() {
        let error = run(&[]).unwrap_err();
        assert!(error.contains("<FILE>"), "{error}");
    }

    #[test]
    fn a_chunk_out_of_range_is_refused_before_anything_is_read() {
        let error = run(&line(&["--chunk", "0", "missing.json"])).unwrap_err();
        assert!(error.contains("--chunk"), "{error}");
    }

    #[test]
    fn wake_is_a_command_not_a_file() {
        let cli =
            Cli::try_parse_from(["ratingingester", "wake", "--redis", "redis://h:1"]).unwrap();
        assert!(
            matches!(&cli.command, Some(Command::Wake { server }) if server.redis == "redis://h:1"),
            "{cli:?}"
        );
    }

    #[test]
    fn a_file_takes_the_redis_url_and_chunk() {
        let cli = Cli::try_parse_from([
            "ratingingester",
            "--redis",
            "redis://h:1",
            "--chunk",
            "7",
            "f.json",
        ])
        .unwrap();
        assert_eq!(
            (cli.file.as_deref(), cli.chunk, cli.server.redis.as_str()),
            (Some(std::path::Path::new("f.json")), 7, "redis://h:1")
        );
    }

    #[test]
    fn a_connection_error_never_prints_the_password() {
        let error = wake("redis://rating:s3cret@127.0.0.1:1").unwrap_err();
        assert!(
            !error.contains("s3cret") && error.contains("127.0.0.1:1"),
            "{error}"
        );
    }

    #[test]
    fn help_says_how_to_publish_and_wake() {
        let help = run(&line(&["--help"])).unwrap();
        assert!(help.contains("wake") && help.contains("<FILE>"), "{help}");
    }
}
