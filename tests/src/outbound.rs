//! Outbound HTTP from a component, as Spin treats it: `allowed_outbound_hosts` first, then
//! `http://<component>.spin.internal` served in-process (service chaining), everything else
//! over real HTTP.

use crate::app::AppShared;
use crate::component::{ComponentConfig, ComponentStats};
use crate::triggers::http::CHAINED_CLIENT;
use crate::triggers::http::routing::RouteMatch;
use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use std::future::Future;
use std::sync::{Arc, Weak};
use wasmtime_wasi::TrappableError;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p3::{RequestOptions, WasiHttpHooks, default_send_request};

/// The app, seen from a component that chains to another. Weak: the app owns the components.
#[derive(Clone)]
pub struct Chain(pub Weak<AppShared>);

/// The suffix that makes a host a service-chaining target.
const CHAINING_SUFFIX: &str = ".spin.internal";

pub struct OutboundHooks {
    component: Arc<ComponentConfig>,
    chain: Chain,
    stats: Arc<ComponentStats>,
}

impl OutboundHooks {
    pub fn new(component: Arc<ComponentConfig>, chain: Chain, stats: Arc<ComponentStats>) -> Self {
        Self {
            component,
            chain,
            stats,
        }
    }
}

type Body = UnsyncBoxBody<Bytes, ErrorCode>;
type IoFuture = Box<dyn Future<Output = Result<(), ErrorCode>> + Send>;
type SendResult = Result<(http::Response<Body>, IoFuture), TrappableError<ErrorCode>>;

fn done() -> IoFuture {
    Box::new(async { Ok(()) })
}

fn count_not_modified(stats: &ComponentStats, status: http::StatusCode) {
    if status == http::StatusCode::NOT_MODIFIED {
        ComponentStats::count(&stats.outbound_not_modified);
    }
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<Body>,
        options: Option<RequestOptions>,
        _: IoFuture,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        ComponentStats::count(&self.stats.outbound_requests);
        if !self.component.allowed_hosts.allows(request.uri()) {
            return Box::new(async { Err(ErrorCode::HttpRequestDenied.into()) });
        }
        let target = request
            .uri()
            .host()
            .and_then(|host| host.strip_suffix(CHAINING_SUFFIX))
            .map(str::to_owned);
        if let Some(target) = target {
            let chain = self.chain.clone();
            let stats = Arc::clone(&self.stats);
            return Box::new(async move {
                let app = chain
                    .0
                    .upgrade()
                    .ok_or(ErrorCode::InternalError(Some("the app is gone".into())))?;
                if !app.http.has_component(&target) {
                    return Err(ErrorCode::DestinationNotFound.into());
                }
                let path = request.uri().path().to_owned();
                let route = RouteMatch::chained(&target, &path);
                let full_url = request.uri().to_string();
                let response = app
                    .http
                    .dispatch(&route, request, &full_url, CHAINED_CLIENT)
                    .await;
                count_not_modified(&stats, response.status());
                let response = response.map(|body| {
                    body.map_err(|error| ErrorCode::InternalError(Some(error.to_string())))
                        .boxed_unsync()
                });
                Ok((response, done()))
            });
        }
        let stats = Arc::clone(&self.stats);
        Box::new(async move {
            let (response, io) = default_send_request(request, options).await?;
            count_not_modified(&stats, response.status());
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as IoFuture,
            ))
        })
    }
}
