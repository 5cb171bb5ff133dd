//! `spin.toml` (manifest version 2): the parts of it this app uses, checked as Spin checks them.
//!
//! Every table rejects fields it does not model (`deny_unknown_fields`), and every trigger type
//! the app may use is modelled, so a section the host does not understand (a new trigger, a
//! component's `files`) stops the load instead of being silently ignored.

use anyhow::{Context, bail, ensure};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    pub application: Application,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    pub trigger: Triggers,
    #[serde(default)]
    pub component: BTreeMap<String, ComponentDecl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub name: String,
    pub version: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub trigger: ApplicationTrigger,
}

/// Settings that apply to every trigger of one type.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationTrigger {
    #[serde(default)]
    pub http: Option<HttpApplicationConfig>,
    #[serde(default)]
    pub redis: Option<RedisApplicationConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpApplicationConfig {
    /// The base every route is under; `/` unless set.
    pub base: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisApplicationConfig {
    /// The Redis server a `[[trigger.redis]]` without its own `address` subscribes to.
    pub address: Option<String>,
}

/// An application variable: a default, or `required`; `secret` only hides it from logs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
}

/// The triggers Spin has built in. Any other `[[trigger.<type>]]` is rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
    #[serde(default)]
    pub redis: Vec<RedisTrigger>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTrigger {
    pub route: RouteDecl,
    pub component: String,
}

/// A subscription: messages published on `channel` run `component`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisTrigger {
    pub channel: String,
    pub component: String,
    /// Overrides `[application.trigger.redis] address`.
    pub address: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RouteDecl {
    Path(String),
    Private { private: bool },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentDecl {
    pub source: String,
    pub description: Option<String>,
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    pub build: Option<BuildDecl>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildDecl {
    pub command: String,
    pub workdir: Option<String>,
    #[serde(default)]
    pub watch: Vec<String>,
}

impl Manifest {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let manifest: Manifest = toml::from_str(text)?;
        manifest.validate()?;
        Ok(manifest)
    }

    fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.spin_manifest_version == 2,
            "only spin_manifest_version = 2 is supported"
        );
        for (name, decl) in &self.variables {
            ensure!(is_variable_name(name), "invalid variable name {name:?}");
            ensure!(
                !(decl.required && decl.default.is_some()),
                "variable {name:?} cannot be both required and have a default"
            );
        }
        for trigger in &self.trigger.http {
            ensure!(
                self.component.contains_key(&trigger.component),
                "trigger for route {:?} names unknown component {:?}",
                trigger.route,
                trigger.component
            );
            if let RouteDecl::Private { private: false } = trigger.route {
                bail!("route must be a string pattern or '{{ private = true }}'");
            }
        }
        for trigger in &self.trigger.redis {
            ensure!(
                self.component.contains_key(&trigger.component),
                "redis trigger for channel {:?} names unknown component {:?}",
                trigger.channel,
                trigger.component
            );
            ensure!(
                !trigger.channel.is_empty(),
                "a redis trigger needs a channel"
            );
            ensure!(
                self.redis_address(trigger).is_some(),
                "redis trigger for channel {:?} has no address, and [application.trigger.redis] none",
                trigger.channel
            );
        }
        for (id, component) in &self.component {
            for name in component.variables.keys() {
                ensure!(
                    is_variable_name(name),
                    "component {id}: invalid variable name {name:?}"
                );
            }
        }
        Ok(())
    }
}

impl Manifest {
    /// The address `trigger` subscribes at: its own, or the application's.
    pub fn redis_address<'a>(&'a self, trigger: &'a RedisTrigger) -> Option<&'a str> {
        trigger.address.as_deref().or_else(|| {
            let application = self.application.trigger.redis.as_ref();
            application.and_then(|redis| redis.address.as_deref())
        })
    }

    /// The components some trigger of type `http` runs.
    pub fn http_components(&self) -> impl Iterator<Item = &str> {
        self.trigger.http.iter().map(|t| t.component.as_str())
    }
}

/// Spin's rule for variable names: lowercase letters, digits and underscores, starting with a
/// letter.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        spin_manifest_version = 2
        [application]
        name = "t"
        [[trigger.http]]
        route = "/a/..."
        component = "a"
        [component.a]
        source = "a.wasm"
    "#;

    #[test]
    fn a_minimal_manifest_parses() {
        let manifest = Manifest::parse(MINIMAL).unwrap();
        assert_eq!(manifest.trigger.http.len(), 1);
        assert!(manifest.component["a"].allowed_outbound_hosts.is_empty());
    }

    fn error_of(text: &str) -> String {
        format!("{:#}", Manifest::parse(text).unwrap_err())
    }

    #[test]
    fn an_unknown_trigger_type_is_rejected() {
        let text = format!(
            "{MINIMAL}\n[[trigger.cron]]\ncron_expression = \"* * * * *\"\ncomponent = \"a\""
        );
        assert!(error_of(&text).contains("cron"), "{}", error_of(&text));
    }

    #[test]
    fn an_unknown_field_of_a_trigger_is_rejected() {
        let text = MINIMAL.replace("component = \"a\"", "component = \"a\"\nexecutor = {}");
        assert!(error_of(&text).contains("executor"), "{}", error_of(&text));
    }

    #[test]
    fn an_unknown_application_field_is_rejected() {
        let text = MINIMAL.replace("name = \"t\"", "name = \"t\"\nflavour = \"x\"");
        assert!(error_of(&text).contains("flavour"), "{}", error_of(&text));
    }

    #[test]
    fn a_redis_trigger_subscribes_at_the_application_address() {
        let text = format!(
            "{MINIMAL}\n[application.trigger.redis]\naddress = \"redis://h:6379\"\n[[trigger.redis]]\nchannel = \"ratings\"\ncomponent = \"a\""
        );
        let manifest = Manifest::parse(&text).unwrap();
        let trigger = &manifest.trigger.redis[0];
        assert_eq!(
            (trigger.channel.as_str(), manifest.redis_address(trigger)),
            ("ratings", Some("redis://h:6379"))
        );
    }

    #[test]
    fn a_redis_trigger_without_any_address_is_rejected() {
        let text =
            format!("{MINIMAL}\n[[trigger.redis]]\nchannel = \"ratings\"\ncomponent = \"a\"");
        assert!(
            error_of(&text).contains("no address"),
            "{}",
            error_of(&text)
        );
    }

    #[test]
    fn a_trigger_for_an_unknown_component_is_rejected() {
        let text = MINIMAL.replace("component = \"a\"", "component = \"b\"");
        assert!(Manifest::parse(&text).is_err());
    }

    #[test]
    fn a_required_variable_with_a_default_is_rejected() {
        let text = format!("{MINIMAL}\n[variables]\nx = {{ default = \"1\", required = true }}");
        assert!(Manifest::parse(&text).is_err());
    }

    #[test]
    fn variable_names_are_lowercase_snake_case() {
        assert!(is_variable_name("metadata_url"));
        assert!(!is_variable_name("Metadata"));
        assert!(!is_variable_name("1x"));
        assert!(!is_variable_name("a-b"));
    }
}
