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

    /// Keeps the value parsed by another validation, or adds every error it reported.
    pub fn absorb<T>(&mut self, parsed: Result<T, FieldErrors>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(other) => {
                self.errors.extend(other.errors);
                None
            }
        }
    }

    /// The value built from every parsed part, or all the errors met on the way. `value` is
    /// `None` exactly when some part failed, so the error list is then never empty.
    pub fn conclude<T>(self, value: Option<T>) -> Result<T, FieldErrors> {
        match value {
            Some(value) if self.is_empty() => Ok(value),
            _ => Err(self),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.errors
    }
}

/// One field parsed on its own: its value, or the error list naming it.
pub fn one<T>(field: &str, parsed: Result<T, Invalid>) -> Result<T, FieldErrors> {
    let mut errors = FieldErrors::new();
    let value = errors.check(field, parsed);
    errors.conclude(value)
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
    fn absorbed_errors_keep_their_order_after_the_earlier_ones() {
        let mut errors = FieldErrors::new();
        errors.reject("first", Invalid::new("bad"));
        let mut other = FieldErrors::new();
        other.reject("second", Invalid::new("bad"));
        let absorbed: Option<u8> = errors.absorb(Err(other));
        assert_eq!(absorbed, None);
        let fields: Vec<_> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["first", "second"]);
    }

    #[test]
    fn a_value_is_concluded_only_when_no_field_failed() {
        assert_eq!(FieldErrors::new().conclude(Some(1)).ok(), Some(1));
        let mut errors = FieldErrors::new();
        errors.reject("a", Invalid::new("bad"));
        assert!(errors.conclude(Some(1)).is_err());
    }

    #[test]
    fn one_names_the_field_that_failed() {
        let errors = one::<u8>("id", Err(Invalid::new("bad")))
            .err()
            .map(FieldErrors::into_vec);
        assert_eq!(
            errors,
            Some(vec![FieldError {
                field: "id".into(),
                message: "bad".into()
            }])
        );
    }

    #[test]
    fn bounded_text_counts_characters_not_bytes() {
        assert!(bounded_text("é".repeat(4), 4).is_ok());
        assert!(bounded_text("é".repeat(5), 4).is_err());
    }
}
