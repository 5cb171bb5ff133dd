//! `spin up` with no signing key configured: auth signs with a development key it keeps in its
//! own database and publishes in its JWKS, `authctl token` mints with the same key whichever
//! comes first, and a deployment that switches development keys off issues no token at all.

use super::common;
use super::security::{basic, post_token, put_metadata, register};
use http::{Method, StatusCode};
use service_kit::auth::sign::Signer;
use spin_test_host::{App, AppOptions, TestResponse};
use std::path::Path;

/// The app as `spin up` runs it from spin.toml: no `auth_signing_key`, development keys allowed
/// (`development_key` is the value of `auth_development_key`).
fn without_a_signing_key(root: &Path, development_key: &str) -> App {
    common::load_in(
        root,
        AppOptions {
            variables: [
                ("auth_signing_key".to_owned(), String::new()),
                (
                    "auth_development_key".to_owned(),
                    development_key.to_owned(),
                ),
            ]
            .into(),
            ..AppOptions::default()
        },
    )
}

/// `authctl token` against the app's auth database, as README's second command runs it.
fn authctl_token(root: &Path, scopes: &str) -> String {
    assert!(
        std::env::var_os("SPIN_VARIABLE_AUTH_SIGNING_KEY").is_none(),
        "SPIN_VARIABLE_AUTH_SIGNING_KEY is set in the test's environment: authctl would use it"
    );
    let db = root.join(".spin/auth.db");
    let args = [
        "token",
        "--sub",
        "alice",
        "--scopes",
        scopes,
        "--db",
        db.to_str().unwrap(),
    ];
    let printed = authctl::commands::run(&args.map(str::to_owned)).expect("authctl token");
    printed.trim().to_owned()
}

/// The key id of a compact JWT's header.
fn kid_of(token: &str) -> String {
    let header = format!("Bearer {token}");
    service_kit::auth::verify::Presented::from_header(Some(&header))
        .expect("a token")
        .key_id()
        .expect("a kid")
        .to_owned()
}

/// A client registered with `metadata:write` asks auth for a token.
async fn client_credentials(app: &App, root: &Path) -> TestResponse {
    let secret = register(root, "metadata:write");
    post_token(app, &basic("cli", &secret), "grant_type=client_credentials").await
}

/// `/health/auth`'s status and the key source it reports.
async fn auth_health(app: &App) -> (StatusCode, Option<String>) {
    let health = app
        .request(Method::GET, "/health/auth", None)
        .await
        .unwrap();
    let source = health.json()["signingKey"].as_str().map(str::to_owned);
    (health.status, source)
}

async fn jwks_kids(app: &App) -> Vec<String> {
    let jwks = app
        .request(Method::GET, "/auth/.well-known/jwks.json", None)
        .await
        .unwrap();
    assert_eq!(jwks.status, StatusCode::OK, "{}", jwks.json());
    jwks.json()["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|key| key["kid"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_from_authctl_before_the_app_ever_ran_lets_a_client_write() {
    let root = tempfile::tempdir().unwrap();
    let token = authctl_token(root.path(), "metadata:write");
    let app = without_a_signing_key(root.path(), "true");
    let written = put_metadata(&app, Some(&token)).await;
    assert_eq!(written.status, StatusCode::CREATED, "{}", written.json());
}

#[tokio::test(flavor = "multi_thread")]
async fn authctl_mints_with_the_key_the_running_app_created() {
    let root = tempfile::tempdir().unwrap();
    let app = without_a_signing_key(root.path(), "true");
    let published = jwks_kids(&app).await;
    let token = authctl_token(root.path(), "metadata:write");
    assert_eq!(
        published,
        [kid_of(&token)],
        "the JWKS publishes authctl's key alone"
    );
    let written = put_metadata(&app, Some(&token)).await;
    assert_eq!(written.status, StatusCode::CREATED, "{}", written.json());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registered_client_gets_a_token_signed_with_the_development_key() {
    let root = tempfile::tempdir().unwrap();
    let app = without_a_signing_key(root.path(), "true");
    let issued = client_credentials(&app, root.path()).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.json());
    let token = issued.json()["access_token"].as_str().unwrap().to_owned();
    let written = put_metadata(&app, Some(&token)).await;
    assert_eq!(written.status, StatusCode::CREATED, "{}", written.json());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_development_key_survives_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let before = jwks_kids(&without_a_signing_key(root.path(), "true")).await;
    let after = jwks_kids(&without_a_signing_key(root.path(), "true")).await;
    assert_eq!(
        before, after,
        "key ids published before and after a restart"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_names_the_development_key_and_the_log_warns_of_it() {
    let root = tempfile::tempdir().unwrap();
    let app = without_a_signing_key(root.path(), "true");
    assert_eq!(
        auth_health(&app).await,
        (StatusCode::OK, Some("development".to_owned())),
        "/health/auth's status and signingKey"
    );
    let log = app.log("auth");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("\"auth.development_key\""))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "development-key warnings in auth's log:\n{log}"
    );
    assert!(
        warnings[0].contains("\"level\":\"warn\"")
            && warnings[0].contains("\"service.name\":\"auth\""),
        "a warning of auth's: {}",
        warnings[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_key_wins_and_no_development_key_is_made() {
    let app = common::movie_system();
    let kids = jwks_kids(&app).await;
    let configured = Signer::from_seed(spin_test_host::movie_system::TEST_SIGNING_SEED);
    assert_eq!(kids, [configured.kid()]);
    assert_eq!(
        auth_health(&app).await,
        (StatusCode::OK, Some("configured".to_owned())),
        "/health/auth's status and signingKey"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_development_keys_off_and_no_key_no_token_is_issued_and_none_is_stored() {
    let root = tempfile::tempdir().unwrap();
    let app = without_a_signing_key(root.path(), "false");
    let refused = client_credentials(&app, root.path()).await;
    common::assert_problem(
        &refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "POST /auth/token",
    );
    assert_eq!(
        auth_health(&app).await,
        (StatusCode::SERVICE_UNAVAILABLE, Some("absent".to_owned())),
        "/health/auth's status and signingKey"
    );
    let db = rusqlite::Connection::open(root.path().join(".spin/auth.db")).unwrap();
    let stored: u32 = db
        .query_row("SELECT count(*) FROM development_key", [], |row| row.get(0))
        .unwrap();
    assert_eq!(stored, 0, "development keys stored");
}

/// The key is read once per instance: a warm JWKS request costs auth no statement.
#[tokio::test(flavor = "multi_thread")]
async fn a_warm_jwks_request_with_the_development_key_is_no_statement() {
    let root = tempfile::tempdir().unwrap();
    let app = without_a_signing_key(root.path(), "true");
    jwks_kids(&app).await;
    let auth = app.stats("auth").expect("auth");
    let warm = auth.sqlite_statements();
    jwks_kids(&app).await;
    assert_eq!(
        auth.sqlite_statements() - warm,
        0,
        "statements of a warm JWKS request"
    );
}
