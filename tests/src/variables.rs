//! Application and component variables, resolved like Spin's static provider plus
//! `SPIN_VARIABLE_*` environment overrides.

use crate::manifest::{Manifest, VariableDecl, is_variable_name};
use anyhow::{anyhow, bail};
use std::collections::{BTreeMap, HashMap};

/// Final values of the application variables.
#[derive(Debug, Clone)]
pub struct Variables {
    values: BTreeMap<String, String>,
}

impl Variables {
    /// Resolves every application variable once, as `spin up` does at start: a test override
    /// wins over `SPIN_VARIABLE_<NAME>`, which wins over the default. A `required` variable
    /// without a value stops the app from loading.
    pub fn resolve(
        declared: &BTreeMap<String, VariableDecl>,
        overrides: &HashMap<String, String>,
        environment: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        for name in overrides.keys() {
            if !declared.contains_key(name) {
                bail!("override for undeclared variable {name:?}");
            }
        }
        let mut values = BTreeMap::new();
        for (name, decl) in declared {
            let env_name = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
            let value = overrides
                .get(name)
                .cloned()
                .or_else(|| environment(&env_name))
                .or_else(|| decl.default.clone());
            match value {
                Some(value) => {
                    values.insert(name.clone(), value);
                }
                None if decl.required => bail!("required variable {name:?} has no value"),
                None => {}
            }
        }
        Ok(Self { values })
    }

    /// Renders `{{ name }}` templates against the application variables.
    pub fn render(&self, template: &str) -> anyhow::Result<String> {
        let mut output = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            output.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| anyhow!("unclosed '{{{{' in {template:?}"))?;
            let name = after[..end].trim();
            let value = self
                .values
                .get(name)
                .ok_or_else(|| anyhow!("template {template:?} uses unknown variable {name:?}"))?;
            output.push_str(value);
            rest = &after[end + 2..];
        }
        output.push_str(rest);
        Ok(output)
    }
}

/// What `spin:variables/get` can fail with, mirroring the WIT error variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    InvalidName(String),
    Undefined(String),
    Provider(String),
}

/// One component's variables: its `[component.X.variables]` templates over the app's.
#[derive(Debug, Clone)]
pub struct ComponentVariables {
    component: String,
    templates: BTreeMap<String, String>,
    app: Variables,
}

impl ComponentVariables {
    pub fn new(component: &str, manifest: &Manifest, app: &Variables) -> anyhow::Result<Self> {
        let templates = manifest
            .component
            .get(component)
            .map(|c| c.variables.clone())
            .unwrap_or_default();
        // Spin checks at start that every template renders.
        for template in templates.values() {
            app.render(template)?;
        }
        Ok(Self {
            component: component.to_owned(),
            templates,
            app: app.clone(),
        })
    }

    /// What the guest gets for `get(name)`; the undefined message is Spin's, word for word
    /// (`docs/spin-facts.md`).
    pub fn get(&self, name: &str) -> Result<String, GetError> {
        if !is_variable_name(name) {
            return Err(GetError::InvalidName(format!(
                "invalid variable name {name:?}"
            )));
        }
        let template = self.templates.get(name).ok_or_else(|| {
            GetError::Undefined(format!("no variable for {:?}.{:?}", self.component, name))
        })?;
        self.app
            .render(template)
            .map_err(|e| GetError::Provider(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(entries: &[(&str, Option<&str>, bool)]) -> BTreeMap<String, VariableDecl> {
        entries
            .iter()
            .map(|(name, default, required)| {
                let decl = VariableDecl {
                    default: default.map(str::to_owned),
                    required: *required,
                    secret: false,
                };
                (name.to_string(), decl)
            })
            .collect()
    }

    #[test]
    fn override_beats_environment_beats_default() {
        let declared = declared(&[
            ("a", Some("default"), false),
            ("b", Some("default"), false),
            ("c", Some("default"), false),
        ]);
        let overrides = HashMap::from([("a".to_owned(), "override".to_owned())]);
        let env = |name: &str| {
            (name == "SPIN_VARIABLE_A" || name == "SPIN_VARIABLE_B").then(|| "env".to_owned())
        };
        let variables = Variables::resolve(&declared, &overrides, env).unwrap();
        assert_eq!(
            variables.render("{{ a }} {{b}} {{ c }}").unwrap(),
            "override env default"
        );
    }

    #[test]
    fn a_required_variable_without_value_fails_to_load() {
        assert!(
            Variables::resolve(&declared(&[("x", None, true)]), &HashMap::new(), |_| None).is_err()
        );
        let env = |_: &str| Some("set".to_owned());
        assert!(Variables::resolve(&declared(&[("x", None, true)]), &HashMap::new(), env).is_ok());
    }

    #[test]
    fn templates_with_unknown_variables_are_errors() {
        let variables = Variables::resolve(
            &declared(&[("a", Some("1"), false)]),
            &HashMap::new(),
            |_| None,
        )
        .unwrap();
        assert!(variables.render("{{ nope }}").is_err());
        assert!(variables.render("{{ a").is_err());
    }

    #[test]
    fn an_undeclared_component_variable_is_undefined_with_spins_message() {
        let manifest = Manifest::parse(
            "spin_manifest_version = 2\n[application]\nname = \"t\"\n[component.d]\nsource = \"d.wasm\"\n",
        )
        .unwrap();
        let app = Variables::resolve(&BTreeMap::new(), &HashMap::new(), |_| None).unwrap();
        let variables = ComponentVariables::new("d", &manifest, &app).unwrap();
        assert_eq!(
            variables.get("undefined_var"),
            Err(GetError::Undefined(
                "no variable for \"d\".\"undefined_var\"".into()
            ))
        );
        assert!(matches!(
            variables.get("Bad-Name"),
            Err(GetError::InvalidName(_))
        ));
    }
}
