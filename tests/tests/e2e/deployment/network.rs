//! What crosses the network in the Kubernetes deployments, and how it is protected: the split
//! services pin the token keys instead of fetching them, every call between pods stays inside
//! a service mesh that demands mutual TLS, and every Valkey client signs in as its own user of
//! `deploy/valkey/users.acl.template`.

use super::{NAMESPACE, documents, documents_in, kind, name, spinapps_in};
use crate::common;
use crate::common::yaml::list;
use yaml_rust2::Yaml;

const SECRETS: &str = "movie-system-secrets";

/// A SpinApp's variable `variable`, if it sets it.
fn variable<'a>(app: &'a Yaml, variable: &str) -> Option<&'a Yaml> {
    list(&app["spec"]["variables"])
        .iter()
        .find(|v| v["name"].as_str() == Some(variable))
}

/// The Secret key a variable or env entry takes its value from, if it does.
fn secret_key(entry: &Yaml) -> Option<&str> {
    let reference = &entry["valueFrom"]["secretKeyRef"];
    (reference["name"].as_str() == Some(SECRETS))
        .then(|| reference["key"].as_str())
        .flatten()
}

/// Every string value anywhere in a document.
fn strings_in(doc: &Yaml, into: &mut Vec<String>) {
    match doc {
        Yaml::String(text) => into.push(text.clone()),
        Yaml::Array(items) => items.iter().for_each(|item| strings_in(item, into)),
        Yaml::Hash(map) => map.values().for_each(|value| strings_in(value, into)),
        _ => {}
    }
}

#[test]
fn the_split_services_pin_the_token_keys_from_a_secret_and_fetch_none() {
    for app in spinapps_in("per-service") {
        if !["metadata", "rating"].contains(&name(&app)) {
            continue;
        }
        let jwks = variable(&app, "jwt_jwks").map(secret_key);
        assert_eq!(
            jwks,
            Some(Some("jwks")),
            "{}: jwt_jwks from the Secret's `jwks` key",
            name(&app)
        );
        assert!(
            variable(&app, "auth_url").is_none(),
            "{}: sets auth_url, though it fetches no keys",
            name(&app)
        );
    }
}

#[test]
fn the_all_in_one_app_fetches_its_keys_in_process() {
    for app in spinapps_in("all-in-one") {
        assert!(
            variable(&app, "auth_url").is_none(),
            "{}: auth_url must keep its service-chaining default",
            name(&app)
        );
    }
}

#[test]
fn both_deployments_put_their_namespace_in_a_mesh_that_demands_mutual_tls() {
    for dir in ["per-service", "all-in-one"] {
        let docs = documents_in(dir);
        let namespace = docs
            .iter()
            .find(|doc| kind(doc) == ("v1", "Namespace"))
            .unwrap_or_else(|| panic!("{dir} applies no Namespace"));
        let annotations = &namespace["metadata"]["annotations"];
        assert_eq!(
            (
                name(namespace),
                annotations["linkerd.io/inject"].as_str(),
                annotations["config.linkerd.io/default-inbound-policy"].as_str()
            ),
            (NAMESPACE, Some("enabled"), Some("all-authenticated")),
            "{dir}: the namespace's mesh injection and inbound policy"
        );
    }
}

#[test]
fn every_plain_http_or_redis_address_is_a_service_of_the_meshed_namespace() {
    let suffix = format!(".{NAMESPACE}.svc");
    let mut checked = 0;
    for (file, doc) in documents() {
        let mut texts = Vec::new();
        strings_in(&doc, &mut texts);
        for text in texts {
            for (at, _) in text.match_indices("://") {
                let scheme_start = text[..at]
                    .rfind(|c: char| !c.is_ascii_alphanumeric())
                    .map_or(0, |i| i + 1);
                let scheme = &text[scheme_start..at];
                if !["http", "redis"].contains(&scheme) {
                    continue;
                }
                let authority = text[at + 3..]
                    .split(['/', ' ', '"', '\''])
                    .next()
                    .unwrap_or_default();
                let host = authority.rsplit('@').next().unwrap_or_default();
                let host = host.split(':').next().unwrap_or_default();
                checked += 1;
                assert!(
                    host.ends_with(&suffix),
                    "{}: {scheme}://{authority} leaves the meshed namespace in plain text",
                    file.display()
                );
            }
        }
    }
    assert!(checked >= 8, "addresses checked: {checked}");
}

#[test]
fn every_job_runs_the_mesh_proxy_as_a_native_sidecar_so_it_can_finish() {
    let mut jobs = 0;
    for (file, doc) in documents() {
        if kind(&doc).1 != "CronJob" {
            continue;
        }
        jobs += 1;
        let annotations =
            &doc["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(
            annotations["config.alpha.linkerd.io/proxy-enable-native-sidecar"].as_str(),
            Some("true"),
            "{}: {}",
            file.display(),
            name(&doc)
        );
    }
    assert!(jobs >= 2, "CronJobs checked: {jobs}");
}

/// The users `deploy/valkey/users.acl.template` defines.
fn acl_users() -> Vec<String> {
    let path = common::repo_root().join("deploy/valkey/users.acl.template");
    std::fs::read_to_string(path)
        .expect("the ACL template")
        .lines()
        .filter(|line| line.starts_with("user "))
        .filter_map(|line| line.split_whitespace().nth(1).map(str::to_owned))
        .collect()
}

#[test]
fn every_valkey_client_signs_in_as_its_own_user_with_a_password_from_the_secret() {
    let users = acl_users();
    let docs = documents();
    for app in docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| kind(d).1 == "SpinApp")
    {
        if variable(app, "events_redis_url").is_none() {
            continue;
        }
        let user = variable(app, "events_redis_user").and_then(|v| v["value"].as_str());
        let password = variable(app, "events_redis_password").and_then(secret_key);
        assert_eq!(
            (user, password),
            (Some("rating"), Some("valkey-rating-password")),
            "{}: the event log's user and password",
            name(app)
        );
    }
    let (_, consumer) = docs
        .iter()
        .find(|(_, d)| kind(d).1 == "Deployment" && name(d) == "rating-ingest")
        .expect("the consumer's Deployment");
    let env = list(&consumer["spec"]["template"]["spec"]["containers"][0]["env"]);
    let env_of = |n: &str| env.iter().find(|e| e["name"].as_str() == Some(n));
    assert_eq!(
        (
            env_of("SPIN_VARIABLE_EVENTS_REDIS_USER").and_then(|e| e["value"].as_str()),
            env_of("SPIN_VARIABLE_EVENTS_REDIS_PASSWORD").and_then(secret_key),
        ),
        (Some("rating-ingest"), Some("valkey-rating-ingest-password")),
        "the consumer's user and password"
    );
    let (_, wake) = docs
        .iter()
        .find(|(_, d)| kind(d).1 == "CronJob" && name(d) == "rating-ingest-wake")
        .expect("the wake CronJob");
    let mut texts = Vec::new();
    strings_in(wake, &mut texts);
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("redis://rating-wake:$(WAKE_PASSWORD)@")),
        "the wake-up signs in as rating-wake: {texts:?}"
    );
    let example = std::fs::read_to_string(
        common::repo_root().join("deploy/spinkube/runtime-config.example.toml"),
    )
    .expect("the example runtime config");
    assert!(
        example.contains("url = \"redis://movie:"),
        "movie's cache signs in as movie"
    );
    for user in ["rating", "rating-ingest", "rating-wake", "movie"] {
        assert!(
            users.iter().any(|u| u == user),
            "{user} is not in the ACL template"
        );
    }
}

/// spin.toml lets auth sign with a development key kept in its database, so `spin up` issues
/// tokens with no setup; a deployment must never: every SpinApp that runs auth takes its key
/// from the Secret (not optional) and switches the development key off.
#[test]
fn every_deployment_of_auth_signs_with_the_secret_key_and_never_a_development_key() {
    let mut deployed = 0;
    for dir in ["per-service", "all-in-one", "canary"] {
        for app in spinapps_in(dir) {
            let components = common::yaml::strings(&app["spec"]["components"]);
            if !components.is_empty() && !components.iter().any(|c| c == "auth") {
                continue;
            }
            deployed += 1;
            let key = variable(&app, "auth_signing_key");
            assert_eq!(
                key.map(|entry| (
                    secret_key(entry),
                    entry["valueFrom"]["secretKeyRef"]["optional"].as_bool()
                )),
                Some((Some("auth-signing-key"), None)),
                "{dir}/{}: auth_signing_key from the Secret, required",
                name(&app)
            );
            assert_eq!(
                variable(&app, "auth_development_key").and_then(|entry| entry["value"].as_str()),
                Some("false"),
                "{dir}/{}: auth_development_key must be \"false\"",
                name(&app)
            );
        }
    }
    assert!(deployed >= 2, "found {deployed} SpinApps running auth");
}
