//! `docs/openapi.json` against the app: every operation is routed by `spin.toml` to the
//! component its tag names, and every HTTP trigger serves at least one documented operation.
//! (Each component's unit tests check its own route table against the document.)

use super::common::repo_root;
use movie_proto::paths;
use service_kit::grpc::health;
use spin_test_host::manifest::{Manifest, RouteDecl};
use spin_test_host::triggers::http::routing::Router;
use std::collections::BTreeSet;

fn document() -> serde_json::Value {
    let text =
        std::fs::read_to_string(repo_root().join("docs/openapi.json")).expect("docs/openapi.json");
    serde_json::from_str(&text).expect("the OpenAPI document is JSON")
}

/// `(path with its parameters filled in, the tag of each operation)`.
fn operations() -> Vec<(String, String)> {
    let document = document();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        let concrete: String = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "x1"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in item.as_object().expect("a path item") {
            if method == "parameters" {
                continue;
            }
            let tags = operation["tags"]
                .as_array()
                .expect("every operation has tags");
            assert_eq!(
                tags.len(),
                1,
                "{method} {path} names one component: {tags:?}"
            );
            operations.push((
                concrete.clone(),
                tags[0].as_str().expect("a tag").to_owned(),
            ));
        }
    }
    operations
}

#[test]
fn the_document_is_openapi_3_1() {
    assert_eq!(document()["openapi"], "3.1.0");
}

#[test]
fn every_operation_is_routed_to_the_component_its_tag_names() {
    let manifest = Manifest::load(&repo_root().join("spin.toml")).expect("spin.toml");
    let router = Router::build(&manifest).expect("routes");
    for (path, tag) in operations() {
        let routed = router.route(&path).map(|matched| matched.component);
        assert_eq!(
            routed.as_deref(),
            Some(tag.as_str()),
            "spin.toml routes {path}"
        );
    }
}

#[test]
fn every_http_trigger_serves_a_documented_operation() {
    let manifest = Manifest::load(&repo_root().join("spin.toml")).expect("spin.toml");
    let router = Router::build(&manifest).expect("routes");
    // gRPC methods are documented by the proto files, REST operations by the OpenAPI document.
    let grpc_methods = [
        paths::GET_METADATA,
        paths::PUT_METADATA,
        paths::GET_AGGREGATED_RATING,
        paths::PUT_RATING,
        paths::GET_MOVIE_DETAILS,
        paths::GET_RATING_SUMMARY,
        health::CHECK_PATH,
        health::WATCH_PATH,
    ];
    let rest_paths = operations().into_iter().map(|(path, _)| path);
    let served: BTreeSet<String> = rest_paths
        .chain(grpc_methods.map(str::to_owned))
        .filter_map(|path| router.route(&path).map(|matched| matched.raw_route))
        .collect();
    let triggers: BTreeSet<String> = manifest
        .trigger
        .http
        .iter()
        .filter_map(|trigger| match &trigger.route {
            RouteDecl::Path(route) => Some(route.clone()),
            RouteDecl::Private { .. } => None,
        })
        .collect();
    let undocumented: Vec<_> = triggers.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "triggers with no documented operation: {undocumented:?}"
    );
}

/// Swagger UI and generated clients fetch a token themselves from what the document declares:
/// an OAuth 2.0 client-credentials flow whose token URL is auth's documented token operation
/// and whose scopes are exactly the ones the services know.
#[test]
fn the_oauth2_client_credentials_flow_names_the_token_operation_and_every_scope() {
    let document = document();
    let flow = &document["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"];
    let token_url = flow["tokenUrl"].as_str().expect("a tokenUrl");
    assert!(
        document["paths"][token_url]["post"].is_object(),
        "tokenUrl {token_url} is not a documented POST operation"
    );
    let declared: BTreeSet<&str> = flow["scopes"]
        .as_object()
        .expect("scopes")
        .keys()
        .map(String::as_str)
        .collect();
    let known: BTreeSet<&str> = service_kit::auth::scopes::ALL.iter().copied().collect();
    assert_eq!(declared, known, "the flow's scopes against the services'");
}

/// Every protected operation asks for the OAuth 2.0 scheme with scopes the flow declares (a
/// requirement naming another scheme or an unknown scope would leave a client without a way
/// to get the token).
#[test]
fn every_protected_operation_requires_declared_oauth2_scopes() {
    let document = document();
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    let flow_scopes = &schemes["oauth2"]["flows"]["clientCredentials"]["scopes"];
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            for requirement in operation["security"].as_array().into_iter().flatten() {
                for (scheme, scopes) in requirement.as_object().expect("a requirement") {
                    assert!(
                        schemes.contains_key(scheme),
                        "{method} {path}: undeclared scheme {scheme}"
                    );
                    for scope in scopes.as_array().expect("scopes") {
                        let scope = scope.as_str().expect("a scope name");
                        assert!(
                            scheme == "oauth2" && flow_scopes[scope].is_string(),
                            "{method} {path}: scope {scope} of {scheme} is not one of the flow's"
                        );
                    }
                }
            }
        }
    }
}

/// An NDJSON body is a stream: each media type states its item (`x-oai-itemSchema`, 3.2's
/// `itemSchema` for 3.1 documents), and its `schema`, the whole stream as an array, holds
/// exactly those items.
#[test]
fn every_ndjson_body_describes_its_item() {
    let document = document();
    let mut seen = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let bodies = std::iter::once(&operation["requestBody"]).chain(
                operation["responses"]
                    .as_object()
                    .into_iter()
                    .flat_map(|r| r.values()),
            );
            for body in bodies {
                let media = &body["content"]["application/x-ndjson"];
                if media.is_null() {
                    continue;
                }
                seen += 1;
                assert!(
                    media["x-oai-itemSchema"].is_object(),
                    "{method} {path}: NDJSON without x-oai-itemSchema"
                );
                assert_eq!(
                    media["schema"]["items"], media["x-oai-itemSchema"],
                    "{method} {path}: the stream's items and its item schema differ"
                );
            }
        }
    }
    assert_eq!(seen, 3, "NDJSON bodies: two exports and the import");
}
