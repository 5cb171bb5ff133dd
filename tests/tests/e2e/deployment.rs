//! The SpinKube manifests under `deploy/spinkube`: every document has a known kind and only
//! the fields its kind defines (SpinApp and SpinAppExecutor as spin-operator's v1alpha1 types
//! declare them), every variable and component it names exists in the Spin manifests, every
//! reference (executor, Secret, Service, file) resolves, and the per-service deployment runs
//! each component of spin.toml exactly once.

mod cluster;
mod network;

use super::common;
use common::yaml::{keys, list, load, strings};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use yaml_rust2::Yaml;

const NAMESPACE: &str = "movie-system";
const RUNTIME_CONFIG_SECRET: &str = "movie-system-runtime-config";

/// SpinAppSpec's fields (core.spinkube.dev/v1alpha1).
const SPINAPP_SPEC: &[&str] = &[
    "executor",
    "image",
    "imagePullSecrets",
    "checks",
    "replicas",
    "enableAutoscaling",
    "runtimeConfig",
    "volumes",
    "volumeMounts",
    "variables",
    "serviceAnnotations",
    "deploymentAnnotations",
    "podAnnotations",
    "podLabels",
    "resources",
    "components",
    "serviceAccountName",
    "invocationLimits",
];
const RUNTIME_CONFIG: &[&str] = &[
    "loadFromSecret",
    "sqliteDatabases",
    "keyValueStores",
    "llmCompute",
];
const SPIN_VAR: &[&str] = &["name", "value", "valueFrom"];
const CHECKS: &[&str] = &["readiness", "liveness"];
const PROBE: &[&str] = &[
    "httpGet",
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
];
const RESOURCES: &[&str] = &["limits", "requests"];
/// SpinAppExecutorSpec's fields, and its deploymentConfig's.
const EXECUTOR_SPEC: &[&str] = &["createDeployment", "deploymentConfig"];
const DEPLOYMENT_CONFIG: &[&str] = &[
    "runtimeClassName",
    "spinImage",
    "caCertSecret",
    "installDefaultCACerts",
    "otel",
];
const OTEL: &[&str] = &[
    "exporter_otlp_endpoint",
    "exporter_otlp_traces_endpoint",
    "exporter_otlp_metrics_endpoint",
    "exporter_otlp_logs_endpoint",
];

fn spinkube() -> PathBuf {
    common::repo_root().join("deploy/spinkube")
}

/// Every YAML document under deploy/spinkube, with the file it came from.
fn documents() -> Vec<(PathBuf, Yaml)> {
    let mut files = Vec::new();
    collect_yaml(&spinkube(), &mut files);
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        docs.extend(load(&file).into_iter().map(|doc| (file.clone(), doc)));
    }
    assert!(
        docs.len() >= 10,
        "deploy/spinkube lost its manifests: {}",
        docs.len()
    );
    docs
}

fn collect_yaml(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("read deploy/spinkube")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            collect_yaml(&path, into);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            into.push(path);
        }
    }
}

fn kind(doc: &Yaml) -> (&str, &str) {
    (
        doc["apiVersion"].as_str().unwrap_or_default(),
        doc["kind"].as_str().unwrap_or_default(),
    )
}

fn name(doc: &Yaml) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or_default()
}

fn assert_fields(what: &str, map: &Yaml, known: &[&str]) {
    for key in keys(map) {
        assert!(
            known.contains(&key.as_str()),
            "{what} has an unknown field `{key}`; known: {known:?}"
        );
    }
}

/// What a Spin manifest declares: application variables, components, and the HTTP routes of
/// each component.
struct SpinManifest {
    variables: BTreeSet<String>,
    components: BTreeSet<String>,
    routes: BTreeMap<String, Vec<String>>,
}

fn spin_manifest(file: &str) -> SpinManifest {
    let text = std::fs::read_to_string(common::repo_root().join(file)).expect("read manifest");
    let manifest: toml::Value = toml::from_str(&text).expect("Spin manifest TOML");
    let names = |table: &str| -> BTreeSet<String> {
        manifest
            .get(table)
            .and_then(toml::Value::as_table)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut routes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let http = manifest
        .get("trigger")
        .and_then(|t| t.get("http"))
        .and_then(toml::Value::as_array);
    for trigger in http.into_iter().flatten() {
        if let (Some(route), Some(component)) = (
            trigger.get("route").and_then(toml::Value::as_str),
            trigger.get("component").and_then(toml::Value::as_str),
        ) {
            routes
                .entry(component.to_owned())
                .or_default()
                .push(route.to_owned());
        }
    }
    SpinManifest {
        variables: names("variables"),
        components: names("component"),
        routes,
    }
}

/// Every document one kustomization directory applies (its own files and the ones it
/// includes).
fn documents_in(dir: &str) -> Vec<Yaml> {
    let base = spinkube().join(dir);
    let kustomization = load(&base.join("kustomization.yaml"));
    let mut docs = Vec::new();
    for resource in list(&kustomization[0]["resources"]) {
        let path = base.join(resource.as_str().unwrap_or_default());
        if path.is_dir() {
            let sub = path
                .strip_prefix(spinkube())
                .expect("inside deploy/spinkube");
            docs.extend(documents_in(&sub.to_string_lossy()));
        } else {
            docs.extend(load(&path));
        }
    }
    docs
}

/// The SpinApps of one kustomization directory.
fn spinapps_in(dir: &str) -> Vec<Yaml> {
    documents_in(dir)
        .into_iter()
        .filter(|doc| kind(doc).1 == "SpinApp")
        .collect()
}

#[test]
fn every_manifest_is_a_known_kind() {
    let known = [
        ("core.spinkube.dev/v1alpha1", "SpinApp"),
        ("core.spinkube.dev/v1alpha1", "SpinAppExecutor"),
        ("apps/v1", "Deployment"),
        ("batch/v1", "CronJob"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
        ("v1", "Namespace"),
        ("v1", "Service"),
        ("apps/v1", "StatefulSet"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
    ];
    for (file, doc) in documents() {
        if file.ends_with("kustomizeconfig.yaml") {
            continue;
        }
        assert!(
            known.contains(&kind(&doc)),
            "{}: unknown kind {:?}",
            file.display(),
            kind(&doc)
        );
        if kind(&doc).1 != "Kustomization" {
            assert!(
                !name(&doc).is_empty(),
                "{}: no metadata.name",
                file.display()
            );
        }
    }
}

#[test]
fn every_spinapp_has_only_spin_operator_fields_and_names_what_spin_toml_declares() {
    let spin = spin_manifest("spin.toml");
    let executors: BTreeSet<String> = documents()
        .iter()
        .filter(|(_, d)| kind(d).1 == "SpinAppExecutor")
        .map(|(_, d)| name(d).to_owned())
        .collect();
    let mut apps = 0;
    for (file, doc) in documents().iter().filter(|(_, d)| kind(d).1 == "SpinApp") {
        apps += 1;
        let what = format!("SpinApp {} ({})", name(doc), file.display());
        let spec = &doc["spec"];
        assert_fields(&what, spec, SPINAPP_SPEC);
        assert!(
            spec["image"].as_str().is_some_and(|i| !i.is_empty()),
            "{what}: no image"
        );
        let executor = spec["executor"].as_str().unwrap_or_default();
        assert!(
            executors.contains(executor),
            "{what}: executor {executor:?} is not defined here"
        );
        assert_fields(&what, &spec["runtimeConfig"], RUNTIME_CONFIG);
        assert_eq!(
            spec["runtimeConfig"]["loadFromSecret"].as_str(),
            Some(RUNTIME_CONFIG_SECRET),
            "{what}: the runtime config comes from the documented Secret"
        );
        for variable in list(&spec["variables"]) {
            assert_fields(&what, variable, SPIN_VAR);
            let var = variable["name"].as_str().unwrap_or_default();
            assert!(
                spin.variables.contains(var),
                "{what}: variable {var} is not in spin.toml"
            );
            let from = &variable["valueFrom"];
            assert!(
                from.is_badvalue()
                    || !from["secretKeyRef"]["name"].is_badvalue()
                    || !from["configMapKeyRef"]["name"].is_badvalue(),
                "{what}: {var}'s valueFrom names no Secret or ConfigMap"
            );
        }
        let components: Vec<&str> = list(&spec["components"])
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        for component in &components {
            assert!(
                spin.components.contains(*component),
                "{what}: no component {component} in spin.toml"
            );
        }
        assert_fields(&what, &spec["checks"], CHECKS);
        let served: Vec<&String> = if components.is_empty() {
            spin.routes.values().flatten().collect()
        } else {
            components
                .iter()
                .filter_map(|c| spin.routes.get(*c))
                .flatten()
                .collect()
        };
        for check in CHECKS {
            assert_fields(&what, &spec["checks"][*check], PROBE);
        }
        // Readiness asks the components' deep health (their stores); liveness only whether
        // Spin answers, so that a database blip takes pods out of rotation without
        // restarting them.
        let path = |check: &str| {
            spec["checks"][check]["httpGet"]["path"]
                .as_str()
                .unwrap_or_default()
        };
        let readiness = path("readiness");
        assert!(
            readiness.starts_with("/health/")
                && served.iter().any(|route| route.as_str() == readiness),
            "{what}: the readiness probe {readiness:?} is not a health route of its components: {served:?}"
        );
        assert_eq!(
            path("liveness"),
            "/.well-known/spin/health",
            "{what}: the liveness probe is not Spin's own health path"
        );
        for label in keys(&doc["metadata"]["labels"]) {
            assert_eq!(
                spec["podLabels"][label.as_str()],
                doc["metadata"]["labels"][label.as_str()],
                "{what}: podLabels must carry label {label} (spin-operator copies only them onto pods)"
            );
        }
        assert_fields(&what, &spec["resources"], RESOURCES);
        assert!(
            !spec["resources"]["limits"]["memory"].is_badvalue(),
            "{what}: no memory limit"
        );
        assert!(
            spec["enableAutoscaling"].as_bool() == Some(true)
                || spec["replicas"].as_i64().is_some(),
            "{what}: neither replicas nor autoscaling"
        );
    }
    assert!(apps >= 6, "too few SpinApps: {apps}");
}

#[test]
fn the_executor_runs_a_spin_image_rather_than_the_shim() {
    for (file, doc) in documents()
        .iter()
        .filter(|(_, d)| kind(d).1 == "SpinAppExecutor")
    {
        let what = format!("SpinAppExecutor {} ({})", name(doc), file.display());
        assert_fields(&what, &doc["spec"], EXECUTOR_SPEC);
        let config = &doc["spec"]["deploymentConfig"];
        assert_fields(&what, config, DEPLOYMENT_CONFIG);
        assert_fields(&what, &config["otel"], OTEL);
        assert_eq!(
            doc["spec"]["createDeployment"].as_bool(),
            Some(true),
            "{what}"
        );
        assert!(
            config["spinImage"].as_str().is_some() && config["runtimeClassName"].is_badvalue(),
            "{what}: spin-sdk 7 components need a Spin >= 4.1 image, not the shim's runtime class"
        );
    }
}

#[test]
fn the_per_service_deployment_runs_each_component_once_and_the_all_in_one_runs_all() {
    let spin = spin_manifest("spin.toml");
    let mut deployed: Vec<String> = spinapps_in("per-service")
        .iter()
        .flat_map(|app| strings(&app["spec"]["components"]))
        .collect();
    deployed.sort();
    let expected: Vec<String> = spin.components.iter().cloned().collect();
    assert_eq!(
        deployed, expected,
        "per-service: one SpinApp per spin.toml component"
    );
    let all = spinapps_in("all-in-one");
    assert_eq!(all.len(), 1, "all-in-one is one SpinApp");
    assert!(
        all[0]["spec"]["components"].is_badvalue(),
        "all-in-one selects no subset"
    );
}

#[test]
fn per_service_upstream_urls_point_at_the_other_spinapps_services() {
    let apps = spinapps_in("per-service");
    let services: BTreeSet<String> = apps.iter().map(|a| name(a).to_owned()).collect();
    let mut checked = 0;
    for app in &apps {
        for variable in list(&app["spec"]["variables"]) {
            let var = variable["name"].as_str().unwrap_or_default();
            if !["metadata_url", "rating_url"].contains(&var) {
                continue;
            }
            checked += 1;
            let url = variable["value"].as_str().unwrap_or_default();
            let host = url.trim_start_matches("http://");
            let service = host
                .strip_suffix(&format!(".{NAMESPACE}.svc"))
                .unwrap_or(host);
            assert!(
                services.contains(service) && service == var.trim_end_matches("_url"),
                "{}: {var} = {url} is not the {} SpinApp's Service",
                name(app),
                var.trim_end_matches("_url")
            );
        }
    }
    assert!(
        checked >= 2,
        "the per-service apps set their upstream URLs: {checked}"
    );
}

#[test]
fn the_consumer_gets_spin_events_variables_and_the_runtime_config_secret() {
    let events = spin_manifest("spin-events.toml");
    let docs = documents();
    let (_, consumer) = docs
        .iter()
        .find(|(_, d)| kind(d).1 == "Deployment" && name(d) == "rating-ingest")
        .expect("a rating-ingest Deployment");
    let container = &consumer["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = list(&container["args"])
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(
        args.first() == Some(&"up") && !args.contains(&"--listen"),
        "Spin 4.1 refuses --listen for an app without an HTTP trigger: {args:?}"
    );
    let mut seen = BTreeSet::new();
    for env in list(&container["env"]) {
        let env_name = env["name"].as_str().unwrap_or_default();
        if let Some(variable) = env_name.strip_prefix("SPIN_VARIABLE_") {
            let variable = variable.to_ascii_lowercase();
            assert!(
                events.variables.contains(&variable),
                "{env_name} is not a variable of spin-events.toml"
            );
            seen.insert(variable);
        }
    }
    assert!(
        seen.contains("events_redis_url"),
        "the consumer needs its Redis address"
    );
    let secret = &consumer["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"];
    assert_eq!(secret.as_str(), Some(RUNTIME_CONFIG_SECRET));
}

#[test]
fn the_canary_route_splits_between_the_stable_and_canary_movie_services() {
    let docs = documents();
    let (_, route) = docs
        .iter()
        .find(|(_, d)| kind(d).1 == "HTTPRoute")
        .expect("the canary's HTTPRoute");
    let apps: BTreeSet<String> = docs
        .iter()
        .filter(|(_, d)| kind(d).1 == "SpinApp")
        .map(|(_, d)| name(d).to_owned())
        .collect();
    let backends = list(&route["spec"]["rules"][0]["backendRefs"]);
    let weights: Vec<(String, i64)> = backends
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap_or_default().to_owned(),
                b["weight"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(weights.len(), 2, "stable and canary: {weights:?}");
    assert_eq!(
        weights.iter().map(|(_, w)| w).sum::<i64>(),
        100,
        "{weights:?}"
    );
    for (backend, _) in &weights {
        assert!(
            apps.contains(backend),
            "backend {backend} is no SpinApp's Service"
        );
    }
}

#[test]
fn the_autoscaler_targets_a_spinapp_that_leaves_it_the_replicas() {
    let docs = documents();
    for (_, hpa) in docs
        .iter()
        .filter(|(_, d)| kind(d).1 == "HorizontalPodAutoscaler")
    {
        let target = hpa["spec"]["scaleTargetRef"]["name"]
            .as_str()
            .unwrap_or_default();
        let app = docs
            .iter()
            .find(|(_, d)| kind(d).1 == "SpinApp" && name(d) == target)
            .unwrap_or_else(|| panic!("the autoscaler targets {target}, which is no SpinApp"));
        assert_eq!(
            app.1["spec"]["enableAutoscaling"].as_bool(),
            Some(true),
            "{target}"
        );
        assert!(
            app.1["spec"]["replicas"].is_badvalue(),
            "{target} must not pin replicas"
        );
    }
}

#[test]
fn every_kustomization_resource_exists() {
    for (file, doc) in documents()
        .iter()
        .filter(|(_, d)| kind(d).1 == "Kustomization")
    {
        let dir = file.parent().expect("a directory");
        for resource in list(&doc["resources"])
            .iter()
            .chain(list(&doc["configurations"]))
        {
            let path = dir.join(resource.as_str().unwrap_or_default());
            assert!(
                path.exists(),
                "{}: {} does not exist",
                file.display(),
                path.display()
            );
        }
    }
}

#[test]
fn the_example_runtime_config_covers_every_store_the_components_use() {
    let text =
        std::fs::read_to_string(spinkube().join("runtime-config.example.toml")).expect("example");
    let config: toml::Value = toml::from_str(&text).expect("runtime config TOML");
    let spin: toml::Value = toml::from_str(
        &std::fs::read_to_string(common::repo_root().join("spin.toml")).expect("spin.toml"),
    )
    .expect("spin.toml");
    let components = spin["component"].as_table().expect("components");
    for (component, settings) in components {
        for (field, section, kind) in [
            ("sqlite_databases", "sqlite_database", "libsql"),
            ("key_value_stores", "key_value_store", "redis"),
        ] {
            let labels = settings
                .get(field)
                .and_then(toml::Value::as_array)
                .cloned()
                .unwrap_or_default();
            for label in labels.iter().filter_map(toml::Value::as_str) {
                let store = config.get(section).and_then(|s| s.get(label));
                assert_eq!(
                    store
                        .and_then(|s| s.get("type"))
                        .and_then(toml::Value::as_str),
                    Some(kind),
                    "{component}'s {section} {label} must be shared ({kind}) in production"
                );
            }
        }
    }
}
