//! Validation errors that name the field they belong to.
//!
//! Domain types parse raw input and fail with [`Invalid`]; the edge collects one [`Invalid`] per
//! bad field in [`FieldErrors`] so a client learns about every problem in one round trip.

use serde::Serialize;
use std::borrow::Cow;

/// Why one value was rejected, in words meant for the API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub Cow<'static, str>);

impl Invalid {
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        Self(reason.into())
    }
}

/// One rejected field of a request, as it appears in a problem body's `errors` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The JSON member, path segment or query parameter that was rejected.
    pub field: String,
    pub message: String,
}

/// Collects the outcome of parsing several fields, so all failures are reported together.
#[derive(Debug, Default)]
pub struct FieldErrors {
    errors: Vec<FieldError>,
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the parsed value, or records why `field` was rejected and returns `None`.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, Invalid>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(invalid) => {
                self.reject(field, invalid);
                None
            }
        }
    }

    pub fn reject(&mut self, field: &str, invalid: Invalid) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message: invalid.0.into_owned(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.errors
    }
}

/// Checks a free-text value: at most `max` characters (Unicode scalar values, not bytes).
pub fn bounded_text(value: String, max: usize) -> Result<String, Invalid> {
    if value.chars().count() > max {
        Err(Invalid::new(format!("must be at most {max} characters")))
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failed_field_is_reported_in_order() {
        let mut errors = FieldErrors::new();
        let a: Option<u8> = errors.check("a", Err(Invalid::new("bad a")));
        let b = errors.check("b", Ok(2));
        let c: Option<u8> = errors.check("c", Err(Invalid::new("bad c")));
        assert_eq!((a, b, c), (None, Some(2), None));
        let fields: Vec<_> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["a", "c"]);
    }

    #[test]
    fn bounded_text_counts_characters_not_bytes() {
        assert!(bounded_text("é".repeat(4), 4).is_ok());
        assert!(bounded_text("é".repeat(5), 4).is_err());
    }
}
