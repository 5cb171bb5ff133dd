//! The rating event: the book's `RatingEvent` JSON plus an event id and a schema version.
//!
//! ```json
//! {"schemaVersion": "1.0", "eventId": "provider-42-0001", "providerId": "test-provider",
//!  "eventType": "put", "recordType": "movie", "recordId": "tt0068646", "userId": "105",
//!  "value": 5}
//! ```
//!
//! Every field follows the same rule as on the REST and gRPC writes (the same parse
//! functions), so an event is accepted exactly when the same rating would be. A `delete` needs
//! no `value` and ignores a valid one (the book's producers send it). Versions are `MAJOR.MINOR`: a
//! consumer reads every minor version of its major one, ignoring members a newer minor version
//! added; another major version is refused.

use crate::model::{Rating, RatingValue, RecordId, RecordKey, RecordType, UserId};
use serde::Serialize;
use service_kit::json::{JsonObject, required};
use service_kit::{FieldError, FieldErrors, Invalid};
use std::fmt;

service_kit::identifier_type!(
    /// The producer's id of one event: the same id twice is the same event, applied once.
    EventId
);

service_kit::identifier_type!(
    /// Who published the event (the book's `providerId`).
    ProviderId
);

/// A `MAJOR.MINOR` schema version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaVersion {
    pub major: u32,
    pub minor: u32,
}

impl SchemaVersion {
    /// The version this code writes and reads.
    pub const CURRENT: Self = Self { major: 1, minor: 0 };

    /// `"1.0"` or `"1"` (minor 0), of the current major version.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::read(raw).map_err(|error| match error {
            VersionError::Malformed(invalid) | VersionError::OtherMajor(invalid) => invalid,
        })
    }

    fn read(raw: &str) -> Result<Self, VersionError> {
        let malformed = || Invalid::new("must be a version MAJOR.MINOR, such as \"1.0\"");
        let (major, minor) = raw.split_once('.').unwrap_or((raw, "0"));
        let number = |text: &str| {
            (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse::<u32>().ok())
                .flatten()
        };
        let (Some(major), Some(minor)) = (number(major), number(minor)) else {
            return Err(VersionError::Malformed(malformed()));
        };
        let version = Self { major, minor };
        if major != Self::CURRENT.major {
            return Err(VersionError::OtherMajor(Invalid::new(format!(
                "major version {major} is not supported; this consumer reads {}.x",
                Self::CURRENT.major
            ))));
        }
        Ok(version)
    }

    /// Whether members this code does not know may be ignored: only those a newer minor
    /// version added. In the current version an unknown member is a mistake.
    fn tolerates_unknown_members(self) -> bool {
        self.minor > Self::CURRENT.minor
    }
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Why a version was refused.
enum VersionError {
    Malformed(Invalid),
    OtherMajor(Invalid),
}

/// Which versions of the current major one an event may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    /// Only this release's: what its producers publish (`POST /ratings/events`, the ingester),
    /// so what they accept is exactly what the API document says.
    Current,
    /// Any minor version, whose unknown members are ignored: what the consumer reads from a
    /// stream that newer producers may also write.
    AnyMinor,
}

/// What an event does to its user's rating of its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Put(RatingValue),
    Delete,
}

/// A valid event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingEvent {
    pub id: EventId,
    pub provider: ProviderId,
    pub record: RecordKey,
    pub user: UserId,
    pub change: Change,
}

/// Why a payload is not an event: for the producer's 422 and the dead-letter entry's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    NotJson(String),
    NotAnObject,
    Invalid(Vec<FieldError>),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotJson(error) => write!(f, "not valid JSON: {error}"),
            Rejection::NotAnObject => f.write_str("not a JSON object"),
            Rejection::Invalid(errors) => {
                let fields: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect();
                write!(f, "invalid event: {}", fields.join("; "))
            }
        }
    }
}

impl RatingEvent {
    /// Parses a stream entry's payload, as the consumer reads it: any minor version of the
    /// current major one.
    pub fn parse(payload: &[u8]) -> Result<Self, Rejection> {
        let value: serde_json::Value = serde_json::from_slice(payload)
            .map_err(|error| Rejection::NotJson(error.to_string()))?;
        let object = JsonObject::from_value(value).ok_or(Rejection::NotAnObject)?;
        Self::from_json(object, Versions::AnyMinor)
            .map_err(|errors| Rejection::Invalid(errors.into_vec()))
    }

    /// Parses one event's members, naming every invalid one.
    pub fn from_json(mut fields: JsonObject, versions: Versions) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let version = match required(fields.take_string("schemaVersion")) {
            Ok(raw) => match SchemaVersion::read(&raw) {
                Ok(version)
                    if versions == Versions::Current && version != SchemaVersion::CURRENT =>
                {
                    errors.reject(
                        "schemaVersion",
                        Invalid::new(format!(
                            "must be {}: this release publishes no newer version",
                            SchemaVersion::CURRENT
                        )),
                    );
                    None
                }
                Ok(version) => Some(version),
                // Another major version's members may mean anything: its version is the
                // only thing to say about it.
                Err(VersionError::OtherMajor(invalid)) => {
                    errors.reject("schemaVersion", invalid);
                    return errors.conclude(None);
                }
                Err(VersionError::Malformed(invalid)) => {
                    errors.reject("schemaVersion", invalid);
                    None
                }
            },
            Err(invalid) => {
                errors.reject("schemaVersion", invalid);
                None
            }
        };
        let id = fields.check_required(&mut errors, "eventId", EventId::parse);
        let provider = fields.check_required(&mut errors, "providerId", ProviderId::parse);
        let record_type = fields.check_required(&mut errors, "recordType", RecordType::parse);
        let record_id = fields.check_required(&mut errors, "recordId", RecordId::parse);
        let user = fields.check_required(&mut errors, "userId", UserId::parse);
        let kind = fields.check_required(&mut errors, "eventType", |raw| match raw {
            "put" => Ok(true),
            "delete" => Ok(false),
            _ => Err(Invalid::new("must be \"put\" or \"delete\"")),
        });
        let value = fields.take_integer("value");
        let change = match kind {
            Some(true) => errors
                .check("value", required(value).and_then(RatingValue::parse))
                .map(Change::Put),
            // A delete needs no value; one sent must still be a valid one.
            Some(false) => errors
                .check(
                    "value",
                    value.and_then(|raw| raw.map(RatingValue::parse).transpose()),
                )
                .map(|_| Change::Delete),
            None => None,
        };
        if version.is_some_and(|v| !v.tolerates_unknown_members()) {
            fields.reject_unknown(&mut errors);
        }
        let event = match (id, provider, record_type, record_id, user, change) {
            (Some(id), Some(provider), Some(record_type), Some(record_id), Some(user), Some(c)) => {
                Some(RatingEvent {
                    id,
                    provider,
                    record: RecordKey {
                        record_type,
                        record_id,
                    },
                    user,
                    change: c,
                })
            }
            _ => None,
        };
        errors.conclude(event)
    }

    /// The rating a `put` leaves, if it is one.
    pub fn rating(&self) -> Option<Rating> {
        match self.change {
            Change::Put(value) => Some(Rating {
                record: self.record.clone(),
                user: self.user.clone(),
                value,
            }),
            Change::Delete => None,
        }
    }

    /// The event as it is written to the stream: the current schema version, every member.
    pub fn to_payload(&self) -> Vec<u8> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            schema_version: String,
            event_id: &'a str,
            provider_id: &'a str,
            event_type: &'static str,
            record_type: &'a str,
            record_id: &'a str,
            user_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            value: Option<u8>,
        }
        let (event_type, value) = match self.change {
            Change::Put(value) => ("put", Some(value.get())),
            Change::Delete => ("delete", None),
        };
        let wire = Wire {
            schema_version: SchemaVersion::CURRENT.to_string(),
            event_id: self.id.as_str(),
            provider_id: self.provider.as_str(),
            event_type,
            record_type: self.record.record_type.as_str(),
            record_id: self.record.record_id.as_str(),
            user_id: self.user.as_str(),
            value,
        };
        serde_json::to_vec(&wire).unwrap_or_default()
    }
}

/// Reads a producer's batch (a JSON array's items) into events of this release's version, or
/// every invalid member of every event, named `[index].field`. The book's files carry neither
/// an id nor a version: a missing `eventId` becomes `{digest}-{index}` (the batch's content
/// digest, [`batch_digest`], and the event's place in it), so sending the same batch again,
/// after a timeout say, is the same events again and changes nothing; a missing
/// `schemaVersion` is the current one.
pub fn read_batch(
    items: Vec<serde_json::Value>,
    digest: &str,
) -> Result<Vec<RatingEvent>, FieldErrors> {
    use serde_json::Value;
    let mut errors = FieldErrors::new();
    let mut events = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let Value::Object(mut object) = item else {
            errors.reject(
                &format!("[{index}]"),
                Invalid::new("must be an event object"),
            );
            continue;
        };
        object
            .entry("eventId")
            .or_insert_with(|| Value::String(format!("{digest}-{index}")));
        object
            .entry("schemaVersion")
            .or_insert_with(|| Value::String(SchemaVersion::CURRENT.to_string()));
        let fields = JsonObject::from_value(Value::Object(object)).unwrap_or_default();
        match RatingEvent::from_json(fields, Versions::Current) {
            Ok(event) => events.push(event),
            Err(invalid) => {
                for error in invalid.into_vec() {
                    let field = format!("[{index}].{}", error.field);
                    errors.reject(&field, Invalid::new(error.message));
                }
            }
        }
    }
    errors.conclude(Some(events))
}

/// A batch's content digest for [`read_batch`]: 16 hex digits of SHA-256.
pub fn batch_digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<RatingEvent, Vec<String>> {
        RatingEvent::parse(value.to_string().as_bytes()).map_err(|rejection| match rejection {
            Rejection::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => vec![other.to_string()],
        })
    }

    fn book_event() -> serde_json::Value {
        json!({"schemaVersion": "1.0", "eventId": "e1", "userId": "105", "recordId": "1",
               "recordType": "1", "value": 5, "providerId": "test-provider", "eventType": "put"})
    }

    #[test]
    fn the_books_event_with_id_and_version_is_a_put() {
        let event = parse(book_event()).unwrap();
        assert_eq!(event.change, Change::Put(RatingValue::parse(5).unwrap()));
        assert_eq!(
            (event.id.as_str(), event.user.as_str()),
            ("e1", "105"),
            "the id and the user are the event's"
        );
    }

    #[test]
    fn a_delete_needs_no_value() {
        let mut event = book_event();
        event["eventType"] = json!("delete");
        event.as_object_mut().unwrap().remove("value");
        assert_eq!(parse(event).unwrap().change, Change::Delete);
    }

    #[test]
    fn every_invalid_field_is_named_with_the_rest_rules() {
        let event = json!({"schemaVersion": "1.0", "eventId": "e 1", "userId": "",
            "recordId": "1", "recordType": "Movie", "value": 6, "providerId": "p",
            "eventType": "put", "extra": true});
        assert_eq!(
            parse(event),
            Err(vec![
                "eventId".to_owned(),
                "recordType".to_owned(),
                "userId".to_owned(),
                "value".to_owned(),
                "extra".to_owned()
            ])
        );
    }

    #[test]
    fn another_major_version_is_refused_with_the_reason() {
        let mut event = book_event();
        event["schemaVersion"] = json!("2.0");
        let rejection = RatingEvent::parse(event.to_string().as_bytes()).unwrap_err();
        assert_eq!(
            rejection.to_string(),
            "invalid event: schemaVersion: major version 2 is not supported; this consumer reads 1.x",
            "only the version is judged"
        );
    }

    #[test]
    fn a_newer_minor_version_may_add_members() {
        let mut event = book_event();
        event["schemaVersion"] = json!("1.3");
        event["region"] = json!("eu");
        assert!(parse(event).is_ok(), "1.3's extra member is ignored");
    }

    #[test]
    fn producers_publish_only_the_current_version() {
        let mut event = book_event();
        event["schemaVersion"] = json!("1.3");
        let object = JsonObject::from_value(event).unwrap();
        let errors = RatingEvent::from_json(object, Versions::Current).unwrap_err();
        let fields: Vec<String> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["schemaVersion"]);
    }

    #[test]
    fn an_event_survives_its_own_payload() {
        let event = parse(book_event()).unwrap();
        assert_eq!(RatingEvent::parse(&event.to_payload()), Ok(event));
    }

    #[test]
    fn a_batch_gets_stable_ids_and_the_current_version_where_it_has_none() {
        let mut with_id = book_event();
        with_id.as_object_mut().unwrap().remove("schemaVersion");
        let mut without = with_id.clone();
        without.as_object_mut().unwrap().remove("eventId");
        let events = read_batch(vec![with_id, without], "abc").unwrap();
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            ["e1", "abc-1"],
            "a producer's id is kept, a missing one derived"
        );
    }

    #[test]
    fn a_batch_names_each_invalid_member_by_its_index() {
        let mut bad = book_event();
        bad["value"] = json!(0);
        let errors = read_batch(vec![book_event(), bad, json!(3)], "abc").unwrap_err();
        let fields: Vec<String> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["[1].value", "[2]"]);
    }

    #[test]
    fn not_json_is_a_rejection() {
        assert!(matches!(
            RatingEvent::parse(b"{"),
            Err(Rejection::NotJson(_))
        ));
    }
}
