//! HTTP for the auth service: the token endpoint (RFC 6749 section 4.4, with its error codes
//! of section 5.2 carried in problem bodies) and the JWKS. Routing, 404, 405 and request
//! reading are the kit's.

use crate::controller::{AuthController, ClientRepository, Issued, TokenError};
use crate::model::{ClientId, Credentials, ScopeSet, Secret, TokenRequest};
use base64ct::{Base64, Encoding};
use http::header::{AUTHORIZATION, CACHE_CONTROL, HeaderMap, HeaderValue, PRAGMA};
use http::{Method, StatusCode};
use serde::Serialize;
use service_kit::auth;
use service_kit::edge::problem::REALM;
use service_kit::edge::respond;
use service_kit::edge::{
    About, Answer, Check, Fields, HttpService, Problem, Query, RequestBody, Route, Routed, form,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRoute {
    /// `POST /auth/token`: client credentials in, an access token out.
    Token,
    /// `GET /auth/.well-known/jwks.json`: the public keys that verify tokens.
    Jwks,
}

/// How long verifiers may keep the JWKS: as long as they keep fetched keys anyway.
const JWKS_MAX_AGE_S: u64 = auth::held_keys::KEYS_FRESH_MS / 1000;

impl<R: ClientRepository> HttpService for AuthController<R> {
    type Tokens = service_kit::edge::NoTokens;
    const NAME: &'static str = "auth";
    const ABOUT: About = About {
        path: "/auth/about",
        catalog_info: include_str!("../catalog-info.yaml"),
    };
    type Route = AuthRoute;

    const ROUTES: &'static [Route<AuthRoute>] = &[
        (Method::POST, "/auth/token", AuthRoute::Token),
        (Method::GET, auth::config::JWKS_PATH, AuthRoute::Jwks),
    ];

    async fn health_checks(&self) -> Vec<Check> {
        let signing = match self.keyring().signer() {
            Some(_) => Ok(()),
            None => Err(TokenError::NoSigningKey),
        };
        vec![
            Check::new("sqlite", self.health().await),
            Check::new("signing-key", signing),
        ]
    }

    /// Where the signing key comes from (`configured`, `development` or `absent`), so a
    /// development key left in a deployment shows on its health page.
    async fn health_details(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut details = serde_json::Map::new();
        details.insert("signingKey".into(), self.keyring().source().as_str().into());
        details
    }

    /// Each token request checks a secret: metered per client address, so guessing secrets
    /// costs the guesser its quota.
    fn is_metered(route: AuthRoute) -> bool {
        route == AuthRoute::Token
    }

    async fn call<B: RequestBody>(&self, route: AuthRoute, routed: Routed<B>) -> Answer {
        match route {
            AuthRoute::Token => token(self, routed.request).await,
            AuthRoute::Jwks => Ok(jwks(self)),
        }
    }
}

async fn token<R: ClientRepository, B: RequestBody>(
    controller: &AuthController<R>,
    request: http::Request<B>,
) -> Answer {
    let (parts, body) = request.into_parts();
    let form = form(&parts.headers, body).await?;
    let request = token_request(&parts.headers, &form)?;
    let issued = controller
        .issue(&request, auth::config::now(), &token_id())
        .await
        .map_err(token_problem)?;
    Ok(token_response(&issued))
}

/// Reads a client-credentials token request: the grant type, the client's credentials (HTTP
/// Basic, or `client_id` and `client_secret` in the body, never both) and the optional scope.
fn token_request(headers: &HeaderMap, form: &Query) -> Result<TokenRequest, Problem> {
    for name in ["grant_type", "scope", "client_id", "client_secret"] {
        if form.count(name) > 1 {
            return Err(oauth(
                "invalid_request",
                format!("the parameter {name} is repeated"),
            ));
        }
    }
    match form.get("grant_type") {
        None => return Err(oauth("invalid_request", "grant_type is required")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(oauth(
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            ));
        }
    }
    let credentials = credentials(headers, form)?;
    let scope = match form.get("scope").filter(|scope| !scope.is_empty()) {
        None => None,
        Some(scope) => Some(
            ScopeSet::parse(scope)
                .map_err(|invalid| oauth("invalid_scope", invalid.to_string()))?,
        ),
    };
    Ok(TokenRequest { credentials, scope })
}

fn credentials(headers: &HeaderMap, form: &Query) -> Result<Credentials, Problem> {
    let in_body = (form.get("client_id"), form.get("client_secret"));
    // Only HTTP Basic authenticates a client in a header; another scheme (a bearer token a
    // client sends everywhere) is not client authentication and is ignored.
    let basic_header = headers.get(AUTHORIZATION).filter(|value| {
        value
            .as_bytes()
            .get(..6)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"basic "))
    });
    let (id, secret) = match (basic_header, in_body) {
        (Some(_), (Some(_), _) | (_, Some(_))) => {
            return Err(oauth(
                "invalid_request",
                "the client must authenticate one way: HTTP Basic or the body, not both",
            ));
        }
        (Some(header), _) => basic(header).ok_or_else(invalid_client)?,
        (None, (Some(id), Some(secret))) => (id.to_owned(), secret.to_owned()),
        (None, _) => return Err(invalid_client()),
    };
    Ok(Credentials {
        // An id that cannot be registered is refused like an unknown one.
        client: ClientId::parse(&id).map_err(|_| invalid_client())?,
        secret: Secret::new(secret),
    })
}

/// `Basic base64(id ":" secret)`, each part form-encoded (RFC 6749 section 2.3.1).
fn basic(header: &HeaderValue) -> Option<(String, String)> {
    let value = header.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = Base64::decode_vec(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |part: &str| -> String {
        form_urlencoded::parse(format!("v={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    Some((decode(id), decode(secret)))
}

/// An RFC 6749 error in a problem body: 400 with its code.
fn oauth(code: &'static str, detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, detail).with_oauth_error(code)
}

/// 401 `invalid_client` with the Basic challenge RFC 6749 section 5.2 asks for. The same for
/// an unknown client, a wrong secret and missing credentials.
fn invalid_client() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        TokenError::InvalidClient.to_string(),
    )
    .with_oauth_error("invalid_client")
    .with_challenge(format!("Basic realm=\"{REALM}\""))
}

fn token_problem(error: TokenError) -> Problem {
    match error {
        TokenError::InvalidClient => invalid_client(),
        TokenError::InvalidScope(_) => oauth("invalid_scope", error.to_string()),
        TokenError::NoSigningKey => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "token issuance is not configured",
        )
        .with_cause(&error),
        TokenError::Storage(failure) => Problem::from(failure),
    }
}

/// RFC 6749 section 5.1.
#[derive(Serialize)]
struct TokenView<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    scope: String,
}

fn token_response(issued: &Issued) -> service_kit::HttpResponse {
    let mut response = respond::json(
        StatusCode::OK,
        &TokenView {
            access_token: &issued.token,
            token_type: "Bearer",
            expires_in: issued.lifetime.num_seconds(),
            scope: issued.scope.to_claim(),
        },
    );
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn jwks<R: ClientRepository>(controller: &AuthController<R>) -> service_kit::HttpResponse {
    let mut response = respond::json(StatusCode::OK, &controller.keyring().published().to_jwks());
    let cache = format!("public, max-age={JWKS_MAX_AGE_S}");
    if let Ok(value) = HeaderValue::try_from(cache) {
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    response
}

/// A unique token id: 128 random bits from the host.
#[cfg(target_arch = "wasm32")]
fn token_id() -> String {
    let bytes = spin_sdk::wasip3::random::random::get_random_bytes(16);
    auth::sign::encode_base64url(&bytes)
}

/// Native builds (unit tests): unique within the process, which is all a test needs.
#[cfg(not(target_arch = "wasm32"))]
fn token_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("test-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests;
