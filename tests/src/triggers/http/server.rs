//! Serving the app over real HTTP/1.1 and h2c on loopback, for black-box clients and load
//! tools.

use crate::app::{App, AppShared};
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use wasmtime_wasi_http::handler;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;

/// A listening server; dropping it stops accepting connections.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl App {
    /// Serves on `127.0.0.1:0` (HTTP/1.1, and HTTP/2 with prior knowledge).
    pub async fn serve(&self) -> anyhow::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::clone(self.shared());
        let task = tokio::spawn(accept(listener, shared));
        Ok(Server { addr, task })
    }
}

async fn accept(listener: TcpListener, app: Arc<AppShared>) {
    loop {
        let Ok((stream, client)) = listener.accept().await else {
            continue;
        };
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let app = Arc::clone(&app);
                async move {
                    let request = request.map(|body| {
                        body.map_err(|_| handler::ErrorCode::from(ErrorCode::HttpProtocolError))
                            .boxed_unsync()
                    });
                    let response = app.http.handle(request, client).await;
                    Ok::<_, Infallible>(
                        response
                            .map(|body| body.map_err(|e| std::io::Error::other(format!("{e:?}")))),
                    )
                }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
