//! Ownership data: every component of the manifests has a Backstage-style catalog entry
//! reached from the root `catalog-info.yaml`, naming its owner, on-call contact, lifecycle,
//! tier and a runbook that exists; every API an entry lists is defined, by a document that
//! exists and describes it; and each HTTP component serves its own entry at `/…/about`,
//! exactly as the file is.

use super::common::{self, repo_root, yaml};
use http::{Method, StatusCode};
use spin_test_host::manifest::Manifest;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use yaml_rust2::Yaml;

/// An entity of the catalog and the file it came from.
struct Entity {
    file: PathBuf,
    doc: Yaml,
}

impl Entity {
    fn kind(&self) -> &str {
        self.doc["kind"].as_str().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.doc["metadata"]["name"].as_str().unwrap_or_default()
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        self.doc["metadata"]["annotations"][key].as_str()
    }
}

/// The root file's entities, then those of every file its Location targets.
fn catalog() -> Vec<Entity> {
    let root = repo_root().join("catalog-info.yaml");
    let mut entities: Vec<Entity> = yaml::load(&root)
        .into_iter()
        .map(|doc| Entity {
            file: root.clone(),
            doc,
        })
        .collect();
    let targets: Vec<String> = entities
        .iter()
        .filter(|e| e.kind() == "Location")
        .flat_map(|e| yaml::strings(&e.doc["spec"]["targets"]))
        .collect();
    for target in targets {
        let file = repo_root().join(&target);
        assert!(
            file.is_file(),
            "the Location targets {target}, which does not exist"
        );
        entities.extend(yaml::load(&file).into_iter().map(|doc| Entity {
            file: file.clone(),
            doc,
        }));
    }
    entities
}

fn components(catalog: &[Entity]) -> Vec<&Entity> {
    catalog.iter().filter(|e| e.kind() == "Component").collect()
}

/// The ids of every component of spin.toml and spin-events.toml.
fn manifest_components() -> BTreeSet<String> {
    ["spin.toml", "spin-events.toml"]
        .iter()
        .flat_map(|file| {
            Manifest::load(&repo_root().join(file))
                .unwrap_or_else(|e| panic!("{file}: {e}"))
                .component
                .into_keys()
        })
        .collect()
}

#[test]
fn every_component_of_the_manifests_has_exactly_one_entry() {
    let catalog = catalog();
    let mut entries: BTreeMap<String, usize> = BTreeMap::new();
    for component in components(&catalog) {
        let id = component
            .annotation("movie-system.example/spin-component")
            .unwrap_or_else(|| panic!("{} names no spin component", component.name()));
        assert_eq!(component.name(), id, "the entry of {id} is named after it");
        *entries.entry(id.to_owned()).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = manifest_components()
        .into_iter()
        .map(|id| (id, 1))
        .collect();
    assert_eq!(entries, expected, "catalog entries per manifest component");
}

/// Whether `link` (`file#anchor`, from the repository root) names a heading that exists.
fn runbook_exists(link: &str) -> bool {
    link.split_once('#')
        .is_some_and(|(file, wanted)| common::heading_anchors(file).contains(wanted))
}

#[test]
fn every_entry_names_owner_on_call_lifecycle_tier_and_a_runbook_that_exists() {
    let catalog = catalog();
    let system = catalog
        .iter()
        .find(|e| e.kind() == "System")
        .expect("a System");
    for component in components(&catalog) {
        let name = component.name();
        let spec = &component.doc["spec"];
        let owner = spec["owner"].as_str().unwrap_or_default();
        assert!(owner.starts_with("group:"), "{name}'s owner: {owner:?}");
        assert_eq!(
            spec["system"].as_str(),
            Some(system.name()),
            "{name}'s system"
        );
        let lifecycle = spec["lifecycle"].as_str().unwrap_or_default();
        assert!(
            ["experimental", "production", "deprecated"].contains(&lifecycle),
            "{name}'s lifecycle: {lifecycle:?}"
        );
        let tier = component.doc["metadata"]["labels"]["movie-system.example/tier"].as_str();
        assert!(
            matches!(tier, Some("1" | "2" | "3")),
            "{name}'s tier: {tier:?}"
        );
        let on_call = component.annotation("movie-system.example/on-call");
        assert!(
            on_call.is_some_and(|c| c.contains('@')),
            "{name}'s on-call contact: {on_call:?}"
        );
        let runbook = component
            .annotation("movie-system.example/runbook")
            .unwrap_or_default();
        assert!(runbook_exists(runbook), "{name}'s runbook {runbook:?}");
    }
}

/// The definition file of an API entity, resolved against the file that declares it.
fn definition(api: &Entity) -> PathBuf {
    let text = api.doc["spec"]["definition"]["$text"]
        .as_str()
        .unwrap_or_else(|| panic!("API {} has no $text definition", api.name()));
    api.file.parent().unwrap_or(Path::new(".")).join(text)
}

fn openapi() -> serde_json::Value {
    let text = std::fs::read_to_string(repo_root().join("docs/openapi.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// What the API's document must show for the entity to be true.
fn assert_describes(api: &Entity) {
    let name = api.name();
    let file = definition(api);
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("API {name}: {}: {e}", file.display()));
    match api.doc["spec"]["type"].as_str() {
        Some("openapi") => {
            let document: serde_json::Value = serde_json::from_str(&text).unwrap();
            let tag = api
                .annotation("movie-system.example/openapi-tag")
                .unwrap_or_default();
            let operations = document["paths"]
                .as_object()
                .into_iter()
                .flat_map(|paths| paths.values())
                .filter_map(|item| item.as_object())
                .flat_map(|item| item.values())
                .filter(|op| {
                    op["tags"]
                        .as_array()
                        .is_some_and(|t| t.iter().any(|t| t == tag))
                })
                .count();
            assert!(operations > 0, "API {name}: no operation tagged {tag:?}");
        }
        Some("grpc") => {
            let services = api
                .annotation("movie-system.example/grpc-services")
                .unwrap_or_default();
            for service in services.split(',').map(str::trim) {
                assert!(
                    text.contains(&format!("service {service} {{")),
                    "API {name}: {} declares no service {service}",
                    file.display()
                );
            }
        }
        Some("asyncapi") => {
            let document = yaml::load(&file).remove(0);
            assert_eq!(document["asyncapi"].as_str(), Some("3.0.0"), "API {name}");
            let stream = &document["channels"]["ratingEvents"]["address"];
            assert_eq!(
                stream.as_str(),
                Some("ratings:events"),
                "API {name}'s stream"
            );
            assert_eq!(
                yaml::to_json(&document["components"]["schemas"]["RatingEvent"]),
                openapi()["components"]["schemas"]["RatingEvent"],
                "API {name}: the event schema and the REST intake's"
            );
        }
        other => panic!("API {name} has an unknown type {other:?}"),
    }
}

#[test]
fn every_api_an_entry_lists_is_defined_by_a_document_that_describes_it() {
    let catalog = catalog();
    let apis: BTreeMap<&str, &Entity> = catalog
        .iter()
        .filter(|e| e.kind() == "API")
        .map(|e| (e.name(), e))
        .collect();
    let mut listed = BTreeSet::new();
    for component in components(&catalog) {
        for relation in ["providesApis", "consumesApis"] {
            for api in yaml::strings(&component.doc["spec"][relation]) {
                assert!(
                    apis.contains_key(api.as_str()),
                    "{} {relation} {api}, which the catalog does not define",
                    component.name()
                );
                listed.insert(api);
            }
        }
    }
    for api in apis.values() {
        assert_describes(api);
        assert!(
            listed.contains(api.name()),
            "API {} is provided or used by nothing",
            api.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_http_component_serves_its_own_entry_at_about_as_built() {
    let app = common::movie_system();
    for (component, path) in [
        ("metadata", "/metadata/about"),
        ("rating", "/ratings/about"),
        ("movie", "/movies/about"),
        ("auth", "/auth/about"),
    ] {
        let response = app.request_as(None, Method::GET, path, None).await.unwrap();
        assert_eq!(response.status, StatusCode::OK, "GET {path}");
        assert_eq!(
            response.header("content-type"),
            Some("application/yaml"),
            "GET {path}"
        );
        let file = repo_root().join(format!("components/{component}/catalog-info.yaml"));
        let expected = std::fs::read(&file).unwrap();
        assert_eq!(
            response.body.as_ref(),
            expected.as_slice(),
            "GET {path} against {}",
            file.display()
        );
        let put = app.request(Method::PUT, path, None).await.unwrap();
        assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED, "PUT {path}");
    }
}

/// Every `group:` an entity names as its owner is a Group the catalog defines, so Backstage
/// resolves the owner instead of showing a dangling reference.
#[test]
fn every_owner_is_a_group_the_catalog_defines() {
    let catalog = catalog();
    let groups: BTreeSet<&str> = catalog
        .iter()
        .filter(|e| e.kind() == "Group")
        .map(|e| e.name())
        .collect();
    let mut owners = 0;
    for entity in &catalog {
        let Some(owner) = entity.doc["spec"]["owner"].as_str() else {
            continue;
        };
        owners += 1;
        let group = owner.strip_prefix("group:").unwrap_or(owner);
        assert!(
            groups.contains(group),
            "{} {} is owned by {owner}, which no Group entity defines (groups: {groups:?})",
            entity.kind(),
            entity.name()
        );
    }
    assert!(owners > 5, "found {owners} owned entities");
}
