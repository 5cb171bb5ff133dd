//! JSON objects read member by member, for validation that does not depend on the transport:
//! an HTTP body, a message payload or a converted gRPC message all arrive as a [`JsonObject`],
//! so every surface reports the same field names and messages.

use crate::field::{FieldErrors, Invalid};
use serde_json::{Map, Value};

/// The members of a JSON object, taken out one by one. Whatever is left at the end was not
/// expected and is reported, so a misspelt member is not silently dropped.
#[derive(Debug, Default)]
pub struct JsonObject {
    members: Map<String, Value>,
}

impl JsonObject {
    /// The object, or `None` when `value` is not an object.
    pub fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Object(members) => Some(Self { members }),
            _ => None,
        }
    }

    /// A string member; `Ok(None)` when absent or `null`.
    pub fn take_string(&mut self, name: &str) -> Result<Option<String>, Invalid> {
        match self.members.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(Invalid::new("must be a string")),
        }
    }

    /// An integer member; `Ok(None)` when absent or `null`. `4.0` is the integer 4, as JSON
    /// (which has one number type) and JSON Schema's `integer` both have it; `4.5` is not.
    pub fn take_integer(&mut self, name: &str) -> Result<Option<i64>, Invalid> {
        match self.members.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .or_else(|| number.as_f64().and_then(integral))
                .map(Some)
                .ok_or_else(|| Invalid::new("must be an integer")),
            Some(_) => Err(Invalid::new("must be an integer")),
        }
    }

    /// A required string member parsed by `parse`, its failure recorded in `errors` under its
    /// name: what [`crate::edge::Fields::check`] is for path and query values.
    pub fn check_required<T>(
        &mut self,
        errors: &mut FieldErrors,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        errors.check(
            name,
            required(self.take_string(name)).and_then(|raw| parse(&raw)),
        )
    }

    /// Records every member nobody took as an unknown field.
    pub fn reject_unknown(self, errors: &mut FieldErrors) {
        for name in self.members.keys() {
            errors.reject(name, Invalid::new("is not a known field"));
        }
    }
}

/// `value` as an `i64` if it has no fractional part and fits.
fn integral(value: f64) -> Option<i64> {
    // i64::MAX is not representable as f64; 2^63 is, and is the first value out of range.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value)).then_some(value as i64)
}

/// Requires a member that [`JsonObject::take_string`] or [`JsonObject::take_integer`] found
/// absent.
pub fn required<T>(value: Result<Option<T>, Invalid>) -> Result<T, Invalid> {
    value.and_then(|value| value.ok_or_else(|| Invalid::new("is required")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> JsonObject {
        JsonObject::from_value(value).expect("an object")
    }

    #[test]
    fn a_checked_member_is_parsed_or_its_failure_named() {
        let mut members = object(json!({"good": "7", "bad": "x"}));
        let mut errors = FieldErrors::new();
        let number = |raw: &str| raw.parse::<u8>().map_err(|_| Invalid::new("not a number"));
        let parsed = [
            members.check_required(&mut errors, "good", number),
            members.check_required(&mut errors, "bad", number),
            members.check_required(&mut errors, "absent", number),
        ];
        let fields: Vec<String> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(
            (parsed, fields),
            (
                [Some(7), None, None],
                vec!["bad".to_owned(), "absent".to_owned()]
            )
        );
    }

    #[test]
    fn only_an_object_becomes_a_json_object() {
        assert!(JsonObject::from_value(json!([1])).is_none());
        assert!(JsonObject::from_value(json!("a")).is_none());
    }

    #[test]
    fn a_member_of_the_wrong_type_is_rejected() {
        let mut members = object(json!({"s": 1, "n": "x", "i": 4.5}));
        assert_eq!(
            members.take_string("s"),
            Err(Invalid::new("must be a string"))
        );
        assert_eq!(
            members.take_integer("n"),
            Err(Invalid::new("must be an integer"))
        );
        assert_eq!(
            members.take_integer("i"),
            Err(Invalid::new("must be an integer"))
        );
    }

    #[test]
    fn an_integral_number_written_with_a_fraction_is_an_integer() {
        let mut members = object(json!({"a": 4.0, "b": -0.0, "c": 1e300}));
        assert_eq!(members.take_integer("a"), Ok(Some(4)));
        assert_eq!(members.take_integer("b"), Ok(Some(0)));
        assert_eq!(
            members.take_integer("c"),
            Err(Invalid::new("must be an integer")),
            "out of range"
        );
    }

    #[test]
    fn an_absent_or_null_member_is_none_and_required_says_so() {
        let mut members = object(json!({"n": null}));
        assert_eq!(members.take_string("n"), Ok(None));
        assert_eq!(
            required(members.take_integer("absent")),
            Err(Invalid::new("is required"))
        );
    }

    #[test]
    fn members_nobody_took_are_reported_as_unknown() {
        let mut members = object(json!({"known": "x", "extra": true}));
        assert_eq!(members.take_string("known"), Ok(Some("x".to_owned())));
        let mut errors = FieldErrors::new();
        members.reject_unknown(&mut errors);
        let fields: Vec<_> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["extra"]);
    }
}
