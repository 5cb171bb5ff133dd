//! The HTTP trigger, as `spin up` runs it: Spin's routing over `[[trigger.http]]`, the
//! `spin-*` headers and absolute request URI, a pool of reused instances per component, and
//! service chaining into the same components. Only components named by an HTTP trigger must
//! export `wasi:http/handler`.

pub mod client;
pub mod pool;
pub mod routing;
pub mod server;

use crate::component::ComponentRuntime;
use crate::manifest::Manifest;
use crate::state::HostState;
use anyhow::anyhow;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use pool::{HttpInstances, InstanceLimits};
use routing::{RouteMatch, Router};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use wasmtime::component::InstancePre;
use wasmtime_wasi_http::handler::{self, ProxyHandler, ProxyPre};
use wasmtime_wasi_http::p3::bindings::ServicePre;

/// The body of every response the host hands out.
pub type HostBody = UnsyncBoxBody<Bytes, wasmtime::Error>;
/// The body of every request the host takes in.
pub type RequestBody = UnsyncBoxBody<Bytes, handler::ErrorCode>;

/// The client address Spin reports for service-chaining requests.
pub const CHAINED_CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// The HTTP trigger before the app starts: its router, and each HTTP component bound to its
/// `wasi:http/handler@0.3.0` export (the step that fails for a component without one).
pub struct HttpPlan {
    router: Router,
    exports: HashMap<String, ServicePre<HostState>>,
}

impl HttpPlan {
    /// `linked` finds a component's linked code by id.
    pub fn new<'a>(
        manifest: &Manifest,
        linked: impl Fn(&str) -> Option<&'a InstancePre<HostState>>,
    ) -> anyhow::Result<Self> {
        let mut exports = HashMap::new();
        for id in manifest.http_components() {
            if exports.contains_key(id) {
                continue;
            }
            let pre =
                linked(id).ok_or_else(|| anyhow!("HTTP trigger names unknown component {id}"))?;
            let export = ServicePre::new(pre.clone()).map_err(|error| {
                anyhow!("component {id} has an HTTP trigger but does not export wasi:http/handler@0.3.0: {error:?}")
            })?;
            exports.insert(id.to_owned(), export);
        }
        Ok(Self {
            router: Router::build(manifest)?,
            exports,
        })
    }

    /// The running trigger: one instance pool per HTTP component.
    pub fn start(
        self,
        runtimes: &BTreeMap<String, Arc<ComponentRuntime>>,
        limits: InstanceLimits,
    ) -> HttpTrigger {
        let pools = self
            .exports
            .into_iter()
            .filter_map(|(id, export)| {
                let runtime = Arc::clone(runtimes.get(&id)?);
                let instances = HttpInstances {
                    runtime,
                    pre: ProxyPre::P3(export),
                    limits,
                };
                Some((id, ProxyHandler::new(instances)))
            })
            .collect();
        HttpTrigger {
            router: self.router,
            pools,
            default_authority: "127.0.0.1:3000".to_owned(),
        }
    }
}

pub struct HttpTrigger {
    router: Router,
    pools: HashMap<String, ProxyHandler<HttpInstances>>,
    /// Host and port used in `spin-full-url` when a request names none.
    default_authority: String,
}

impl HttpTrigger {
    /// Whether service chaining can reach `id` (it has an HTTP trigger, private or not).
    pub fn has_component(&self, id: &str) -> bool {
        self.pools.contains_key(id)
    }

    /// Handles one request as `spin up` would for a client at `client`.
    pub async fn handle(
        &self,
        request: Request<RequestBody>,
        client: SocketAddr,
    ) -> Response<HostBody> {
        // Spin answers its own paths before routing: `health` is 200 `OK` (a liveness probe
        // that runs no component), anything else there 404. (`info`, the app's name and
        // version, is not copied: nothing here relies on it.)
        if let Some(own) = request.uri().path().strip_prefix(SPIN_OWN_PREFIX) {
            return match own {
                "health" => ok_text("OK"),
                _ => empty(StatusCode::NOT_FOUND),
            };
        }
        let Some(route) = self.router.route(request.uri().path()) else {
            return empty(StatusCode::NOT_FOUND);
        };
        let authority = request
            .uri()
            .authority()
            .map(|a| a.to_string())
            .or_else(|| {
                request
                    .headers()
                    .get(HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| self.default_authority.clone());
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let full_url = format!("http://{authority}{path_and_query}");
        let (mut parts, body) = request.into_parts();
        parts.uri = match full_url.parse::<Uri>() {
            Ok(uri) => uri,
            Err(_) => return empty(StatusCode::BAD_REQUEST),
        };
        self.dispatch(&route, Request::from_parts(parts, body), &full_url, client)
            .await
    }

    /// Runs the routed component on the request; a trap or an error-code return becomes what
    /// Spin answers: 500 with an empty body.
    pub async fn dispatch<B>(
        &self,
        route: &RouteMatch,
        request: Request<B>,
        full_url: &str,
        client: SocketAddr,
    ) -> Response<HostBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<handler::ErrorCode>,
    {
        let Some(pool) = self.pools.get(&route.component) else {
            return empty(StatusCode::NOT_FOUND);
        };
        let (mut parts, body) = request.into_parts();
        route.set_spin_headers(&mut parts.headers, full_url, client);
        let request = Request::from_parts(parts, body.map_err(Into::into).boxed_unsync());
        match pool.handle((), request).await {
            Ok(response) => response,
            Err(error) => {
                let runtime = &pool.state().runtime;
                runtime.log.note(&format!("request failed: {error:?}"));
                empty(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

/// The paths Spin serves itself, whatever the app's routes.
pub const SPIN_OWN_PREFIX: &str = "/.well-known/spin/";

/// A 200 with a short text body and its length, as Spin answers its health path.
fn ok_text(text: &'static str) -> Response<HostBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
    response
}

/// A response with no body and `content-length: 0`, as Spin sends for 404 and 500.
fn empty(status: StatusCode) -> Response<HostBody> {
    let mut response = Response::new(
        Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}
