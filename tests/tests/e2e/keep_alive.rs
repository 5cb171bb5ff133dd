//! A response leaves in one write, so that a keep-alive client does not wait for its own
//! delayed acknowledgement (up to 40 ms) before the body. Spin's listener does not set
//! `TCP_NODELAY`, and its key-value store blocks the host's thread (the test host does the
//! same, `tests/src/key_value.rs`): a component that answered right after a store call had its
//! head written before its body (`service_kit::host_turn`). The check is how the bytes arrive,
//! not how long they take.

use super::common;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Requests sent one after another on one connection. `GET /health/movie` is the route with
/// the least work besides its one store read, so the hazard shows most often there.
const REQUESTS: usize = 200;

/// How many of `REQUESTS` may arrive in more than one piece: the host's scheduling is not
/// under the test's control, so one stray split is not a regression. Without the host's turn
/// after each store call, 14 of 200 split through the test host (104 of 200 under Spin 4.1);
/// with it, none.
const TOLERATED_SPLITS: usize = 1;

/// Reads one response of `connection`; returns how many reads it took and its status line.
async fn read_response(connection: &mut TcpStream) -> (usize, String) {
    let mut received = Vec::new();
    let mut reads = 0;
    loop {
        let mut buffer = [0u8; 65536];
        let count = connection
            .read(&mut buffer)
            .await
            .expect("reading a response");
        assert!(count > 0, "the connection closed mid-response");
        received.extend_from_slice(&buffer[..count]);
        reads += 1;
        let text = String::from_utf8_lossy(&received);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .expect("every response here states its length");
        if body.len() >= length {
            let status = head.lines().next().unwrap_or_default().to_owned();
            return (reads, status);
        }
    }
}

/// Sends `GET path` `requests` times on one keep-alive connection; returns how many responses
/// arrived in more than one read.
async fn splits(url: &str, path: &str, requests: usize) -> usize {
    let address = url.trim_start_matches("http://");
    let mut connection = TcpStream::connect(address).await.expect("connecting");
    let mut split = 0;
    for _ in 0..requests {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        connection
            .write_all(request.as_bytes())
            .await
            .expect("sending a request");
        let (reads, status) = read_response(&mut connection).await;
        assert!(
            status.starts_with("HTTP/1.1 200"),
            "GET {path}: unexpected {status}"
        );
        split += usize::from(reads > 1);
    }
    split
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_after_a_store_read_leaves_in_one_write() {
    let system = common::movie_system();
    let server = system.app.serve().await.expect("serving the app");
    let split = splits(&server.url(), "/health/movie", REQUESTS).await;
    assert!(
        split <= TOLERATED_SPLITS,
        "{split} of {REQUESTS} health responses (one store read each) arrived in pieces"
    );
}

/// Clients at once, each on its own keep-alive connection: as many as an instance serves
/// together under Spin.
const CLIENTS: usize = 16;

#[tokio::test(flavor = "multi_thread")]
async fn a_store_read_does_not_split_another_requests_response() {
    let system = common::movie_system();
    let server = system.app.serve().await.expect("serving the app");
    let url = server.url();
    let per_client = REQUESTS / 4;
    let clients = (0..CLIENTS).map(|_| splits(&url, "/health/movie", per_client));
    let split: usize = futures::future::join_all(clients).await.into_iter().sum();
    assert!(
        split <= TOLERATED_SPLITS,
        "{split} of {} health responses of {CLIENTS} clients at once arrived in pieces",
        CLIENTS * per_client
    );
}
