//! The identifier rule shared by movie, record and user ids.

use crate::field::Invalid;
use std::fmt;

/// An id of 1-64 characters from `[A-Za-z0-9._-]`, other than `.` and `..`.
///
/// The alphabet is URL-safe, so an identifier goes into a path segment or a query without
/// escaping, and a percent-encoded segment is simply rejected rather than decoded. `.` and
/// `..` are refused because clients and proxies resolve them as dot segments (RFC 3986
/// section 5.2.4): `/metadata/..` would address a different resource on the way.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identifier(String);

impl Identifier {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() {
            return Err(Invalid::new("must not be empty"));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(Invalid::new("must be at most 64 characters"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(Invalid::new(
                "must contain only letters, digits, '.', '_' and '-'",
            ));
        }
        if raw == "." || raw == ".." {
            return Err(Invalid::new("must not be a dot segment ('.' or '..')"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Declares a domain id type that follows the [`Identifier`] rule, with `parse` and `as_str`:
/// each service names its ids (`MovieId`, `UserId`, ...) so they cannot be mixed up, without
/// restating the rule.
#[macro_export]
macro_rules! identifier_type {
    ($(#[$meta:meta])* $name:ident) => {
        $crate::identifier_type!($(#[$meta])* $name, reserved: &[]);
    };
    // `reserved`: ids the service's own paths use as literal segments (`/metadata/export`),
    // which a resource therefore cannot be named.
    ($(#[$meta:meta])* $name:ident, reserved: $reserved:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name($crate::Identifier);

        impl $name {
            /// Ids a path of the service names itself, refused as resource names.
            pub const RESERVED: &'static [&'static str] = $reserved;

            pub fn parse(raw: &str) -> Result<Self, $crate::Invalid> {
                if Self::RESERVED.contains(&raw) {
                    return Err($crate::Invalid::new(
                        "must not be a reserved name (a path of the service)",
                    ));
                }
                $crate::Identifier::parse(raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_dot_underscore_and_dash_are_accepted() {
        assert_eq!(
            Identifier::parse("Tt-0.1_x").map(|i| i.to_string()),
            Ok("Tt-0.1_x".to_owned())
        );
    }

    #[test]
    fn dot_segments_are_rejected_but_dots_inside_an_id_are_not() {
        assert!(Identifier::parse(".").is_err());
        assert!(Identifier::parse("..").is_err());
        assert!(Identifier::parse("...").is_ok());
        assert!(Identifier::parse("v1.2").is_ok());
    }

    #[test]
    fn an_empty_id_is_rejected() {
        assert!(Identifier::parse("").is_err());
    }

    #[test]
    fn an_id_of_64_characters_is_accepted_and_65_rejected() {
        assert!(Identifier::parse(&"a".repeat(64)).is_ok());
        assert!(Identifier::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn slashes_spaces_percent_and_non_ascii_are_rejected() {
        for raw in ["a/b", "a b", "a%20b", "é", "a?b", "a:b"] {
            assert!(Identifier::parse(raw).is_err(), "{raw} was accepted");
        }
    }
}
