//! Entity tags for conditional GETs of metadata.

use http::HeaderValue;
use std::fmt;

/// A strong validator: the 64-bit FNV-1a hash of a representation's bytes. FNV is fixed by
/// its definition, so every instance and every build computes the same tag for the same body,
/// which a cache in front of several instances needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ETag(u64);

impl ETag {
    pub fn of(bytes: &[u8]) -> Self {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        Self(bytes.iter().fold(OFFSET, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        }))
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{:016x}\"", self.0)
    }
}

/// Whether an `If-None-Match` header matches the current tag: `*`, or any listed tag by weak
/// comparison (RFC 9110 13.1.2: a `W/` prefix is ignored).
pub fn matches_any(current: &HeaderValue, if_none_match: &HeaderValue) -> bool {
    let (Ok(current), Ok(wanted)) = (current.to_str(), if_none_match.to_str()) else {
        return false;
    };
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let current = opaque(current);
    wanted.trim() == "*" || wanted.split(',').any(|tag| opaque(tag) == current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &'static str) -> HeaderValue {
        HeaderValue::from_static(value)
    }

    #[test]
    fn equal_bodies_share_a_tag_and_different_bodies_do_not() {
        assert_eq!(ETag::of(b"{\"a\":1}"), ETag::of(b"{\"a\":1}"));
        assert_ne!(ETag::of(b"{\"a\":1}"), ETag::of(b"{\"a\":2}"));
    }

    #[test]
    fn a_tag_is_a_quoted_string() {
        let tag = ETag::of(b"x").to_string();
        assert!(
            tag.starts_with('"') && tag.ends_with('"') && tag.len() == 18,
            "{tag}"
        );
    }

    #[test]
    fn if_none_match_accepts_a_star_a_list_and_weak_tags() {
        let current = header("\"abc\"");
        assert!(matches_any(&current, &header("*")));
        assert!(matches_any(&current, &header("\"x\", \"abc\"")));
        assert!(matches_any(&current, &header("W/\"abc\"")));
        assert!(!matches_any(&current, &header("\"abd\"")));
    }
}
