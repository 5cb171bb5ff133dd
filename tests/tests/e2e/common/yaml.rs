//! Reading the YAML under `deploy/` (multi-document files, absent keys as `BadValue`).

use std::path::Path;
use yaml_rust2::{Yaml, YamlLoader};

/// Every document of the YAML file at `path`.
pub fn load(path: &Path) -> Vec<Yaml> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// The string keys of a mapping (none for anything else).
pub fn keys(map: &Yaml) -> Vec<String> {
    map.as_hash()
        .map(|h| {
            h.keys()
                .filter_map(Yaml::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The items of a sequence (none for anything else).
pub fn list(value: &Yaml) -> &[Yaml] {
    value.as_vec().map(Vec::as_slice).unwrap_or_default()
}

/// The string items of a sequence.
pub fn strings(value: &Yaml) -> Vec<String> {
    list(value)
        .iter()
        .filter_map(Yaml::as_str)
        .map(str::to_owned)
        .collect()
}

/// A YAML value as JSON (maps with string keys, as every file here has), to compare it with
/// the JSON documents.
pub fn to_json(value: &Yaml) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.as_str().unwrap_or_default().to_owned(), to_json(value)))
                .collect(),
        ),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::String(text) => Value::String(text.clone()),
        Yaml::Integer(n) => Value::from(*n),
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Yaml::Boolean(b) => Value::Bool(*b),
        _ => Value::Null,
    }
}
