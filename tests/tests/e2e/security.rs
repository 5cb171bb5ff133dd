//! Who may write, through the real components: tokens issued by the auth component to a
//! client registered with `authctl`, verified by metadata and rating against the JWKS they
//! fetch over service chaining; every kind of bad token refused with a 401 that changes nothing.

use super::common::{self, assert_problem};
use base64ct::{Base64UrlUnpadded, Encoding};
use chrono::{Duration, Utc};
use http::{Method, Request, StatusCode};
use serde_json::json;
use service_kit::auth::sign::{Issue, Signer, encode_base64url, sign_hs256};
use spin_test_host::movie_system::{TEST_SIGNING_SEED, mint, token};
use spin_test_host::{App, AppOptions, TestResponse};

fn issue() -> Issue<'static> {
    Issue {
        issuer: "movie-system-auth",
        audience: "movie-system",
        subject: "editor",
        scope: "metadata:write",
        id: "t",
        now: Utc::now(),
        lifetime: Duration::minutes(5),
    }
}

/// Registers client `cli` with `scopes` in the app's auth database, as README tells an
/// operator to; returns its secret.
pub(super) fn register(root: &std::path::Path, scopes: &str) -> String {
    let db = root.join(".spin/auth.db");
    let args = [
        "register",
        "--id",
        "cli",
        "--scopes",
        scopes,
        "--db",
        db.to_str().unwrap(),
    ];
    let printed = authctl::commands::run(&args.map(str::to_owned)).expect("authctl register");
    printed
        .lines()
        .find_map(|line| line.strip_prefix("client_secret="))
        .expect("a secret is printed")
        .to_owned()
}

pub(super) async fn post_token(app: &App, basic: &str, form: &str) -> TestResponse {
    let request = Request::post("/auth/token")
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(bytes::Bytes::from(form.to_owned()))
        .unwrap();
    app.send(request).await.expect("the app answers")
}

pub(super) fn basic(id: &str, secret: &str) -> String {
    base64ct::Base64::encode_string(format!("{id}:{secret}").as_bytes())
}

pub(super) async fn put_metadata(app: &App, token: Option<&str>) -> TestResponse {
    app.request_as(
        token,
        Method::PUT,
        "/metadata/m1",
        Some(json!({"title": "Changed"})),
    )
    .await
    .expect("the app answers")
}

async fn metadata_status(app: &App) -> StatusCode {
    app.request(Method::GET, "/metadata/m1", None)
        .await
        .unwrap()
        .status
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registered_client_gets_a_token_that_lets_it_write() {
    let app = common::movie_system();
    let secret = register(app.root.path(), "metadata:write");
    let issued = post_token(
        &app,
        &basic("cli", &secret),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(
        issued.status,
        StatusCode::OK,
        "POST /auth/token: {}",
        issued.json()
    );
    let token = issued.json()["access_token"].as_str().unwrap().to_owned();
    let written = put_metadata(&app, Some(&token)).await;
    assert_eq!(
        written.status,
        StatusCode::CREATED,
        "PUT with the issued token: {}",
        written.json()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_gets_no_token() {
    let app = common::movie_system();
    register(app.root.path(), "metadata:write");
    let refused = post_token(
        &app,
        &basic("cli", "guessed"),
        "grant_type=client_credentials",
    )
    .await;
    assert_problem(
        &refused,
        StatusCode::UNAUTHORIZED,
        "POST /auth/token with a wrong secret",
    );
    assert_eq!(refused.json()["error"], "invalid_client");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_jwks_publishes_the_signing_key() {
    let app = common::movie_system();
    let jwks = app
        .request(Method::GET, "/auth/.well-known/jwks.json", None)
        .await
        .unwrap();
    let kid = Signer::from_seed(TEST_SIGNING_SEED).kid().to_owned();
    assert_eq!(
        jwks.json()["keys"][0]["kid"],
        kid.as_str(),
        "{}",
        jwks.json()
    );
}

/// Each bad token, named.
fn bad_tokens() -> Vec<(&'static str, String)> {
    let good = mint(&issue());
    let parts: Vec<&str> = good.split('.').collect();
    let header = |json: &str| Base64UrlUnpadded::encode_string(json.as_bytes());
    let forged_payload = Base64UrlUnpadded::encode_string(
        br#"{"iss":"movie-system-auth","aud":"movie-system","sub":"x","jti":"x","scope":"metadata:write","exp":4000000000}"#,
    );
    vec![
        (
            "alg none",
            format!("{}.{}.", header(r#"{"alg":"none"}"#), parts[1]),
        ),
        (
            "HS256 while none is configured",
            sign_hs256(b"secret", &issue()),
        ),
        ("an unknown kid", Signer::from_seed([1; 32]).sign(&issue())),
        (
            "an ID token (typ JWT) of the same issuer and audience",
            Signer::from_seed(TEST_SIGNING_SEED).sign_typed(&issue(), Some("JWT")),
        ),
        (
            "a token without typ",
            Signer::from_seed(TEST_SIGNING_SEED).sign_typed(&issue(), None),
        ),
        (
            "expired",
            mint(&Issue {
                now: Utc::now() - Duration::hours(1),
                ..issue()
            }),
        ),
        (
            "not yet valid",
            mint(&Issue {
                now: Utc::now() + Duration::hours(1),
                ..issue()
            }),
        ),
        (
            "the wrong audience",
            mint(&Issue {
                audience: "billing",
                ..issue()
            }),
        ),
        (
            "the wrong issuer",
            mint(&Issue {
                issuer: "someone-else",
                ..issue()
            }),
        ),
        (
            "a tampered payload",
            format!("{}.{forged_payload}.{}", parts[0], parts[2]),
        ),
        ("garbage", "garbage".to_owned()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_token_is_401_invalid_token_and_changes_nothing() {
    let app = common::movie_system();
    for (name, token) in bad_tokens() {
        let response = put_metadata(&app, Some(&token)).await;
        assert_problem(&response, StatusCode::UNAUTHORIZED, name);
        let challenge = response.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{name}: {challenge}"
        );
        assert!(
            !response.json().to_string().contains(&token),
            "{name}: the token is echoed"
        );
    }
    assert_eq!(
        metadata_status(&app).await,
        StatusCode::NOT_FOUND,
        "nothing was stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_without_a_token_is_401_and_changes_nothing() {
    let app = common::movie_system();
    let response = put_metadata(&app, None).await;
    assert_problem(
        &response,
        StatusCode::UNAUTHORIZED,
        "PUT /metadata/m1 without a token",
    );
    assert!(
        response
            .header("www-authenticate")
            .unwrap_or_default()
            .contains("invalid_token")
    );
    assert_eq!(metadata_status(&app).await, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_the_scope_is_403_insufficient_scope() {
    let app = common::movie_system();
    let response = put_metadata(&app, Some(&token("u1", "ratings:write"))).await;
    assert_problem(
        &response,
        StatusCode::FORBIDDEN,
        "PUT /metadata/m1 with ratings:write",
    );
    let challenge = response.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"metadata:write\""),
        "{challenge}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_rates_as_themselves_only() {
    let app = common::movie_system();
    let u1 = token("u1", "ratings:write");
    let body = Some(json!({"value": 4}));
    let own = app
        .request_as(
            Some(&u1),
            Method::PUT,
            "/ratings/movie/m1/users/u1",
            body.clone(),
        )
        .await
        .unwrap();
    let other = app
        .request_as(Some(&u1), Method::PUT, "/ratings/movie/m1/users/u2", body)
        .await
        .unwrap();
    assert_eq!(
        (own.status, other.status),
        (StatusCode::CREATED, StatusCode::FORBIDDEN)
    );
    let aggregate = app
        .request(Method::GET, "/ratings/movie/m1", None)
        .await
        .unwrap();
    assert_eq!(
        aggregate.json()["count"],
        1,
        "only u1's rating: {}",
        aggregate.json()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_stay_public() {
    let app = common::movie_system();
    put_metadata(&app, Some(&token("editor", "metadata:write"))).await;
    let read = app
        .request_as(None, Method::GET, "/movies/m1", None)
        .await
        .unwrap();
    assert_eq!(read.status, StatusCode::OK, "{}", read.json());
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_rotation_tokens_of_the_previous_key_still_verify() {
    let old = Signer::from_seed(TEST_SIGNING_SEED);
    let app = common::movie_system_with(AppOptions {
        variables: [
            ("auth_signing_key".to_owned(), encode_base64url(&[0x77; 32])),
            (
                "auth_previous_public_keys".to_owned(),
                encode_base64url(old.public_key().as_ref()),
            ),
        ]
        .into(),
        ..AppOptions::default()
    });
    let by_old = put_metadata(&app, Some(&old.sign(&issue()))).await;
    let by_new = put_metadata(&app, Some(&Signer::from_seed([0x77; 32]).sign(&issue()))).await;
    assert_eq!(
        (by_old.status, by_new.status),
        (StatusCode::CREATED, StatusCode::OK)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_given_inline_is_used_without_fetching() {
    let other = Signer::from_seed([0x33; 32]);
    let jwks = service_kit::auth::KeySet::new([other.public_key()])
        .to_jwks()
        .to_string();
    let app = common::movie_system_with(AppOptions {
        variables: [
            ("jwt_jwks".to_owned(), jwks),
            ("jwt_issuer".to_owned(), "https://idp.example".to_owned()),
        ]
        .into(),
        ..AppOptions::default()
    });
    let token = other.sign(&Issue {
        issuer: "https://idp.example",
        ..issue()
    });
    let response = put_metadata(&app, Some(&token)).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.json());
    let stats = app.stats("metadata").unwrap();
    assert_eq!(stats.outbound_requests(), 0, "no JWKS was fetched");
}

/// A development HS256 secret of the least accepted length, 32 bytes.
const DEV_SECRET: &str = "local-development-secret-32bytes";

#[tokio::test(flavor = "multi_thread")]
async fn hs256_is_accepted_only_with_the_configured_secret() {
    let app = common::movie_system_with(AppOptions {
        variables: [("jwt_hs256_secret".to_owned(), DEV_SECRET.to_owned())].into(),
        ..AppOptions::default()
    });
    let right = put_metadata(&app, Some(&sign_hs256(DEV_SECRET.as_bytes(), &issue()))).await;
    let wrong = put_metadata(&app, Some(&sign_hs256(b"guessed", &issue()))).await;
    assert_eq!(
        (right.status, wrong.status),
        (StatusCode::CREATED, StatusCode::UNAUTHORIZED)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_hs256_secret_shorter_than_32_bytes_is_refused_as_misconfiguration() {
    let short = &DEV_SECRET[..31];
    let app = common::movie_system_with(AppOptions {
        variables: [("jwt_hs256_secret".to_owned(), short.to_owned())].into(),
        ..AppOptions::default()
    });
    let response = put_metadata(&app, Some(&sign_hs256(short.as_bytes(), &issue()))).await;
    assert_eq!(
        response.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "a token signed with a 31-byte secret: {}",
        response.json()
    );
    let log = app.log("metadata");
    assert!(
        log.contains("jwt_hs256_secret") && log.contains("at least 32 bytes"),
        "the log names the variable and the rule:\n{log}"
    );
    assert!(!log.contains(short), "the secret is in the log:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn made_up_key_ids_during_an_auth_outage_cost_one_fetch_per_instance() {
    let app = common::movie_system_with(AppOptions {
        variables: [("auth_url".to_owned(), common::stub::dead_url())].into(),
        ..AppOptions::default()
    });
    for seed in 1..=4 {
        let made_up = Signer::from_seed([seed; 32]).sign(&issue());
        let response = put_metadata(&app, Some(&made_up)).await;
        assert_eq!(
            response.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "a token with made-up key id {seed} while the JWKS is unreachable"
        );
    }
    let fetches = app.stats("metadata").unwrap().outbound_requests();
    assert_eq!(fetches, 1, "JWKS fetches for four made-up key ids");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_signing_keys_are_a_503_that_changes_nothing() {
    let app = common::movie_system_with(AppOptions {
        variables: [("auth_url".to_owned(), common::stub::dead_url())].into(),
        ..AppOptions::default()
    });
    let response = put_metadata(&app, Some(&mint(&issue()))).await;
    assert_problem(
        &response,
        StatusCode::SERVICE_UNAVAILABLE,
        "PUT while the JWKS is unreachable",
    );
    assert_eq!(metadata_status(&app).await, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_and_tokens_never_reach_the_logs() {
    let app = common::movie_system();
    let secret = register(app.root.path(), "metadata:write");
    post_token(
        &app,
        &basic("cli", &secret),
        "grant_type=client_credentials",
    )
    .await;
    post_token(
        &app,
        &basic("cli", "wrong-secret-xyz"),
        "grant_type=client_credentials",
    )
    .await;
    let bad = mint(&Issue {
        audience: "billing",
        ..issue()
    });
    put_metadata(&app, Some(&bad)).await;
    let logs = app.logs();
    let signing_key = encode_base64url(&TEST_SIGNING_SEED);
    for (what, value) in [
        ("secret", secret.as_str()),
        ("wrong secret", "wrong-secret-xyz"),
        ("token", bad.as_str()),
        ("signing key", signing_key.as_str()),
    ] {
        assert!(!logs.contains(value), "the {what} is in the logs:\n{logs}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_verified_token_does_not_vouch_for_a_tampered_copy_of_it() {
    let app = common::movie_system();
    let good = mint(&issue());
    let accepted = put_metadata(&app, Some(&good)).await;
    assert_eq!(
        accepted.status,
        StatusCode::CREATED,
        "the good token, verified and remembered"
    );
    let parts: Vec<&str> = good.split('.').collect();
    let forged_payload = Base64UrlUnpadded::encode_string(
        br#"{"iss":"movie-system-auth","aud":"movie-system","sub":"editor","jti":"t","scope":"metadata:write ratings:admin","exp":4000000000}"#,
    );
    let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    let refused = put_metadata(&app, Some(&forged)).await;
    assert_problem(
        &refused,
        StatusCode::UNAUTHORIZED,
        "the same signature on another payload",
    );
    let again = put_metadata(&app, Some(&good)).await;
    assert_eq!(again.status, StatusCode::OK, "the good token still works");
}
