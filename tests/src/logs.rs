//! Per-component capture of guest stdout/stderr and of host events (traps), shown when a
//! test fails.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Keeps the last `CAPACITY` bytes a component wrote, so a chatty test cannot exhaust memory
/// and a guest write never fails (a failing `eprintln!` would panic the guest).
#[derive(Clone, Default)]
pub struct ComponentLog {
    bytes: Arc<Mutex<Vec<u8>>>,
}

const CAPACITY: usize = 1 << 20;

impl ComponentLog {
    pub fn append(&self, chunk: &[u8]) {
        if let Ok(mut bytes) = self.bytes.lock() {
            bytes.extend_from_slice(chunk);
            if bytes.len() > CAPACITY {
                let excess = bytes.len() - CAPACITY;
                bytes.drain(..excess);
            }
        }
    }

    pub fn note(&self, line: &str) {
        self.append(format!("[host] {line}\n").as_bytes());
    }

    pub fn contents(&self) -> String {
        self.bytes
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl IsTerminal for ComponentLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for ComponentLog {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for ComponentLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
