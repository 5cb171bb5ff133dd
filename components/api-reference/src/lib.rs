//! The API reference: `GET /api` is a page rendered from `docs/openapi.json`, compiled into the
//! component, and `GET /api/openapi.json` is that document, for the tools that read it (Swagger
//! UI, Postman, client generators). It has no store, no outbound host and no variable; the page
//! is rendered once per instance, so a request makes no host call.
//!
//! Only the edge's routing, health and about routes come from the kit; [`render`] is the page.

pub mod render;

use http::header::{CACHE_CONTROL, HeaderValue};
use http::{Method, StatusCode};
use service_kit::edge::respond;
use service_kit::edge::{About, Answer, Check, HttpService, Problem, RequestBody, Route, Routed};
use std::rc::Rc;

/// The document, as the build found it (spin.toml's `watch` rebuilds on a change).
pub const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// The component: the parsed document's page, rendered on first use and shared by the
/// instance's requests.
#[derive(Clone, Default)]
pub struct Reference {
    page: Rc<std::cell::OnceCell<Result<Rc<str>, String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceRoute {
    /// `GET /api`: the page.
    Page,
    /// `GET /api/openapi.json`: the document.
    Document,
}

/// Browsers and proxies may keep both for five minutes; a deployment changes them.
const CACHE: &str = "public, max-age=300";
/// The page runs no script and loads nothing; its only style is inline.
const PAGE_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

impl Reference {
    /// The page, rendered once; the error if the built-in document is not JSON.
    fn page(&self) -> Result<Rc<str>, String> {
        self.page
            .get_or_init(|| {
                let document: serde_json::Value = serde_json::from_str(DOCUMENT)
                    .map_err(|error| format!("docs/openapi.json is not JSON: {error}"))?;
                Ok(Rc::from(render::page(&document)))
            })
            .clone()
    }
}

impl HttpService for Reference {
    const NAME: &'static str = "api-reference";
    type Tokens = service_kit::edge::NoTokens;
    const ABOUT: About = About {
        path: "/api/about",
        catalog_info: include_str!("../catalog-info.yaml"),
    };
    type Route = ReferenceRoute;

    const ROUTES: &'static [Route<ReferenceRoute>] = &[
        (Method::GET, "/api", ReferenceRoute::Page),
        (Method::GET, render::DOCUMENT_PATH, ReferenceRoute::Document),
    ];

    async fn health_checks(&self) -> Vec<Check> {
        vec![Check::new("document", self.page().map(drop))]
    }

    async fn call<B: RequestBody>(&self, route: ReferenceRoute, _: Routed<B>) -> Answer {
        let mut response = match route {
            ReferenceRoute::Page => {
                let page = self
                    .page()
                    .map_err(|cause| Problem::internal().with_cause(&cause))?;
                let mut response = respond::bytes(
                    StatusCode::OK,
                    "text/html; charset=utf-8",
                    page.as_bytes().to_vec(),
                );
                response.headers_mut().insert(
                    http::header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(PAGE_POLICY),
                );
                response
            }
            ReferenceRoute::Document => {
                respond::bytes(StatusCode::OK, respond::JSON, DOCUMENT.as_bytes())
            }
        };
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(CACHE));
        Ok(response)
    }
}

/// The component's export, only on wasm: native builds (unit tests) have no Spin host.
#[cfg(target_arch = "wasm32")]
mod entry {
    use super::Reference;
    use service_kit::edge::{self, HttpResponse, Uncounted};
    use spin_sdk::http::Request;

    thread_local! {
        /// This instance's page, rendered by its first request.
        static REFERENCE: Reference = Reference::default();
    }

    /// Nothing is counted and no token is checked: every route is public and costs nothing.
    #[spin_sdk::http_service]
    async fn serve(request: Request) -> HttpResponse {
        edge::run(Uncounted, request, async |_| {
            Ok((REFERENCE.with(Reference::clone), ()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use service_kit::testing::block_on;
    use service_kit::testing::serve;

    fn read(response: service_kit::HttpResponse) -> (StatusCode, Vec<u8>) {
        let status = response.status();
        let body = block_on(response.into_body().collect()).unwrap().to_bytes();
        (status, body.to_vec())
    }

    fn get(path: &str) -> service_kit::HttpResponse {
        let request = http::Request::get(path)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        block_on(serve(&Reference::default(), request))
    }

    #[test]
    fn the_page_is_html_that_may_run_no_script() {
        let response = get("/api");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert!(
            response.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .starts_with("default-src 'none'"),
        );
    }

    #[test]
    fn the_page_names_every_documented_operation() {
        let document: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        let (_, body) = read(get("/api"));
        let page = String::from_utf8(body).unwrap();
        for item in document["paths"].as_object().unwrap().values() {
            let operations = item.as_object().unwrap().iter();
            for (_, operation) in operations.filter(|(key, _)| *key != "parameters") {
                let id = operation["operationId"].as_str().unwrap();
                assert!(
                    page.contains(&format!("id=\"op-{id}\"")),
                    "no section for {id}"
                );
            }
        }
    }

    #[test]
    fn the_document_is_served_byte_for_byte() {
        let (status, body) = read(get(render::DOCUMENT_PATH));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, DOCUMENT.as_bytes());
    }

    #[test]
    fn every_route_is_documented() {
        service_kit::testing::assert_routes_documented::<Reference>(DOCUMENT);
    }
}
