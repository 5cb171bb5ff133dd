//! Test doubles and helpers for the components' native tests: a switch that makes a store
//! fail, tokens of a test issuer, and requests built, run and read without a host.
//!
//! Compiled for the kit's own tests and, through the `testing` feature, for the components'
//! dev-dependencies only: nothing here ships in a component.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::HttpResponse;
use crate::auth::config::Trust;
use crate::auth::sign::{Issue, Signer};
use crate::auth::{KeySet, TrustPolicy, scopes};
use crate::edge::{Counter, Edge, HttpService, NoTokens, Tokens};
use crate::rate_limit::{Limits, RatePolicy};
use crate::storage::StorageFailure;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

pub use futures::executor::block_on;

/// Makes an in-memory repository fail like an unreachable store, to test error paths.
#[derive(Debug, Default)]
pub struct FailureSwitch(std::cell::Cell<bool>);

impl FailureSwitch {
    pub fn set(&self, failing: bool) {
        self.0.set(failing);
    }

    pub fn check(&self) -> Result<(), StorageFailure> {
        if self.0.get() {
            Err(StorageFailure::Broken("the store was told to fail".into()))
        } else {
            Ok(())
        }
    }
}

/// The issuer and audience of test tokens.
pub const ISSUER: &str = "https://auth.test";
pub const AUDIENCE: &str = "movie-system";

fn signer() -> Signer {
    Signer::from_seed([42; 32])
}

/// A trust in the test issuer's key alone, as a service is configured with `jwt_jwks`.
pub fn trust() -> std::rc::Rc<Trust> {
    let policy = TrustPolicy {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway: chrono::Duration::seconds(30),
        hs256: None,
    };
    std::rc::Rc::new(Trust::inline(policy, KeySet::new([signer().public_key()])))
}

/// A token of the test issuer for `subject` with `scope`, valid for five minutes from now.
pub fn token(subject: &str, scope: &str) -> String {
    signer().sign(&Issue {
        issuer: ISSUER,
        audience: AUDIENCE,
        subject,
        scope,
        id: "test",
        now: crate::auth::config::now(),
        lifetime: chrono::Duration::minutes(5),
    })
}

/// A token holding every scope: what [`request`] and [`call`] send, so a handler test is
/// about the handler; the access rules have tests of their own.
pub fn editor_token() -> String {
    token("editor", &scopes::ALL.join(" "))
}

/// A request from an editor holding every scope, with a JSON body (or none when `body` is
/// `None`).
pub fn request(method: Method, uri: &str, body: Option<Value>) -> Request<Full<Bytes>> {
    request_as(Some(&editor_token()), method, uri, body)
}

/// A request with `token` as its bearer credentials (none when `None`).
pub fn request_as(
    token: Option<&str>,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let bytes = match body {
        Some(body) => {
            builder = builder.header("content-type", "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    builder.body(Full::new(bytes)).unwrap()
}

/// The tokens a test edge checks: the test issuer's ([`trust`]), or none.
pub trait TestTokens: Tokens {
    fn for_tests() -> Self;
}

impl TestTokens for NoTokens {
    fn for_tests() -> Self {
        NoTokens
    }
}

impl TestTokens for std::rc::Rc<Trust> {
    fn for_tests() -> Self {
        trust()
    }
}

/// The edge every helper here serves through unless told otherwise: the test issuer's tokens
/// trusted, nothing counted.
pub fn edge<S: HttpService>() -> Edge<S::Tokens>
where
    S::Tokens: TestTokens,
{
    Edge::new(S::Tokens::for_tests())
}

/// A test edge that counts each client's requests in memory against `quota` per
/// `window_s`.
pub fn limited_edge<S: HttpService>(quota: u32, window_s: u32) -> Edge<S::Tokens>
where
    S::Tokens: TestTokens,
{
    let limits = Limits {
        policy: RatePolicy { quota, window_s },
        ..Limits::OFF
    };
    edge::<S>().with_limits(limits, Counter::memory())
}

/// Serves `request` through the [`edge`] of tests: what a test that builds its own request
/// calls instead of [`crate::edge::serve`].
pub async fn serve<S: HttpService, B: crate::edge::RequestBody>(
    service: &S,
    request: Request<B>,
) -> HttpResponse
where
    S::Tokens: TestTokens,
{
    crate::edge::serve(&edge::<S>(), service, request).await
}

/// Sends a request with an optional JSON body through `service`'s routes.
pub fn respond<S: HttpService>(
    service: &S,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> HttpResponse
where
    S::Tokens: TestTokens,
{
    respond_through(&edge::<S>(), service, method, uri, body)
}

/// [`respond`] through `edge`.
pub fn respond_through<S: HttpService>(
    edge: &Edge<S::Tokens>,
    service: &S,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> HttpResponse {
    block_on(crate::edge::serve(
        edge,
        service,
        request(method, uri, body),
    ))
}

/// The status and JSON body `service` answers to a request.
pub fn call<S: HttpService>(
    service: &S,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value)
where
    S::Tokens: TestTokens,
{
    read(respond(service, method, uri, body))
}

/// The status and JSON body `service` answers to a request with `token` (none when `None`).
pub fn call_as<S: HttpService>(
    service: &S,
    token: Option<&str>,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value)
where
    S::Tokens: TestTokens,
{
    read(block_on(serve(
        service,
        request_as(token, method, uri, body),
    )))
}

/// The status and JSON body of `service`'s health report.
pub fn health<S: HttpService>(service: &S) -> (StatusCode, Value)
where
    S::Tokens: TestTokens,
{
    call(service, Method::GET, &format!("/health/{}", S::NAME), None)
}

/// Asserts that an answer is an RFC 9457 problem with `status`, naming `request` if not.
pub fn assert_problem((status, body): &(StatusCode, Value), expected: StatusCode, request: &str) {
    assert_eq!(
        (*status, body["status"].as_u64(), body["type"].as_str()),
        (
            expected,
            Some(u64::from(expected.as_u16())),
            Some("about:blank")
        ),
        "{request}: {body}"
    );
}

/// The status and JSON body of a response (`Value::Null` when the body is empty).
pub fn read(response: HttpResponse) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = block_on(response.into_body().collect()).unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}

/// The names of the fields a 400 problem body reports.
pub fn rejected_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts that the OpenAPI `document` (JSON) describes exactly what `S` serves: every REST
/// route of `S::ROUTES`, its health report and its catalog entry is an operation tagged `S::NAME`, and every
/// operation tagged `S::NAME` is one of them. gRPC methods (`/package.Service/Method`, capitalised
/// as gRPC names them) are described by `proto/`, not here.
pub fn assert_routes_documented<S: HttpService>(document: &str) {
    let document: Value = serde_json::from_str(document).expect("the OpenAPI document is JSON");
    let mut served: Vec<(String, String)> = S::ROUTES
        .iter()
        .filter(|(_, pattern, _)| !is_grpc_method(pattern))
        .map(|(method, pattern, _)| (method.as_str().to_ascii_lowercase(), (*pattern).to_owned()))
        .collect();
    served.push(("get".into(), format!("/health/{}", S::NAME)));
    served.push(("get".into(), S::ABOUT.path.to_owned()));
    served.sort();
    let mut documented = Vec::new();
    let paths = document["paths"].as_object().expect("paths");
    for (path, item) in paths {
        let item = item.as_object().expect("a path item");
        for (method, operation) in item {
            let tags = operation["tags"].as_array();
            if tags.is_some_and(|tags| tags.iter().any(|tag| tag == S::NAME)) {
                documented.push((method.clone(), path.clone()));
            }
        }
    }
    documented.sort();
    assert_eq!(
        served,
        documented,
        "the routes {} serves against the operations docs/openapi.json tags {:?}",
        S::NAME,
        S::NAME
    );
}

fn is_grpc_method(pattern: &str) -> bool {
    let mut segments = pattern.trim_start_matches('/').split('/');
    let capitalised = |s: Option<&str>| s.is_some_and(|s| s.starts_with(char::is_uppercase));
    // A service's full name may have a package: `moviesystem.v1.RatingExtensions`.
    let service = segments.next().and_then(|full| full.rsplit('.').next());
    capitalised(service) && capitalised(segments.next()) && segments.next().is_none()
}

/// The outcome of a gRPC call other than a reply: the status's code, message and the fields a
/// `google.rpc.BadRequest` detail names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcFailure {
    pub code: u8,
    pub message: String,
    pub fields: Vec<String>,
}

/// Calls the unary gRPC method at `path` of `service` with `message`, as a caller holding
/// `token` (none for `None`); the reply, or the status it ended with.
pub fn grpc_call<S: HttpService, R: prost::Message + Default>(
    service: &S,
    token: Option<&str>,
    path: &str,
    message: &impl prost::Message,
) -> Result<R, GrpcFailure>
where
    S::Tokens: TestTokens,
{
    grpc_call_through(&edge::<S>(), service, token, path, message)
}

/// [`grpc_call`] through `edge`.
pub fn grpc_call_through<S: HttpService, R: prost::Message + Default>(
    edge: &Edge<S::Tokens>,
    service: &S,
    token: Option<&str>,
    path: &str,
    message: &impl prost::Message,
) -> Result<R, GrpcFailure> {
    use base64ct::{Base64Unpadded, Encoding};
    use prost::Message as _;
    let encoded = message.encode_to_vec();
    let mut framed = vec![0];
    framed.extend(u32::try_from(encoded.len()).unwrap().to_be_bytes());
    framed.extend(encoded);
    let mut builder = Request::post(path).header("content-type", "application/grpc");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let response = block_on(crate::edge::serve(
        edge,
        service,
        builder.body(Full::new(Bytes::from(framed))).unwrap(),
    ));
    assert_eq!(response.status(), StatusCode::OK, "gRPC {path} answers 200");
    assert!(
        response.headers().get("grpc-status").is_none(),
        "gRPC {path}: the status must travel in trailers, not headers"
    );
    let collected = block_on(response.into_body().collect()).unwrap();
    let trailers = collected.trailers().cloned().expect("gRPC trailers");
    let body = collected.to_bytes();
    let code: u8 = trailers["grpc-status"].to_str().unwrap().parse().unwrap();
    if code == 0 {
        return Ok(R::decode(body.get(5..).expect("a framed reply")).expect("the reply message"));
    }
    let message = trailers
        .get("grpc-message")
        .map(|m| m.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let fields = trailers
        .get("grpc-status-details-bin")
        .map(|details| {
            let bytes = Base64Unpadded::decode_vec(details.to_str().unwrap()).unwrap();
            let status = crate::grpc::details::RpcStatus::decode(bytes.as_slice()).unwrap();
            status
                .details
                .iter()
                .filter(|any| any.type_url.ends_with("google.rpc.BadRequest"))
                .flat_map(|any| {
                    crate::grpc::details::BadRequest::decode(any.value.as_slice())
                        .unwrap()
                        .field_violations
                })
                .map(|violation| violation.field)
                .collect()
        })
        .unwrap_or_default();
    Err(GrpcFailure {
        code,
        message,
        fields,
    })
}
