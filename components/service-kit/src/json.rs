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

    /// An integer member; `Ok(None)` when absent or `null`. `4.0` is not an integer.
    pub fn take_integer(&mut self, name: &str) -> Result<Option<i64>, Invalid> {
        match self.members.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .map(Some)
                .ok_or_else(|| Invalid::new("must be an integer")),
            Some(_) => Err(Invalid::new("must be an integer")),
        }
    }

    /// Records every member nobody took as an unknown field.
    pub fn reject_unknown(self, errors: &mut FieldErrors) {
        for name in self.members.keys() {
            errors.reject(name, Invalid::new("is not a known field"));
        }
    }
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
