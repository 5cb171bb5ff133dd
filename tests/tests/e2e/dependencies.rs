//! Dependencies inside each crate run one way: no module uses a module that uses it, directly
//! or through others. Read from the sources: every `crate::` and `super::` path of non-test
//! code (in `use` lines, braces expanded, and inline), resolved to the deepest module that is a
//! file. A module's own ancestors and descendants are its structure, not its dependencies (a
//! directory's `mod.rs` declares and re-exports its children, which use what it shares). An
//! item a directory module re-exports counts as a use of the child that defines it; a
//! directory module named whole (`use crate::edge;`) counts as a use of everything under it.

use super::common::repo_root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path inside its crate, e.g. `["edge", "routes"]`; the crate root is empty.
type Module = Vec<String>;

/// Every non-test module of the crate at `src`, with the text that is not test code.
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut found = BTreeMap::new();
    collect(src, src, &mut found);
    let excluded: BTreeSet<Module> = found
        .iter()
        .flat_map(|(module, text)| {
            test_only_children(text)
                .into_iter()
                .map(move |child| [module.clone(), vec![child]].concat())
        })
        .collect();
    found.retain(|module, _| {
        !excluded.iter().any(|test| module.starts_with(test))
            && !module.iter().any(|segment| segment == "tests")
    });
    found
}

fn collect(src: &Path, dir: &Path, into: &mut BTreeMap<Module, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(src, &path, into);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let relative = path.strip_prefix(src).expect("under src");
        let mut module: Module = relative
            .with_extension("")
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        if matches!(
            module.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            module.pop();
        }
        let text = std::fs::read_to_string(&path).expect("source");
        into.insert(module, without_comments(&without_test_module(&text)));
    }
}

/// The text before the conventional trailing `#[cfg(test)] mod tests { ... }`.
fn without_test_module(text: &str) -> String {
    match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}

/// `text` without `//` comments: a doc link (`[`crate::edge::serve`]`) is not a dependency. A
/// `//` after `:` (a URL in a string) is kept.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| {
            let cut = line
                .match_indices("//")
                .find(|(at, _)| line[..*at].chars().last().is_none_or(char::is_whitespace))
                .map_or(line.len(), |(at, _)| at);
            &line[..cut]
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The items a directory module re-exports from its children: `pub use child::{A, b};`.
fn reexports(text: &str) -> BTreeMap<String, String> {
    let mut items = Vec::new();
    for statement in text.split(';') {
        if let Some(tree) = statement.trim().strip_prefix("pub use ") {
            expand(tree, "", &mut items);
        }
    }
    items
        .into_iter()
        .filter_map(|path| {
            let mut segments = path.split("::");
            let child = segments.next()?;
            let item = segments.last()?;
            (!["crate", "super", "self"].contains(&child))
                .then(|| (item.to_owned(), child.to_owned()))
        })
        .collect()
}

/// Children declared `#[cfg(test)] (pub) mod name;`.
fn test_only_children(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|pair| pair[0] == "#[cfg(test)]")
        .filter_map(|pair| {
            let declaration = pair[1]
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ");
            declaration
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'))
                .map(str::to_owned)
        })
        .collect()
}

/// The module paths `text` names from module `at`: `crate::a::b` and `super::c` (in `use`
/// trees and inline), as segments that look like modules (lowercase).
fn referenced(at: &Module, is_dir_module: bool, text: &str) -> Vec<Module> {
    let mut paths = Vec::new();
    for statement in text.split(';') {
        let statement = statement.trim();
        let Some(tree) = statement
            .strip_prefix("pub use ")
            .or_else(|| statement.strip_prefix("pub(crate) use "))
            .or_else(|| statement.strip_prefix("use "))
        else {
            continue;
        };
        expand(tree, "", &mut paths);
    }
    // Inline paths: `crate::x::y(...)`, `super::x::Y`.
    for prefix in ["crate::", "super::"] {
        for (index, _) in text.match_indices(prefix) {
            let before = text[..index].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest: String = text[index..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            // `crate::edge::{...}`: a use group's head, read whole by `expand` above.
            if !rest.ends_with("::") {
                paths.push(rest);
            }
        }
    }
    paths
        .into_iter()
        .filter_map(|path| resolve(at, is_dir_module, &path))
        .collect()
}

/// `a::{b, c::{d}}` as `a::b`, `a::c::d` (appended to `prefix`).
fn expand(tree: &str, prefix: &str, into: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = &tree[..open];
        let inner = tree[open + 1..].trim_end().trim_end_matches('}');
        let mut depth = 0;
        let mut start = 0;
        for (index, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..index], &format!("{prefix}{head}"), into);
                    start = index + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], &format!("{prefix}{head}"), into);
    } else if !tree.is_empty() {
        into.push(format!(
            "{prefix}{}",
            tree.split(" as ").next().unwrap_or(tree)
        ));
    }
}

/// The path from the crate root: `super` resolved against `at`, every later segment kept.
fn resolve(at: &Module, is_dir_module: bool, path: &str) -> Option<Module> {
    let mut segments = path.split("::").filter(|s| !s.is_empty());
    let mut module: Module = match segments.next()? {
        "crate" => Vec::new(),
        "super" => {
            // In `a/b.rs` super is `a`; in `a/b/mod.rs` (module a::b) it is `a` as well.
            let mut parent = at.clone();
            parent.pop();
            let _ = is_dir_module;
            parent
        }
        _ => return None,
    };
    for segment in segments {
        match segment {
            "super" => {
                module.pop();
            }
            "self" => {}
            segment => module.push(segment.to_owned()),
        }
    }
    Some(module)
}

/// The modules `path` uses: the deepest module of `known` it is in, or, where the item after
/// that module is one it re-exports from a child, that child; a module named whole, with all
/// its descendants.
fn used_modules(known: &BTreeMap<Module, String>, path: &Module) -> Vec<Module> {
    let Some(module) = owning_module(known, path) else {
        return Vec::new();
    };
    if path.len() > module.len() {
        return vec![module];
    }
    known
        .keys()
        .filter(|other| other.starts_with(&module))
        .cloned()
        .collect()
}

/// The module `path` names an item of: the deepest module of `known` it is in, or, where the
/// item after that module is one it re-exports from a child, that child.
fn owning_module(known: &BTreeMap<Module, String>, path: &Module) -> Option<Module> {
    let module = (0..=path.len())
        .rev()
        .map(|length| path[..length].to_vec())
        .find(|prefix| known.contains_key(prefix))?;
    let child = path
        .get(module.len())
        .and_then(|item| reexports(&known[&module]).get(item).cloned());
    Some(match child {
        Some(child) if known.contains_key(&[module.clone(), vec![child.clone()]].concat()) => {
            [module, vec![child]].concat()
        }
        _ => module,
    })
}

/// The dependency graph of one crate: module to the other-branch modules it uses.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let modules = modules(src);
    let mut edges = BTreeMap::new();
    for (module, text) in &modules {
        let dir_module = src.join(module.join("/")).join("mod.rs").is_file();
        let related = |other: &Module| other.starts_with(module) || module.starts_with(other);
        let used: BTreeSet<Module> = referenced(module, dir_module, text)
            .iter()
            .flat_map(|path| used_modules(&modules, path))
            .filter(|target| !related(target))
            .collect();
        edges.insert(module.clone(), used);
    }
    edges
}

/// Every cycle's modules, one strongly connected component of more than one module each.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    let reach = |from: &Module| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(next) = stack.pop() {
            for target in graph.get(&next).into_iter().flatten() {
                if seen.insert(target.clone()) {
                    stack.push(target.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&Module, BTreeSet<Module>> =
        graph.keys().map(|module| (module, reach(module))).collect();
    let mut components: BTreeSet<Vec<String>> = BTreeSet::new();
    for module in graph.keys() {
        let mut component: Vec<String> = graph
            .keys()
            .filter(|other| {
                *other != module
                    && reachable[module].contains(*other)
                    && reachable[*other].contains(module)
            })
            .map(|other| other.join("::"))
            .collect();
        if !component.is_empty() {
            component.push(module.join("::"));
            component.sort();
            components.insert(component);
        }
    }
    components.into_iter().collect()
}

#[test]
fn no_module_of_the_kit_or_a_service_depends_on_itself_through_others() {
    let mut found = Vec::new();
    for krate in [
        "service-kit",
        "metadata",
        "rating",
        "movie",
        "auth",
        "api-reference",
    ] {
        let src = repo_root().join("components").join(krate).join("src");
        let graph = graph(&src);
        assert!(graph.len() >= 2, "{krate}: read {} modules", graph.len());
        found.extend(
            cycles(&graph)
                .into_iter()
                .map(|cycle| format!("{krate}: {}", cycle.join(" <-> "))),
        );
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

/// The reader itself: a cycle through a `use` group and an inline path is found, a parent's
/// re-export of its child is not one.
#[test]
fn the_reader_finds_a_cycle_and_ignores_a_parent_over_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("edge")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod edge;\npub mod grpc;\n").unwrap();
    std::fs::write(
        src.join("edge/mod.rs"),
        "pub mod routes;\npub use routes::serve;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("edge/routes.rs"),
        "use crate::{grpc::{Status, is_grpc}};\n",
    )
    .unwrap();
    std::fs::write(
        src.join("grpc.rs"),
        "fn f() { crate::edge::routes::serve(); }\n",
    )
    .unwrap();
    assert_eq!(cycles(&graph(src)), [vec!["edge::routes", "grpc"]]);
    std::fs::write(src.join("grpc.rs"), "use super::edge;\n").unwrap();
    assert_eq!(
        cycles(&graph(src)),
        [vec!["edge::routes", "grpc"]],
        "super:: from a file at the root is the crate, and edge's subtree is what it names"
    );
}
