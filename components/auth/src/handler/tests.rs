//! The token endpoint and the JWKS, through the kit's routing, over an in-memory client store.

use super::*;
use crate::controller::TokenSettings;
use crate::keyring::Keyring;
use crate::model::Client;
use crate::repository::memory::InMemoryClientRepository;
use crate::secret;
use bytes::Bytes;
use chrono::Duration;
use http_body_util::Full;
use serde_json::Value;
use service_kit::auth::sign::Signer;
use service_kit::auth::verify::Presented;
use service_kit::auth::{KeySet, TrustPolicy, Verifier};
use service_kit::testing::serve;
use service_kit::testing::{AUDIENCE, ISSUER, block_on, read};

const SECRET: &str = "correct horse battery staple";

fn signer() -> Signer {
    Signer::from_seed([5; 32])
}

fn controller_with(signer: Option<Signer>) -> AuthController<InMemoryClientRepository> {
    let client = Client {
        id: ClientId::parse("cli").unwrap(),
        secret_hash: secret::hash(SECRET, &[3; 16]).unwrap(),
        scopes: ScopeSet::parse("metadata:write ratings:write").unwrap(),
    };
    let settings = TokenSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        lifetime: Duration::seconds(300),
    };
    let previous = vec![Signer::from_seed([4; 32]).public_key()];
    AuthController::new(
        InMemoryClientRepository::with(vec![client]),
        Keyring::new(signer, previous),
        settings,
    )
}

fn controller() -> AuthController<InMemoryClientRepository> {
    controller_with(Some(signer()))
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        Base64::encode_string(format!("{id}:{secret}").as_bytes())
    )
}

/// `POST /auth/token` with a form body and, if given, an `Authorization` header.
fn post(
    c: &AuthController<InMemoryClientRepository>,
    authorization: Option<&str>,
    form: &str,
) -> service_kit::HttpResponse {
    let mut builder = http::Request::post("/auth/token")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    let request = builder
        .body(Full::new(Bytes::from(form.to_owned())))
        .unwrap();
    block_on(serve(c, request))
}

fn token_of(response: service_kit::HttpResponse) -> (StatusCode, Value) {
    read(response)
}

#[test]
fn basic_credentials_get_a_token_the_published_keys_verify() {
    let c = controller();
    let (status, body) = token_of(post(
        &c,
        Some(&basic("cli", SECRET)),
        "grant_type=client_credentials",
    ));
    assert_eq!(status, StatusCode::OK, "{body}");
    let header = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let presented = Presented::from_header(Some(&header)).unwrap();
    let keys: KeySet = c.keyring().published().clone();
    let policy = TrustPolicy {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway: Duration::seconds(5),
        hs256: None,
    };
    let caller = Verifier::new(policy)
        .verify(
            &presented,
            Verifier::key_for(&presented, &keys),
            auth::config::now(),
        )
        .unwrap();
    assert_eq!(
        (caller.subject.as_str(), caller.scopes.join(" ")),
        ("cli", "metadata:write ratings:write".to_owned())
    );
}

#[test]
fn the_token_response_follows_rfc_6749() {
    let response = post(
        &controller(),
        Some(&basic("cli", SECRET)),
        "grant_type=client_credentials",
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (_, body) = read(response);
    assert_eq!(
        (body["token_type"].as_str(), body["expires_in"].as_i64()),
        (Some("Bearer"), Some(300)),
        "{body}"
    );
}

#[test]
fn credentials_in_the_body_work_too() {
    let form = format!(
        "grant_type=client_credentials&client_id=cli&client_secret={}",
        SECRET.replace(' ', "+")
    );
    let (status, body) = token_of(post(&controller(), None, &form));
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[test]
fn a_narrower_scope_is_granted_as_asked() {
    let form = "grant_type=client_credentials&scope=ratings:write";
    let (_, body) = token_of(post(&controller(), Some(&basic("cli", SECRET)), form));
    assert_eq!(body["scope"], "ratings:write", "{body}");
}

#[test]
fn a_scope_beyond_the_registration_is_invalid_scope() {
    let form = "grant_type=client_credentials&scope=ratings:admin";
    let (status, body) = token_of(post(&controller(), Some(&basic("cli", SECRET)), form));
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
}

#[test]
fn a_wrong_secret_is_401_invalid_client_with_a_basic_challenge() {
    let response = post(
        &controller(),
        Some(&basic("cli", "guess")),
        "grant_type=client_credentials",
    );
    let challenge = response.headers().get("www-authenticate").cloned();
    let (status, body) = read(response);
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert_eq!(challenge.unwrap(), "Basic realm=\"movie-system\"");
}

#[test]
fn an_unknown_client_is_refused_exactly_like_a_wrong_secret() {
    let c = controller();
    let unknown = read(post(
        &c,
        Some(&basic("nobody", SECRET)),
        "grant_type=client_credentials",
    ));
    let wrong = read(post(
        &c,
        Some(&basic("cli", "guess")),
        "grant_type=client_credentials",
    ));
    assert_eq!(unknown, wrong);
}

#[test]
fn a_refusal_never_echoes_the_secret() {
    let (_, body) = read(post(
        &controller(),
        Some(&basic("cli", "hunter2")),
        "grant_type=client_credentials",
    ));
    assert!(!body.to_string().contains("hunter2"), "{body}");
}

#[test]
fn another_grant_type_is_unsupported_grant_type() {
    let (status, body) = read(post(
        &controller(),
        Some(&basic("cli", SECRET)),
        "grant_type=password",
    ));
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
}

#[test]
fn a_missing_grant_type_is_invalid_request() {
    let (status, body) = read(post(
        &controller(),
        Some(&basic("cli", SECRET)),
        "scope=ratings:write",
    ));
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[test]
fn two_ways_of_authenticating_at_once_is_invalid_request() {
    let form = "grant_type=client_credentials&client_id=cli&client_secret=x";
    let (status, body) = read(post(&controller(), Some(&basic("cli", SECRET)), form));
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[test]
fn a_json_body_is_415() {
    let request = http::Request::post("/auth/token")
        .header("content-type", "application/json")
        .header("authorization", basic("cli", SECRET))
        .body(Full::new(Bytes::from_static(
            b"{\"grant_type\":\"client_credentials\"}",
        )))
        .unwrap();
    let status = block_on(serve(&controller(), request)).status();
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[test]
fn without_a_signing_key_issuance_is_503_and_health_fails() {
    let c = controller_with(None);
    let (status, _) = read(post(
        &c,
        Some(&basic("cli", SECRET)),
        "grant_type=client_credentials",
    ));
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (health, report) = service_kit::testing::health(&c);
    assert_eq!(health, StatusCode::SERVICE_UNAVAILABLE, "{report}");
}

#[test]
fn the_jwks_publishes_the_current_and_previous_keys_for_a_minute() {
    let c = controller();
    let response = block_on(serve(
        &c,
        service_kit::testing::request_as(None, Method::GET, auth::config::JWKS_PATH, None),
    ));
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    let (status, body) = read(response);
    let kids: Vec<&str> = body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kids, [signer().kid(), Signer::from_seed([4; 32]).kid()]);
}

#[test]
fn the_jwks_never_publishes_a_private_key() {
    let c = controller();
    let (_, body) = read(block_on(serve(
        &c,
        service_kit::testing::request_as(None, Method::GET, auth::config::JWKS_PATH, None),
    )));
    let members: Vec<&String> = body["keys"][0].as_object().unwrap().keys().collect();
    assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x"], "{body}");
}

#[test]
fn every_route_is_in_the_openapi_document_and_nothing_else_is() {
    service_kit::testing::assert_routes_documented::<AuthController<InMemoryClientRepository>>(
        include_str!("../../../../docs/openapi.json"),
    );
}
