//! Least privilege, checked from the artefacts: every component's imports, as decoded from the
//! built Wasm, and its grants in `spin.toml` must be exactly what `policy/capabilities.toml`
//! allows. A new import or grant fails here until the policy (reviewed like code) says so; an
//! allowance nothing uses fails too, so the policy never grows stale.

use super::common::repo_root;
use std::collections::BTreeSet;
use std::path::Path;

/// The interfaces a component binary imports, without versions (`wasi:http/types`): a version
/// bump is not a new capability.
fn imported_interfaces(wasm: &Path) -> BTreeSet<String> {
    let bytes = std::fs::read(wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
    let mut depth = 0usize;
    let mut imports = BTreeSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.unwrap_or_else(|e| panic!("{}: {e}", wasm.display())) {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth -= 1,
            // Only the outer component's imports are what the host must grant; nested modules
            // and components import from their siblings.
            wasmparser::Payload::ComponentImportSection(section) if depth == 1 => {
                for import in section {
                    let import = import.unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
                    let name = import.name.name;
                    imports.insert(name.split('@').next().unwrap_or(name).to_owned());
                }
            }
            _ => {}
        }
    }
    imports
}

fn toml_file(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The strings of `table[key]` (an absent key is an empty list).
fn strings(table: &toml::Table, key: &str) -> BTreeSet<String> {
    table
        .get(key)
        .and_then(toml::Value::as_array)
        .map(|values| {
            values
                .iter()
                .map(|v| v.as_str().expect("a string").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn table<'a>(table: &'a toml::Table, key: &str) -> &'a toml::Table {
    table
        .get(key)
        .and_then(toml::Value::as_table)
        .unwrap_or_else(|| panic!("no table {key}"))
}

/// Every manifest of the repository: the HTTP app and the event consumer's app.
const MANIFESTS: [&str; 2] = ["spin.toml", "spin-events.toml"];

struct Checked {
    /// The components of every manifest, by id.
    components: toml::Table,
    policy: toml::Table,
}

fn load() -> Checked {
    spin_test_host::movie_system::build().expect("the components build");
    let mut components = toml::Table::new();
    for manifest in MANIFESTS {
        let manifest = toml_file(&repo_root().join(manifest));
        for (id, component) in table(&manifest, "component") {
            let previous = components.insert(id.clone(), component.clone());
            assert!(previous.is_none(), "component {id} is in two manifests");
        }
    }
    Checked {
        components,
        policy: toml_file(&repo_root().join("policy/capabilities.toml")),
    }
}

/// What differs between `seen` and `allowed`, as a sentence for a failure message.
fn difference(what: &str, seen: &BTreeSet<String>, allowed: &BTreeSet<String>) -> Option<String> {
    let extra: Vec<_> = seen.difference(allowed).collect();
    let unused: Vec<_> = allowed.difference(seen).collect();
    (!extra.is_empty() || !unused.is_empty()).then(|| {
        format!("{what}: not in the policy {extra:?}; in the policy but unused {unused:?}")
    })
}

#[test]
fn every_component_has_a_policy_and_every_policy_a_component() {
    let checked = load();
    let components: BTreeSet<String> = checked.components.keys().cloned().collect();
    let policies: BTreeSet<String> = table(&checked.policy, "component")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        components, policies,
        "the manifests' components against policy/capabilities.toml"
    );
}

#[test]
fn each_component_imports_only_the_interfaces_its_policy_allows() {
    let checked = load();
    let mut failures = Vec::new();
    for (id, component) in &checked.components {
        let component = component.as_table().expect("a component table");
        let source = component["source"].as_str().expect("source is a path");
        let imports = imported_interfaces(&repo_root().join(source));
        let allowed = strings(table(table(&checked.policy, "component"), id), "imports");
        failures.extend(difference(&format!("{id} imports"), &imports, &allowed));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn each_components_grants_in_spin_toml_are_what_its_policy_allows() {
    let checked = load();
    let mut failures = Vec::new();
    for (id, component) in &checked.components {
        let component = component.as_table().expect("a component table");
        let policy = table(table(&checked.policy, "component"), id);
        for grant in [
            "sqlite_databases",
            "key_value_stores",
            "allowed_outbound_hosts",
        ] {
            let granted = strings(component, grant);
            let allowed = strings(policy, grant);
            failures.extend(difference(&format!("{id} {grant}"), &granted, &allowed));
        }
        let variables: BTreeSet<String> = component
            .get("variables")
            .and_then(toml::Value::as_table)
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default();
        failures.extend(difference(
            &format!("{id} variables"),
            &variables,
            &strings(policy, "variables"),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_import_decoder_sees_what_a_component_uses() {
    // Guards the test itself: a decoder that saw nothing would make the policy vacuous.
    load();
    let imports = imported_interfaces(&repo_root().join("target/wasm32-wasip2/release/movie.wasm"));
    for expected in [
        "wasi:http/client",
        "spin:key-value/key-value",
        "spin:sqlite/sqlite",
    ] {
        assert!(
            imports.iter().any(|i| i.starts_with(expected)),
            "movie imports {expected}: {imports:?}"
        );
    }
}

#[test]
#[ignore = "prints the decoded imports, for writing the policy"]
fn print_imports() {
    load();
    for id in ["metadata", "rating", "movie", "auth"] {
        let imports = imported_interfaces(
            &repo_root().join(format!("target/wasm32-wasip2/release/{id}.wasm")),
        );
        println!("{id}: {imports:#?}");
    }
}
