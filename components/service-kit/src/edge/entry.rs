//! A component's whole entry point ([`run`]): its edge, its service, then the request served.

use super::access::AccessNotes;
use super::problem::Problem;
use super::request::RequestBody;
use super::respond::{self, HttpResponse};
use super::routes::{HttpService, serve_noted};
use super::setup::EdgeConfig;
use http::Request;

/// Why a service could not be built for a request.
#[derive(Debug)]
pub enum Setup {
    /// A variable is unusable: every request would fail alike (500, logged).
    Misconfigured(Box<dyn std::error::Error>),
    /// Something the service needs failed for now (its store): this problem answers.
    Unavailable(Problem),
}

impl<E: std::error::Error + 'static> From<E> for Setup {
    fn from(error: E) -> Self {
        Self::Misconfigured(Box::new(error))
    }
}

/// A component's whole entry point: its edge from `config`, its service from `build` (which
/// may settle things on the request first, like the request id its upstreams share, and adds
/// notes to the access line), then the request served. The response is handed over counted
/// as unsent until the host has taken it ([`crate::host_turn`]).
pub async fn run<S, N, B>(
    config: impl EdgeConfig,
    mut request: Request<B>,
    build: impl AsyncFnOnce(&mut Request<B>) -> Result<(S, N), Setup>,
) -> HttpResponse
where
    S: HttpService,
    N: AccessNotes,
    B: RequestBody,
{
    // Named first, so every line the setup writes says whose it is.
    crate::telemetry::name_component(S::NAME);
    let response = match config.edge::<S::Tokens>().await {
        Err(error) => respond::misconfigured(S::NAME, error),
        Ok(edge) => match build(&mut request).await {
            Ok((service, notes)) => serve_noted(&edge, &service, request, &notes).await,
            Err(Setup::Misconfigured(error)) => respond::misconfigured(S::NAME, error),
            Err(Setup::Unavailable(problem)) => {
                crate::telemetry::warn("component.unavailable")
                    .cause(problem.detail())
                    .emit();
                problem.into_response()
            }
        },
    };
    response.map(super::body::Body::handed_over)
}
