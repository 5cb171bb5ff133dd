//! Every command in README's `sh` blocks at least parses against the repository as it is: a
//! `curl` names a documented operation (method, path and query parameters of
//! `docs/openapi.json`), `authctl` and `ratingingester` accept their arguments (their own clap
//! parsers), `grpcurl` names a proto file and a method it declares, `SPIN_VARIABLE_*` names a
//! variable of spin.toml or spin-events.toml, and every repository path and manifest exists.
//! A command of a program this file has no rule for fails the test, so a new kind of command
//! comes with its check.

use super::common::repo_root;
use std::collections::BTreeSet;

/// The commands of README's `sh` blocks: continuation lines joined, `$(...)` taken out as
/// commands of their own, split at `|`, `&&`, `;` and `&`, redirections dropped.
fn readme_commands(markdown: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut block = String::new();
    for line in markdown.lines() {
        match (in_sh, line.trim_start()) {
            (false, "```sh") => in_sh = true,
            (true, "```") => {
                in_sh = false;
                commands.extend(block_commands(&block));
                block.clear();
            }
            (true, _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    commands
}

fn block_commands(block: &str) -> Vec<Vec<String>> {
    let joined = block.replace("\\\n", " ");
    let mut commands = Vec::new();
    for line in joined.lines() {
        let mut line = line.to_owned();
        // `$(inner)` (not nested): the inner command is checked on its own.
        while let Some(start) = line.find("$(") {
            let Some(length) = line[start..].find(')') else {
                break;
            };
            let inner = line[start + 2..start + length].to_owned();
            commands.extend(split_words(&inner));
            line.replace_range(start..=start + length, "SUBSTITUTED");
        }
        commands.extend(split_words(&line));
    }
    commands.retain(|command| !command.is_empty());
    commands
}

fn split_words(line: &str) -> Vec<Vec<String>> {
    let words = shlex::split(line).unwrap_or_else(|| panic!("README: unbalanced quotes in {line}"));
    let mut commands = vec![Vec::new()];
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "|" | "||" | "&&" | ";" | "&" => commands.push(Vec::new()),
            ">" | ">>" | "<" | "2>" => {
                words.next();
            }
            _ => {
                if let Some(current) = commands.last_mut() {
                    current.push(word);
                }
            }
        }
    }
    commands
}

/// What `docs/openapi.json` documents: `(method, path template, query parameter names)`.
fn operations() -> Vec<(String, String, BTreeSet<String>)> {
    let text = std::fs::read_to_string(repo_root().join("docs/openapi.json")).expect("document");
    let document: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if method == "parameters" {
                continue;
            }
            let query = item["parameters"]
                .as_array()
                .into_iter()
                .chain(operation["parameters"].as_array())
                .flatten()
                .filter(|parameter| parameter["in"] == "query")
                .filter_map(|parameter| parameter["name"].as_str().map(str::to_owned))
                .collect();
            operations.push((method.to_uppercase(), path.clone(), query));
        }
    }
    operations
}

fn matches_template(template: &str, path: &str) -> bool {
    let (template, path): (Vec<&str>, Vec<&str>) =
        (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
}

/// `curl`: the operation its URL and method name is documented, with its query parameters.
fn check_curl(
    words: &[String],
    documented: &[(String, String, BTreeSet<String>)],
) -> Result<(), String> {
    let url = words
        .iter()
        .find_map(|word| {
            ["localhost:3000", "127.0.0.1:3000"]
                .iter()
                .find_map(|host| word.split_once(host).map(|(_, rest)| rest.to_owned()))
        })
        .ok_or("no URL of the app")?;
    let method = match words.iter().position(|word| word == "-X") {
        Some(at) => words.get(at + 1).cloned().ok_or("-X without a method")?,
        None if words.iter().any(|word| {
            ["-d", "--data", "--data-binary", "--data-raw", "-F"].contains(&word.as_str())
        }) =>
        {
            "POST".to_owned()
        }
        None => "GET".to_owned(),
    };
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let path = if path.is_empty() { "/" } else { path };
    let (_, template, parameters) = documented
        .iter()
        .find(|(m, template, _)| *m == method && matches_template(template, path))
        .ok_or_else(|| format!("{method} {path} is not an operation of docs/openapi.json"))?;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        if !parameters.contains(name) {
            return Err(format!(
                "{method} {template} has no query parameter {name:?} (it has {parameters:?})"
            ));
        }
    }
    Ok(())
}

/// `cargo run -p PACKAGE -- ARGS`: the tool's own parser accepts ARGS.
fn check_cargo(words: &[String]) -> Result<(), String> {
    let Some("run") = words.get(1).map(String::as_str) else {
        return Ok(()); // cargo test, cargo build: nothing to resolve
    };
    let package = words
        .iter()
        .position(|word| word == "-p")
        .and_then(|at| words.get(at + 1))
        .ok_or("cargo run without -p")?;
    let args: Vec<String> = words
        .iter()
        .skip_while(|word| *word != "--")
        .skip(1)
        .cloned()
        .collect();
    match package.as_str() {
        "authctl" => authctl::commands::parse(&args).map(drop),
        "ratingingester" => ratingingester::parse(&args).map(drop),
        other => Err(format!(
            "cargo run of {other}, which this test has no parser for"
        )),
    }
}

/// `grpcurl ... -import-path DIR -proto FILE ... SERVICE/METHOD`: the file declares both.
fn check_grpcurl(words: &[String]) -> Result<(), String> {
    let option = |name: &str| {
        words
            .iter()
            .position(|word| word == name)
            .and_then(|at| words.get(at + 1))
            .cloned()
    };
    let file = repo_root()
        .join(option("-import-path").unwrap_or_default())
        .join(option("-proto").ok_or("no -proto")?);
    let proto = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let target = words.last().ok_or("no method")?;
    let (service, method) = target.split_once('/').ok_or("no SERVICE/METHOD")?;
    let (package, service) = service.rsplit_once('.').unwrap_or(("", service));
    let declares = |needle: String| proto.contains(&needle);
    if !package.is_empty() && !declares(format!("package {package};")) {
        return Err(format!("{} declares no package {package}", file.display()));
    }
    if !declares(format!("service {service} ")) || !declares(format!("rpc {method}(")) {
        return Err(format!("{} declares no {service}/{method}", file.display()));
    }
    if let Some(body) = option("-d") {
        serde_json::from_str::<serde_json::Value>(&body).map_err(|e| format!("-d: {e}"))?;
    }
    Ok(())
}

/// `spin`: the manifest and runtime config it names exist.
fn check_spin(words: &[String]) -> Result<(), String> {
    for flag in ["-f", "--runtime-config-file"] {
        if let Some(file) = words
            .iter()
            .position(|w| w == flag)
            .and_then(|at| words.get(at + 1))
            && !repo_root().join(file).is_file()
        {
            return Err(format!("{flag} {file}: no such file"));
        }
    }
    Ok(())
}

/// The programs README may show, each with its check.
fn check_command(
    words: &[String],
    documented: &[(String, String, BTreeSet<String>)],
) -> Result<(), String> {
    // Leading `NAME=value` words set the environment.
    let words: Vec<String> = words
        .iter()
        .skip_while(|word| {
            word.split_once('=').is_some_and(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            })
        })
        .cloned()
        .collect();
    let Some(program) = words.first() else {
        return Ok(());
    };
    match program.as_str() {
        "curl" => check_curl(&words, documented),
        "cargo" => check_cargo(&words),
        "grpcurl" => check_grpcurl(&words),
        "spin" => check_spin(&words),
        // Checked by the path and variable rules alone.
        "kubectl" | "sed" | "cat" | "printf" | "head" | "base64" | "tr" | "source" | "for"
        | "do" | "done" | "export" | "redis-server" | "redis-cli" => Ok(()),
        other => Err(format!("{other}: a program this test has no rule for")),
    }
}

/// The top-level directories whose paths README may name.
const TRACKED: &[&str] = &[
    "components/",
    "deploy/",
    "docs/",
    "proto/",
    "tests/",
    "tools/",
    "policy/",
    "wit/",
];

/// Every repository path a word names exists, and every `SPIN_VARIABLE_*` is a variable.
fn check_words(words: &[String], variables: &BTreeSet<String>) -> Result<(), String> {
    for word in words {
        for part in word.split(['=', '@', ' ', '"', '\'']) {
            if TRACKED.iter().any(|dir| part.starts_with(dir)) {
                let path = part.trim_end_matches([')', ',', ':']);
                if !repo_root().join(path).exists() {
                    return Err(format!("{path}: no such file or directory"));
                }
            }
        }
        let mut rest = word.as_str();
        while let Some(at) = rest.find("SPIN_VARIABLE_") {
            let name: String = rest[at + "SPIN_VARIABLE_".len()..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !variables.contains(&name.to_lowercase()) {
                return Err(format!(
                    "SPIN_VARIABLE_{name}: no variable {} in the manifests",
                    name.to_lowercase()
                ));
            }
            rest = &rest[at + 1..];
        }
    }
    Ok(())
}

fn manifest_variables() -> BTreeSet<String> {
    ["spin.toml", "spin-events.toml"]
        .iter()
        .flat_map(|file| {
            spin_test_host::manifest::Manifest::load(&repo_root().join(file))
                .expect(file)
                .variables
                .into_keys()
        })
        .collect()
}

/// Every failure in `markdown`'s commands, one line each.
fn failures(markdown: &str) -> Vec<String> {
    let documented = operations();
    let variables = manifest_variables();
    readme_commands(markdown)
        .iter()
        .filter_map(|words| {
            check_command(words, &documented)
                .and_then(|()| check_words(words, &variables))
                .err()
                .map(|error| format!("`{}`: {error}", words.join(" ")))
        })
        .collect()
}

#[test]
fn every_command_in_readme_parses_against_the_repository() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let commands = readme_commands(&readme);
    assert!(
        commands.len() > 40,
        "found only {} commands",
        commands.len()
    );
    let failures = failures(&readme);
    assert!(
        failures.is_empty(),
        "README commands that do not parse:\n{}",
        failures.join("\n")
    );
}

/// The checker itself: each kind of mistake README could make is caught.
#[test]
fn the_checker_catches_each_kind_of_mistake() {
    let mistakes = [
        "curl localhost:3000/metadatas/tt1",
        "curl -X PATCH localhost:3000/metadata/tt1",
        "curl 'localhost:3000/metadata?limt=20'",
        "cargo run -q -p authctl -- token --subject alice --scopes ratings:write",
        "cargo run -q -p ratingingester -- --chunk 0 tools/ratingingester/ratingsdata.json",
        "grpcurl -plaintext -import-path proto -proto movie.proto -d '{}' 127.0.0.1:3000 MovieService/GetMovie",
        "spin up -f spin-event.toml",
        "kubectl apply -k deploy/spinkube/per-servce",
        "export SPIN_VARIABLE_AUTH_SIGNING_KEYS=x",
        "wget localhost:3000/movies/tt1",
    ];
    for mistake in mistakes {
        let block = format!("```sh\n{mistake}\n```\n");
        assert_eq!(failures(&block).len(), 1, "not caught: {mistake}");
    }
}
