//! A programmable HTTP/1.1 server on loopback, standing in for an upstream.

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// What the stub answers to every request.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub delay: Duration,
}

impl Canned {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }
}

pub struct Stub {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    /// The `x-request-id` of every request, in arrival order (empty when absent).
    pub request_ids: Arc<Mutex<Vec<String>>>,
    canned: Arc<Mutex<Canned>>,
    task: JoinHandle<()>,
}

impl Stub {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Answers `canned` from now on: an upstream that goes down or comes back.
    pub fn answer(&self, canned: Canned) {
        *self.canned.lock().expect("stub lock") = canned;
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start(canned: Canned) -> Stub {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let canned = Arc::new(Mutex::new(canned));
    let answers = Arc::clone(&canned);
    let request_ids = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&request_ids);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let answers = Arc::clone(&answers);
            let counter = Arc::clone(&counter);
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<_>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    seen.lock().expect("stub lock").push(id);
                    let canned = answers.lock().expect("stub lock").clone();
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move {
                        tokio::time::sleep(canned.delay).await;
                        let response = http::Response::builder()
                            .status(canned.status)
                            .header("content-type", canned.content_type)
                            .body(Full::new(Bytes::from(canned.body)))
                            .expect("response");
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Stub {
        addr,
        hits,
        request_ids,
        canned,
        task,
    }
}

/// A loopback URL nobody listens on: a dead upstream (connection refused).
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}
