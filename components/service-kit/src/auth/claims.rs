//! What a token says: the registered claims the services check and the scopes it grants.

use serde::{Deserialize, Serialize};

/// The scopes the services know. A token's `scope` claim lists those it grants, separated by
/// spaces (RFC 8693 section 4.2, as OAuth 2.0 writes them).
pub mod scopes {
    /// Create, replace and delete movie metadata.
    pub const METADATA_WRITE: &str = "metadata:write";
    /// Rate and unrate, as the token's subject only.
    pub const RATINGS_WRITE: &str = "ratings:write";
    /// Rate and unrate as any user (moderation, imports).
    pub const RATINGS_ADMIN: &str = "ratings:admin";
    /// Every scope, for validating what a client is registered with.
    pub const ALL: &[&str] = &[METADATA_WRITE, RATINGS_WRITE, RATINGS_ADMIN];
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token (reads).
    Public,
    /// A caller whose token grants at least one of these scopes; the first is the one a 403
    /// names.
    AnyScope(&'static [&'static str]),
}

impl Access {
    /// The scope a 403 names: the first one a protected access accepts.
    pub fn first_scope(self) -> Option<&'static str> {
        match self {
            Self::Public => None,
            Self::AnyScope(wanted) => wanted.first().copied(),
        }
    }
}

/// The claims of our tokens besides `exp`, `nbf` and `iat` (which `jwt_compact::Claims` holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub jti: String,
    /// Space-separated scopes; absent means none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

/// `aud`: one audience or several (RFC 7519 section 4.1.3 allows both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|each| each == audience),
        }
    }
}

/// The verified caller of a request: the token's subject and the scopes it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub scopes: Vec<String>,
    /// When the token proving it expires (`exp`), once verified.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Principal {
    pub fn from_grant(grant: Grant) -> Self {
        Self {
            subject: grant.sub,
            scopes: grant.scope.split_whitespace().map(str::to_owned).collect(),
            expires_at: None,
        }
    }

    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }

    /// Whether the caller may use a route with `access`.
    pub fn may(&self, access: Access) -> bool {
        match access {
            Access::Public => true,
            Access::AnyScope(wanted) => wanted.iter().any(|scope| self.has(scope)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(scope: &str) -> Principal {
        Principal::from_grant(Grant {
            iss: "i".into(),
            sub: "u1".into(),
            aud: Audience::One("a".into()),
            jti: "j".into(),
            scope: scope.into(),
        })
    }

    #[test]
    fn scopes_are_split_on_whitespace() {
        let principal = caller(" metadata:write  ratings:write ");
        assert_eq!(principal.scopes, ["metadata:write", "ratings:write"]);
    }

    #[test]
    fn any_one_of_the_wanted_scopes_grants_access() {
        let access = Access::AnyScope(&[scopes::RATINGS_WRITE, scopes::RATINGS_ADMIN]);
        assert!(caller("ratings:admin").may(access));
        assert!(!caller("metadata:write").may(access));
    }

    #[test]
    fn a_scope_must_match_exactly() {
        assert!(!caller("metadata:writer").has(scopes::METADATA_WRITE));
    }

    #[test]
    fn an_audience_list_contains_each_of_its_members() {
        let audience: Audience = serde_json::from_str(r#"["x","movie-system"]"#).unwrap();
        assert!(audience.contains("movie-system"));
        assert!(!audience.contains("movie"));
    }
}
