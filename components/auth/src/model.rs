//! The auth service's validated types: client ids, scope sets, secrets and token requests.

use service_kit::Invalid;
use service_kit::auth::scopes;

service_kit::identifier_type!(
    /// A registered client's id (`client_id`).
    ClientId
);

/// A set of known scopes, in the order first named, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<&'static str>);

impl ScopeSet {
    /// Space-separated scope names, each one the services know.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let mut set = Vec::new();
        for name in raw.split(' ').filter(|name| !name.is_empty()) {
            let known = scopes::ALL
                .iter()
                .find(|known| **known == name)
                .ok_or_else(|| Invalid::new(format!("{name:?} is not a known scope")))?;
            if !set.contains(known) {
                set.push(*known);
            }
        }
        Ok(Self(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_within(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|scope| other.0.contains(scope))
    }

    /// The `scope` claim: names separated by spaces.
    pub fn to_claim(&self) -> String {
        self.0.join(" ")
    }
}

/// A client secret as presented: kept out of `Debug`, so no log line can carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The client's credentials of a token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client: ClientId,
    pub secret: Secret,
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    /// The Argon2id PHC string of the secret.
    pub secret_hash: String,
    pub scopes: ScopeSet,
}

/// A token request that passed validation: whose, and which scopes (none named: all the
/// client is registered with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub credentials: Credentials,
    pub scope: Option<ScopeSet>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_set_keeps_known_scopes_once_in_order() {
        let set = ScopeSet::parse("ratings:write metadata:write ratings:write").unwrap();
        assert_eq!(set.to_claim(), "ratings:write metadata:write");
    }

    #[test]
    fn an_unknown_scope_is_rejected_by_name() {
        let error = ScopeSet::parse("metadata:write root").unwrap_err();
        assert!(error.to_string().contains("\"root\""), "{error}");
    }

    #[test]
    fn a_subset_is_within_its_superset_only() {
        let all = ScopeSet::parse("metadata:write ratings:write").unwrap();
        let some = ScopeSet::parse("ratings:write").unwrap();
        assert!(some.is_within(&all) && !all.is_within(&some));
    }

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
