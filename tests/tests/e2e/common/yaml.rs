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
