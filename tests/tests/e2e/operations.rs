//! The operations files under `deploy/`: the alert rules pass their promtool scenarios, every
//! query of the rules and the dashboard names a metric that the collector config, Spin or
//! Prometheus produces, and the collector's pipelines are wired.

use super::common;
use common::yaml::{keys, load as yaml, strings};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use yaml_rust2::Yaml;

fn deploy(path: &str) -> PathBuf {
    common::repo_root().join("deploy").join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn promtool(args: &[&str]) -> (bool, String) {
    let binary = spin_test_host::tools::PROMTOOL
        .find()
        .unwrap_or_else(|| "promtool".into());
    let output = Command::new(binary)
        .args(args)
        .current_dir(deploy("prometheus"))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool could not be started ({e}): install Debian's `prometheus` package \
                 (.ci/run does) or set PROMTOOL"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn every_alert_scenario_passes_promtool() {
    spin_test_host::require!(spin_test_host::tools::PROMTOOL);
    let (passed, output) = promtool(&["test", "rules", "tests/alerts.test.yml"]);
    assert!(passed, "promtool test rules failed:\n{output}");
}

#[test]
fn the_prometheus_config_and_its_rules_are_valid() {
    spin_test_host::require!(spin_test_host::tools::PROMTOOL);
    let (passed, output) = promtool(&["check", "config", "prometheus.yml"]);
    assert!(passed, "promtool check config failed:\n{output}");
}

/// The alerts of the rules file.
fn alerts() -> BTreeSet<String> {
    let rules = yaml(&deploy("prometheus/rules/movie-system.rules.yml"));
    groups_rules(&rules)
        .filter_map(|rule| rule["alert"].as_str().map(str::to_owned))
        .collect()
}

fn groups_rules(docs: &[Yaml]) -> impl Iterator<Item = &Yaml> {
    docs.iter()
        .flat_map(|doc| doc["groups"].as_vec().into_iter().flatten())
        .flat_map(|group| group["rules"].as_vec().into_iter().flatten())
}

#[test]
fn every_alert_has_a_scenario_that_fires_it_and_one_that_keeps_it_silent() {
    let tests = yaml(&deploy("prometheus/tests/alerts.test.yml"));
    let mut fired = BTreeSet::new();
    let mut silent = BTreeSet::new();
    let cases = tests
        .iter()
        .flat_map(|doc| doc["tests"].as_vec().into_iter().flatten())
        .flat_map(|test| test["alert_rule_test"].as_vec().into_iter().flatten());
    for case in cases {
        let name = case["alertname"].as_str().unwrap_or_default().to_owned();
        match case["exp_alerts"].as_vec() {
            Some(expected) if !expected.is_empty() => fired.insert(name),
            _ => silent.insert(name),
        };
    }
    let alerts = alerts();
    assert!(
        alerts.len() >= 10,
        "the rules file lost its alerts: {alerts:?}"
    );
    let never_fired: Vec<&String> = alerts.difference(&fired).collect();
    let never_silent: Vec<&String> = alerts.difference(&silent).collect();
    assert!(
        never_fired.is_empty() && never_silent.is_empty(),
        "alerts without a firing scenario: {never_fired:?}; without a silent one: {never_silent:?}"
    );
}

/// The metric names Spin exports (observed from Spin 4.1 over OTLP and read in its source),
/// as Prometheus names them: counters gain `_total`, histograms (no unit set by Spin) gain
/// `_bucket`, `_sum` and `_count`.
const SPIN_COUNTERS: &[&str] = &["spin.request_count", "outbound_connection_permits_acquired"];
const SPIN_HISTOGRAMS: &[&str] = &[
    "spin.component_cpu_time",
    "spin.component_memory_used",
    "spin.component_memory_used_on_init",
];
/// What Prometheus itself and the blackbox exporter produce.
const PROMETHEUS_SERIES: &[&str] = &["up", "probe_success"];

fn prometheus_name(otel: &str) -> String {
    otel.replace('.', "_")
}

fn histogram(family: &str, into: &mut BTreeSet<String>) {
    for suffix in ["_bucket", "_sum", "_count"] {
        into.insert(format!("{family}{suffix}"));
    }
}

/// Every series name a query may use: what the collector config makes (count connector
/// metrics, spanmetrics' calls and duration), Spin's own metrics, the recording rules.
fn known_series() -> BTreeSet<String> {
    let collector = &yaml(&deploy("otel/collector.yaml"))[0];
    let mut known = BTreeSet::new();
    let counts = collector["connectors"]["count"]["logs"]
        .as_hash()
        .expect("the collector config defines count metrics");
    for name in counts.keys().filter_map(Yaml::as_str) {
        known.insert(format!("{}_total", prometheus_name(name)));
    }
    let spans = &collector["connectors"]["spanmetrics"];
    let namespace = prometheus_name(spans["namespace"].as_str().unwrap_or("traces.span.metrics"));
    let unit = match spans["histogram"]["unit"].as_str() {
        Some("s") => "seconds",
        _ => "milliseconds",
    };
    known.insert(format!("{namespace}_calls_total"));
    histogram(&format!("{namespace}_duration_{unit}"), &mut known);
    for counter in SPIN_COUNTERS {
        known.insert(format!("{}_total", prometheus_name(counter)));
    }
    for family in SPIN_HISTOGRAMS {
        histogram(&prometheus_name(family), &mut known);
    }
    known.extend(PROMETHEUS_SERIES.iter().map(|s| (*s).to_owned()));
    let rules = yaml(&deploy("prometheus/rules/movie-system.rules.yml"));
    known.extend(groups_rules(&rules).filter_map(|r| r["record"].as_str().map(str::to_owned)));
    known
}

const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "inf", "nan"];
/// Aggregation operators, which may be followed by `by (...)` rather than `(`.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
];
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The series names a PromQL expression selects: identifiers that are not functions,
/// aggregations, keywords, label names (inside `{}` or a grouping clause) or durations (inside `[]`).
fn series_in(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let skip_to = |from: usize, close: char| {
        let mut j = from;
        let mut in_string = false;
        while j < chars.len() {
            match chars[j] {
                '"' => in_string = !in_string,
                '\\' if in_string => j += 1,
                c if c == close && !in_string => return j + 1,
                _ => {}
            }
            j += 1;
        }
        j
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            i = skip_to(i + 1, '}');
        } else if c == '[' {
            i = skip_to(i + 1, ']');
        } else if c == '"' {
            i = skip_to(i + 1, '"');
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let opens = chars.get(next) == Some(&'(');
            if GROUPING.contains(&word.as_str()) {
                if opens {
                    i = skip_to(next + 1, ')');
                }
            } else if !opens
                && !AGGREGATIONS.contains(&word.as_str())
                && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str())
            {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn the_query_reader_finds_series_and_nothing_else() {
    let found = series_in(
        r#"sum by (service_name, le) (rate(a_total{x=~"5..", y="a{b}"}[5m])) / on() group_left() b:c:rate5m > bool 0.5 and up offset 1h"#,
    );
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["a_total", "b:c:rate5m", "up"]
    );
}

fn assert_known(what: &str, exprs: &[String]) {
    let known = known_series();
    let mut used = BTreeSet::new();
    for expr in exprs {
        let series = series_in(expr);
        assert!(
            !series.is_empty(),
            "{what}: a query selects nothing: {expr}"
        );
        for name in series {
            assert!(
                known.contains(&name),
                "{what} queries `{name}`, which neither the collector config, Spin nor the \
                 rules produce: {expr}\nknown: {known:?}"
            );
            used.insert(name);
        }
    }
    assert!(
        used.len() >= 5,
        "{what} uses too few series to mean anything: {used:?}"
    );
}

#[test]
fn every_dashboard_query_names_a_metric_the_collector_or_spin_produces() {
    let path = deploy("grafana/movie-system.json");
    let dashboard: serde_json::Value = serde_json::from_str(&read(&path)).expect("dashboard JSON");
    let panels = dashboard["panels"].as_array().cloned().unwrap_or_default();
    let mut exprs = Vec::new();
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let targets = panel["targets"].as_array().cloned().unwrap_or_default();
        assert!(!targets.is_empty(), "panel {} has no query", panel["title"]);
        exprs.extend(
            targets
                .iter()
                .filter_map(|t| t["expr"].as_str().map(str::to_owned)),
        );
    }
    assert!(
        exprs.len() >= 15,
        "the dashboard lost its panels: {}",
        exprs.len()
    );
    assert_known("the dashboard", &exprs);
}

#[test]
fn every_rule_names_a_metric_the_collector_or_spin_produces() {
    let rules = yaml(&deploy("prometheus/rules/movie-system.rules.yml"));
    let exprs: Vec<String> = groups_rules(&rules)
        .filter_map(|rule| rule["expr"].as_str().map(str::to_owned))
        .collect();
    assert_known("the rules", &exprs);
}

#[test]
fn every_collector_pipeline_uses_defined_components_and_connectors_join_pipelines() {
    let collector = &yaml(&deploy("otel/collector.yaml"))[0];
    let defined =
        |section: &str| -> BTreeSet<String> { keys(&collector[section]).into_iter().collect() };
    let (receivers, processors, exporters, connectors) = (
        defined("receivers"),
        defined("processors"),
        defined("exporters"),
        defined("connectors"),
    );
    let pipelines = collector["service"]["pipelines"]
        .as_hash()
        .expect("pipelines");
    let mut fed = BTreeSet::new();
    let mut feeding = BTreeSet::new();
    for (name, pipeline) in pipelines {
        let name = name.as_str().unwrap_or_default();
        let list = |key: &str| strings(&pipeline[key]);
        for receiver in list("receivers") {
            assert!(
                receivers.contains(&receiver) || connectors.contains(&receiver),
                "pipeline {name} receives from undefined {receiver}"
            );
            if connectors.contains(&receiver) {
                fed.insert(receiver);
            }
        }
        for processor in list("processors") {
            assert!(
                processors.contains(&processor),
                "pipeline {name}: undefined processor {processor}"
            );
        }
        for exporter in list("exporters") {
            assert!(
                exporters.contains(&exporter) || connectors.contains(&exporter),
                "pipeline {name} exports to undefined {exporter}"
            );
            if connectors.contains(&exporter) {
                feeding.insert(exporter);
            }
        }
    }
    assert_eq!(fed, connectors, "every connector must feed a pipeline");
    assert_eq!(
        feeding, connectors,
        "every connector must be fed by a pipeline"
    );
    assert!(
        connectors.contains("spanmetrics"),
        "RED from spans needs spanmetrics"
    );
}

/// Where every alert's `runbook_url` points: `docs/operations.md` as published (README
/// "Operations" says how to point it elsewhere).
const RUNBOOKS: &str = "https://movie-system.example/docs/operations.md#";

#[test]
fn every_alert_links_its_runbook() {
    let rules = yaml(&deploy("prometheus/rules/movie-system.rules.yml"));
    for rule in groups_rules(&rules).filter(|rule| rule["alert"].as_str().is_some()) {
        let url = rule["annotations"]["runbook_url"]
            .as_str()
            .unwrap_or_default();
        assert!(
            url.starts_with(RUNBOOKS),
            "{}: runbook_url {url:?} is not under {RUNBOOKS}",
            rule["alert"].as_str().unwrap_or_default()
        );
    }
}

/// The links as the scenarios render them (promtool checks the rendering), and every
/// component's runbook, which the per-service alerts link by their `service_name` label, are
/// headings of docs/operations.md.
#[test]
fn every_runbook_an_alert_links_exists() {
    let anchors = common::heading_anchors("docs/operations.md");
    let tests = read(&deploy("prometheus/tests/alerts.test.yml"));
    let rendered = tests
        .lines()
        .filter_map(|line| line.trim().strip_prefix("runbook_url: "))
        .map(|url| url.trim_matches('"').to_owned());
    let components = ["metadata", "rating", "rating-ingest", "movie", "auth"]
        .map(|name| format!("{RUNBOOKS}runbook-{name}"));
    let mut checked = 0;
    for url in rendered.chain(components) {
        let anchor = url.strip_prefix(RUNBOOKS).unwrap_or(&url);
        assert!(
            anchors.contains(anchor),
            "{url}: docs/operations.md has no heading #{anchor}"
        );
        checked += 1;
    }
    assert!(checked > 10, "checked {checked} links");
}
