//! `ratingingester`: the book's rating ingester, for the rating service's event log.
//!
//! - `ratingingester [--redis URL] [--chunk N] FILE`: reads FILE (a JSON array of rating
//!   events, the book's format), validates every event with the rating service's rules, and
//!   publishes them in chunks of N (default 500), each chunk one atomic step, then wakes the
//!   consumer. Nothing is published if any event is invalid. Events without `eventId` get
//!   `<digest of the file>-<index>`, so running the same file again changes nothing.
//! - `ratingingester wake [--redis URL]`: wakes the consumer (what a scheduler runs every
//!   minute, so entries left by a consumer that stopped are taken over).
//!
//! URL defaults to `SPIN_VARIABLE_EVENTS_REDIS_URL`, else `redis://127.0.0.1:6379`
//! (`ratingingester --help`).
#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    match ratingingester::execute(ratingingester::Cli::parse()) {
        Ok(output) => {
            println!("{output}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ratingingester: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
