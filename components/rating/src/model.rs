//! Ratings as the domain sees them: every value here has passed its `parse`.

use service_kit::json::{JsonObject, required};
use service_kit::{FieldErrors, Invalid};
use std::fmt;

/// The kind of thing rated (the book rates `movie`s): 1-32 characters of `[a-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordType(String);

impl RecordType {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(Invalid::new("must be 1 to 32 characters"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
        {
            return Err(Invalid::new(
                "must contain only lowercase letters, digits, '_' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

service_kit::identifier_type!(
    /// The id of the rated record.
    RecordId
);

service_kit::identifier_type!(
    /// The id of the user who rates.
    UserId
);

/// A rating value: an integer from 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatingValue(u8);

impl RatingValue {
    pub fn parse(raw: i64) -> Result<Self, Invalid> {
        match u8::try_from(raw) {
            Ok(value @ 1..=5) => Ok(Self(value)),
            _ => Err(Invalid::new("must be an integer from 1 to 5")),
        }
    }

    /// Parses the decimal text of a query parameter.
    pub fn parse_text(raw: &str) -> Result<Self, Invalid> {
        raw.parse::<i64>()
            .map_err(|_| Invalid::new("must be an integer from 1 to 5"))
            .and_then(Self::parse)
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// The record a rating is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKey {
    pub record_type: RecordType,
    pub record_id: RecordId,
}

/// Says "record m1 of type movie", the words the API uses for a record.
impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {} of type {}", self.record_id, self.record_type)
    }
}

/// One user's rating of one record. A user has at most one per record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    pub record: RecordKey,
    pub user: UserId,
    pub value: RatingValue,
}

impl Rating {
    /// What identifies the rating: its record and its user (the table's key).
    pub fn key(&self) -> (RecordKey, UserId) {
        (self.record.clone(), self.user.clone())
    }

    /// A rating from its separately parsed parts, or every error met while parsing them:
    /// surfaces carry the record, the user and the value in different places (path, query,
    /// body, message), so each parses them into `errors` and this puts them together.
    pub fn assemble(
        errors: FieldErrors,
        record: Option<RecordKey>,
        user: Option<UserId>,
        value: Option<RatingValue>,
    ) -> Result<Self, FieldErrors> {
        let rating = match (record, user, value) {
            (Some(record), Some(user), Some(value)) => Some(Rating {
                record,
                user,
                value,
            }),
            _ => None,
        };
        errors.conclude(rating)
    }
}

/// The fields of a rating write carried as JSON: `{"value": 1..5}` and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatingFields {
    pub value: RatingValue,
}

impl TryFrom<JsonObject> for RatingFields {
    type Error = FieldErrors;

    fn try_from(mut fields: JsonObject) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let value = errors.check(
            "value",
            required(fields.take_integer("value")).and_then(RatingValue::parse),
        );
        fields.reject_unknown(&mut errors);
        errors.conclude(value.map(|value| RatingFields { value }))
    }
}

/// All ratings of a record folded into their mean. Only exists for records with ratings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AggregatedRating {
    total: u64,
    count: u64,
}

impl AggregatedRating {
    /// `None` for a count of zero: a record nobody rated has no aggregate.
    pub fn new(total: u64, count: u64) -> Option<Self> {
        (count > 0).then_some(Self { total, count })
    }

    pub fn average(&self) -> f64 {
        self.total as f64 / self.count as f64
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rating_fields(value: serde_json::Value) -> Result<RatingFields, Vec<String>> {
        RatingFields::try_from(JsonObject::from_value(value).unwrap())
            .map_err(|errors| errors.into_vec().into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn rating_fields_carry_the_value() {
        assert_eq!(
            rating_fields(json!({"value": 4})).map(|f| f.value.get()),
            Ok(4)
        );
    }

    #[test]
    fn rating_fields_name_a_bad_value_and_each_unknown_member() {
        assert_eq!(
            rating_fields(json!({"value": "5", "note": "x"})),
            Err(vec!["value".to_owned(), "note".to_owned()])
        );
    }

    #[test]
    fn rating_fields_require_a_value() {
        assert_eq!(rating_fields(json!({})), Err(vec!["value".to_owned()]));
    }

    #[test]
    fn a_rating_is_assembled_only_when_no_part_failed() {
        let mut errors = FieldErrors::new();
        errors.reject("userId", Invalid::new("bad"));
        let record = RecordKey {
            record_type: RecordType::parse("movie").unwrap(),
            record_id: RecordId::parse("m1").unwrap(),
        };
        let assembled = Rating::assemble(errors, Some(record), None, RatingValue::parse(3).ok());
        let fields: Vec<_> = assembled
            .unwrap_err()
            .into_vec()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["userId"]);
    }

    #[test]
    fn a_record_key_reads_as_the_api_names_it() {
        let record = RecordKey {
            record_type: RecordType::parse("movie").unwrap(),
            record_id: RecordId::parse("m1").unwrap(),
        };
        assert_eq!(record.to_string(), "record m1 of type movie");
    }

    #[test]
    fn record_types_are_lowercase_letters_digits_underscore_and_dash() {
        assert!(RecordType::parse("movie").is_ok());
        assert!(RecordType::parse("tv_show-2").is_ok());
        for raw in ["", "Movie", "a.b", "a b", "é"] {
            assert!(RecordType::parse(raw).is_err(), "{raw} was accepted");
        }
    }

    #[test]
    fn a_record_type_of_32_characters_is_accepted_and_33_rejected() {
        assert!(RecordType::parse(&"m".repeat(32)).is_ok());
        assert!(RecordType::parse(&"m".repeat(33)).is_err());
    }

    #[test]
    fn record_and_user_ids_follow_the_identifier_rule() {
        assert!(RecordId::parse("tt0111161").is_ok());
        assert!(UserId::parse("user.1").is_ok());
        assert!(RecordId::parse("a/b").is_err());
        assert!(UserId::parse(&"u".repeat(65)).is_err());
    }

    #[test]
    fn rating_values_run_from_1_to_5() {
        for value in 1..=5 {
            assert_eq!(
                RatingValue::parse(value).map(RatingValue::get),
                Ok(value as u8)
            );
        }
        for value in [0, 6, -1, 256 + 3] {
            assert!(RatingValue::parse(value).is_err(), "{value} was accepted");
        }
    }

    #[test]
    fn a_rating_value_in_a_query_must_be_a_plain_integer() {
        assert_eq!(RatingValue::parse_text("4").map(RatingValue::get), Ok(4));
        for raw in ["", "4.0", "four", " 4", "9"] {
            assert!(
                RatingValue::parse_text(raw).is_err(),
                "{raw:?} was accepted"
            );
        }
    }

    #[test]
    fn the_aggregate_is_the_mean_and_absent_without_ratings() {
        let aggregate = AggregatedRating::new(9, 2).unwrap();
        assert_eq!(aggregate.average(), 4.5);
        assert_eq!(aggregate.count(), 2);
        assert_eq!(AggregatedRating::new(0, 0), None);
    }
}
