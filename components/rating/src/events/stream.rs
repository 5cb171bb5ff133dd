//! The event log on Redis: a stream with a consumer group, a dead-letter stream, and a
//! pub/sub channel that wakes the consumer.
//!
//! Spin's Redis trigger is plain pub/sub (no acknowledgement, no redelivery), so it only
//! carries wake-ups; the events themselves are stream entries, which stay pending in the
//! group until the consumer acknowledges them after its database commit. Replies arrive as
//! Spin's `execute` gives them, one flat list (`docs/spin-facts.md`, "Redis"), and are parsed
//! here positionally with every shape checked.

use spin_sdk::redis::RedisResult;
use std::fmt;

/// Where producers append events: one entry per event, one field, [`FIELD`].
pub const STREAM: &str = "ratings:events";
/// The entry's only field: the event's JSON.
pub const FIELD: &str = "event";
/// The consumer group the ingestion consumer reads in.
pub const GROUP: &str = "rating-ingest";
/// The name the consumer reads under. Every consumer process uses it: entries pending too
/// long are reclaimed by idle time, not by owner, so nothing depends on telling them apart.
pub const CONSUMER: &str = "ingest";
/// Entries that will never apply, with the reason (fields `event`, `reason`, `entry`).
pub const DEAD_LETTERS: &str = "ratings:events:dead";
/// The channel the Redis trigger subscribes to; any message wakes the consumer.
pub const WAKE_CHANNEL: &str = "ratings:events:wake";

/// The Lua script producers run (`EVAL APPEND_ALL 1 <STREAM> <payload>...`): appends every
/// payload in one server-side step, so a batch is in the stream whole or not at all (a script
/// runs without other clients' commands in between), and answers their ids.
pub const APPEND_ALL: &str = "local ids = {} \
    for i = 1, #ARGV do ids[i] = redis.call('XADD', KEYS[1], '*', 'event', ARGV[i]) end \
    return ids";

/// A stream entry id, `<milliseconds>-<sequence>`: the broker's order of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub ms: u64,
    pub seq: u64,
}

impl Position {
    pub fn parse(raw: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(raw).ok()?;
        let (ms, seq) = text.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One stream entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub position: Position,
    /// The `event` field, or `None` for an entry that does not have exactly that one field.
    pub payload: Option<Vec<u8>>,
    /// For an entry without the one `event` field: its fields as a JSON object, so its dead
    /// letter keeps what was sent.
    pub foreign: Option<String>,
}

impl Entry {
    pub fn event(position: Position, payload: Vec<u8>) -> Self {
        Self {
            position,
            payload: Some(payload),
            foreign: None,
        }
    }

    /// What its dead letter keeps: the event's bytes, or the foreign entry's fields.
    pub fn original(&self) -> Vec<u8> {
        match (&self.payload, &self.foreign) {
            (Some(payload), _) => payload.clone(),
            (None, Some(fields)) => fields.clone().into_bytes(),
            (None, None) => Vec::new(),
        }
    }
}

/// A pending entry delivered but not acknowledged, and how often it was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub position: Position,
    pub deliveries: u64,
}

/// A reply that does not have the shape its command promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unexpected Redis reply: {}", self.0)
    }
}

fn binary(value: &RedisResult) -> Option<&[u8]> {
    match value {
        RedisResult::Binary(bytes) => Some(bytes),
        RedisResult::Status(text) => Some(text.as_bytes()),
        _ => None,
    }
}

fn integer(value: &RedisResult) -> Option<u64> {
    match value {
        RedisResult::Int64(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// What a batch read gave: the entries that could be read, and whether the rest of the
/// reply could not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub entries: Vec<Entry>,
    /// Set when an entry had another shape: it and the entries after it in the reply stay
    /// pending, to be claimed one by one ([`parse_claimed`]), where a shape is unambiguous.
    pub unread: Option<Malformed>,
}

/// `XREADGROUP ... COUNT n STREAMS <stream> >`: `nil` when nothing is new, else the stream's
/// name and then `id, "event", payload` per entry (the producers write one field). An entry
/// with other fields cannot be told apart from the next one in the flat list, so reading
/// stops at the first entry of another shape.
pub fn parse_read(reply: &[RedisResult]) -> Read {
    let mut read = Read {
        entries: Vec::new(),
        unread: None,
    };
    let rest = match reply {
        [] | [RedisResult::Nil] => return read,
        [_stream, rest @ ..] => rest,
    };
    for entry in rest.chunks(3) {
        let parsed = match entry {
            [id, field, value] if binary(field) == Some(FIELD.as_bytes()) => binary(id)
                .and_then(Position::parse)
                .zip(binary(value))
                .map(|(position, payload)| Entry::event(position, payload.to_vec())),
            _ => None,
        };
        match parsed {
            Some(entry) => read.entries.push(entry),
            None => {
                read.unread = Some(Malformed("an entry whose only field is `event`"));
                break;
            }
        }
    }
    read
}

/// `XCLAIM` of one id: empty when the entry is gone or was not idle long enough, else its id
/// and fields. Anything but the one `event` field gives an entry without payload, which the
/// consumer dead-letters.
pub fn parse_claimed(reply: &[RedisResult]) -> Result<Option<Entry>, Malformed> {
    let Some((id, fields)) = reply.split_first() else {
        return Ok(None);
    };
    if matches!(id, RedisResult::Nil) {
        return Ok(None);
    }
    let position = binary(id)
        .and_then(Position::parse)
        .ok_or(Malformed("a claimed entry id"))?;
    if let [field, value] = fields
        && binary(field) == Some(FIELD.as_bytes())
        && let Some(payload) = binary(value)
    {
        return Ok(Some(Entry::event(position, payload.to_vec())));
    }
    let text = |value: &RedisResult| match value {
        RedisResult::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        RedisResult::Status(text) => text.clone(),
        RedisResult::Int64(n) => n.to_string(),
        RedisResult::Nil => String::new(),
    };
    let object: serde_json::Map<String, serde_json::Value> = fields
        .chunks(2)
        .map(|pair| match pair {
            [name, value] => (text(name), serde_json::Value::String(text(value))),
            [name] => (text(name), serde_json::Value::Null),
            _ => (String::new(), serde_json::Value::Null),
        })
        .collect();
    Ok(Some(Entry {
        position,
        payload: None,
        foreign: Some(serde_json::Value::Object(object).to_string()),
    }))
}

/// `XPENDING <stream> <group> IDLE <ms> - + <count>`: `id, consumer, idle, deliveries` each.
pub fn parse_pending(reply: &[RedisResult]) -> Result<Vec<Pending>, Malformed> {
    if !reply.len().is_multiple_of(4) {
        return Err(Malformed(
            "XPENDING entries are not id, consumer, idle, deliveries",
        ));
    }
    reply
        .chunks_exact(4)
        .map(|entry| match entry {
            [id, _consumer, _idle, deliveries] => Ok(Pending {
                position: binary(id)
                    .and_then(Position::parse)
                    .ok_or(Malformed("a pending entry id"))?,
                deliveries: integer(deliveries).ok_or(Malformed("a delivery count"))?,
            }),
            _ => Err(Malformed("a pending entry")),
        })
        .collect()
}

/// `XPENDING <stream> <group>` (the summary): the count comes first.
pub fn parse_pending_count(reply: &[RedisResult]) -> Result<u64, Malformed> {
    reply
        .first()
        .and_then(integer)
        .ok_or(Malformed("the XPENDING summary's count"))
}

/// An integer reply (`XLEN`, `XACK`).
pub fn parse_integer(reply: &[RedisResult]) -> Result<u64, Malformed> {
    match reply {
        [value] => integer(value).ok_or(Malformed("an integer")),
        _ => Err(Malformed("one integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(text: &str) -> RedisResult {
        RedisResult::Binary(text.as_bytes().to_vec())
    }

    #[test]
    fn positions_order_by_time_then_sequence() {
        let a = Position::parse(b"1700000000000-5").unwrap();
        let b = Position::parse(b"1700000000001-0").unwrap();
        assert!(a < b);
        assert_eq!(a.to_string(), "1700000000000-5");
        assert_eq!(Position::parse(b"12"), None, "an id has two parts");
    }

    #[test]
    fn a_read_reply_is_parsed_entry_by_entry() {
        let reply = [
            bin(STREAM),
            bin("1-0"),
            bin("event"),
            bin("{\"a\":1}"),
            bin("1-1"),
            bin("event"),
            bin("{}"),
        ];
        let read = parse_read(&reply);
        assert_eq!(read.unread, None);
        let entries = read.entries;
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].position, Position { ms: 1, seq: 1 });
        assert_eq!(entries[0].payload.as_deref(), Some(&b"{\"a\":1}"[..]));
    }

    #[test]
    fn nothing_new_is_nil() {
        assert!(parse_read(&[RedisResult::Nil]).entries.is_empty());
    }

    #[test]
    fn reading_stops_at_an_entry_with_other_fields() {
        let reply = [
            bin(STREAM),
            bin("1-0"),
            bin("event"),
            bin("{}"),
            bin("2-0"),
            bin("value"),
            bin("5"),
            bin("user"),
            bin("u"),
        ];
        let read = parse_read(&reply);
        assert_eq!(read.entries.len(), 1, "the entry before it is read");
        assert!(read.unread.is_some(), "the rest is left unread");
    }

    #[test]
    fn a_claimed_entry_without_the_event_field_has_no_payload() {
        let claimed = parse_claimed(&[bin("3-0"), bin("value"), bin("5")])
            .unwrap()
            .unwrap();
        assert_eq!(claimed.payload, None);
        assert_eq!(
            claimed.original(),
            br#"{"value":"5"}"#.to_vec(),
            "its fields are kept"
        );
        assert_eq!(parse_claimed(&[]), Ok(None), "nothing claimed");
    }

    #[test]
    fn pending_entries_carry_their_delivery_count() {
        let reply = [
            bin("2-0"),
            bin("ingest"),
            RedisResult::Int64(40_000),
            RedisResult::Int64(3),
        ];
        assert_eq!(
            parse_pending(&reply),
            Ok(vec![Pending {
                position: Position { ms: 2, seq: 0 },
                deliveries: 3
            }])
        );
    }
}
