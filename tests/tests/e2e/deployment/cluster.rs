//! What `kubectl apply -k` makes of each deployment, and whether it is a working system: the
//! kustomizations load as kustomize loads them (no file outside a kustomization's directory),
//! every address a manifest, the runtime config or the Prometheus config names is a Service the
//! same deployment creates, and the NetworkPolicies admit exactly the pods that are clients of
//! Valkey and of each database.

use super::{NAMESPACE, kind, name};
use crate::common;
use crate::common::yaml::{list, load};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use yaml_rust2::Yaml;

/// The deployments a user applies (README "Deploy").
const DEPLOYMENTS: [&str; 3] = ["per-service", "all-in-one", "canary"];

/// What one kustomization builds: its documents, and the text of every file a generator reads.
#[derive(Default)]
struct Build {
    documents: Vec<(PathBuf, Yaml)>,
    generated_files: Vec<(PathBuf, String)>,
}

/// Follows `dir`'s kustomization as kustomize does: a resource is a file inside `dir` or a
/// directory holding a kustomization (kustomize refuses a file outside the directory).
fn build(dir: &Path, into: &mut Build) {
    let file = dir.join("kustomization.yaml");
    let docs = load(&file);
    let kustomization = docs.first().expect("a kustomization");
    for resource in list(&kustomization["resources"]) {
        let relative = resource.as_str().unwrap_or_default();
        let path = dir.join(relative);
        if path.is_dir() {
            assert!(
                path.join("kustomization.yaml").is_file(),
                "{}: resource {relative} is a directory without a kustomization",
                file.display()
            );
            build(&path, into);
        } else {
            assert!(
                !relative.starts_with("..") && path.is_file(),
                "{}: resource {relative} must be a file inside {} (kustomize loads no file \
                 outside a kustomization's directory) or a directory with a kustomization",
                file.display(),
                dir.display()
            );
            into.documents
                .extend(load(&path).into_iter().map(|doc| (path.clone(), doc)));
        }
    }
    for relative in list(&kustomization["configurations"])
        .iter()
        .chain(
            list(&kustomization["configMapGenerator"])
                .iter()
                .flat_map(|g| list(&g["files"])),
        )
        .filter_map(Yaml::as_str)
    {
        let path = dir.join(relative);
        assert!(
            !relative.starts_with("..") && path.is_file(),
            "{}: {relative} must be a file inside {}",
            file.display(),
            dir.display()
        );
        let text = std::fs::read_to_string(&path).expect("readable");
        into.generated_files.push((path, text));
    }
}

fn built(deployment: &str) -> Build {
    let mut into = Build::default();
    build(
        &common::repo_root().join("deploy/spinkube").join(deployment),
        &mut into,
    );
    into
}

/// The Services a deployment creates: its `Service`s and one per SpinApp (spin-operator's).
fn services(build: &Build) -> BTreeSet<String> {
    build
        .documents
        .iter()
        .filter(|(_, doc)| matches!(kind(doc).1, "Service" | "SpinApp"))
        .map(|(_, doc)| name(doc).to_owned())
        .collect()
}

/// Every `<name>.movie-system.svc` host in `text`.
fn service_hosts(text: &str) -> Vec<String> {
    let suffix = format!(".{NAMESPACE}.svc");
    text.match_indices(&suffix)
        .map(|(at, _)| {
            let start = text[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(0, |i| i + 1);
            text[start..at].to_owned()
        })
        .collect()
}

fn yaml_text(doc: &Yaml) -> String {
    let mut out = String::new();
    yaml_rust2::YamlEmitter::new(&mut out)
        .dump(doc)
        .expect("emits");
    out
}

#[test]
fn every_deployment_loads_as_kustomize_loads_it() {
    for deployment in DEPLOYMENTS {
        let build = built(deployment);
        assert!(
            build.documents.len() >= 20,
            "{deployment}: only {} documents",
            build.documents.len()
        );
    }
}

#[test]
fn every_address_a_deployment_names_is_a_service_it_creates() {
    let runtime_config = std::fs::read_to_string(
        common::repo_root().join("deploy/spinkube/runtime-config.example.toml"),
    )
    .expect("the example runtime config");
    for deployment in DEPLOYMENTS {
        let build = built(deployment);
        let created = services(&build);
        let mut named: Vec<(String, String)> = Vec::new();
        for (file, doc) in &build.documents {
            for host in service_hosts(&yaml_text(doc)) {
                named.push((file.display().to_string(), host));
            }
        }
        for (file, text) in &build.generated_files {
            for host in service_hosts(text) {
                named.push((file.display().to_string(), host));
            }
        }
        for host in service_hosts(&runtime_config) {
            named.push(("runtime-config.example.toml".into(), host));
        }
        assert!(
            named.len() >= 10,
            "{deployment}: addresses found: {named:?}"
        );
        for (file, host) in named {
            assert!(
                created.contains(&host),
                "{deployment}: {file} names {host}.{NAMESPACE}.svc, which the deployment does \
                 not create; it creates {created:?}"
            );
        }
    }
}

/// The `app.kubernetes.io/component` labels a NetworkPolicy admits to the pods it selects.
fn admitted(policy: &Yaml) -> BTreeSet<String> {
    list(&policy["spec"]["ingress"])
        .iter()
        .flat_map(|rule| list(&rule["from"]))
        .flat_map(|from| list(&from["podSelector"]["matchExpressions"]))
        .filter(|e| e["key"].as_str() == Some("app.kubernetes.io/component"))
        .flat_map(|e| list(&e["values"]))
        .filter_map(Yaml::as_str)
        .map(str::to_owned)
        .collect()
}

/// The component label of the pods a workload runs (SpinApps' `podLabels`, pod templates).
fn pod_component(doc: &Yaml) -> Option<String> {
    let labels = match kind(doc).1 {
        "SpinApp" => &doc["spec"]["podLabels"],
        "Deployment" | "StatefulSet" => &doc["spec"]["template"]["metadata"]["labels"],
        "CronJob" => &doc["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"],
        _ => return None,
    };
    labels["app.kubernetes.io/component"]
        .as_str()
        .map(str::to_owned)
}

/// For each Service `service`, the component labels of the workloads that address it, either
/// in their manifest or (for SpinApps, which load it) through the runtime config's stores.
fn clients_of(build: &Build, service: &str, runtime_config_clients: &[&str]) -> BTreeSet<String> {
    build
        .documents
        .iter()
        .filter_map(|(_, doc)| {
            let component = pod_component(doc)?;
            let names_it = service_hosts(&yaml_text(doc)).iter().any(|h| h == service);
            let through_runtime_config =
                kind(doc).1 == "SpinApp" && runtime_config_clients.contains(&component.as_str());
            (names_it || through_runtime_config).then_some(component)
        })
        .collect()
}

#[test]
fn valkey_and_each_database_admit_exactly_their_clients() {
    // Who loads each store through the runtime config (spin.toml's grants), by pod component;
    // `all` is the all-in-one app.
    let stores: BTreeMap<&str, &[&str]> = [
        ("valkey", &["movie", "all"][..]),
        ("metadata-db", &["metadata", "all"][..]),
        ("ratings-db", &["rating", "rating-ingest", "all"][..]),
        ("movie-db", &["movie", "all"][..]),
        ("auth-db", &["auth", "all"][..]),
    ]
    .into();
    for deployment in ["per-service", "all-in-one"] {
        let build = built(deployment);
        let components: BTreeSet<String> = build
            .documents
            .iter()
            .filter_map(|(_, d)| pod_component(d))
            .collect();
        for (service, via_runtime_config) in &stores {
            let policy = build
                .documents
                .iter()
                .map(|(_, doc)| doc)
                .find(|doc| {
                    kind(doc).1 == "NetworkPolicy"
                        && doc["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                            .as_str()
                            == Some(*service)
                })
                .unwrap_or_else(|| panic!("{deployment}: no NetworkPolicy guards {service}"));
            let deployed_admitted: BTreeSet<String> = admitted(policy)
                .intersection(&components)
                .cloned()
                .collect();
            let mut clients = clients_of(&build, service, via_runtime_config);
            if *service == "ratings-db" && components.contains("rating-ingest") {
                // The consumer is a Deployment running `spin up` with the runtime config.
                clients.insert("rating-ingest".into());
            }
            assert_eq!(
                deployed_admitted, clients,
                "{deployment}: {service}'s NetworkPolicy admits exactly its clients"
            );
        }
    }
}
