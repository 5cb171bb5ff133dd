//! A batch of events in stream order, and what applying it did.
//!
//! The rules, the same in every repository:
//! - an event id already applied (in this batch or any earlier one still remembered) is a
//!   duplicate and changes nothing;
//! - each user's rating of a record remembers the stream position of the last event applied
//!   to it, and an event from an earlier position is superseded: a redelivered or reclaimed
//!   old entry cannot undo a newer one, so per-rating order is the stream's order whatever
//!   order the entries arrive in;
//! - within a batch only the last event per rating matters (a put replaces the whole rating,
//!   and a delete removes it), so a batch writes each rating at most once.

use super::event::{Change, RatingEvent};
use super::stream::Position;
use crate::model::{RecordKey, UserId};
use std::collections::{HashMap, HashSet};

/// How long applied event ids are remembered: a producer re-sending an event later than this
/// applies it again (still not before a newer event on the same rating).
pub const REMEMBER_EVENT_IDS_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// An event and its place in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequenced {
    pub position: Position,
    pub event: RatingEvent,
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Events whose change was written.
    pub applied: usize,
    /// Events whose id had been applied before.
    pub duplicates: usize,
    /// New events that an event later in the stream on the same rating overrides.
    pub superseded: usize,
}

impl Applied {
    pub fn add(&mut self, other: Applied) {
        self.applied += other.applied;
        self.duplicates += other.duplicates;
        self.superseded += other.superseded;
    }
}

/// The last event applied, for the health report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub event_id: String,
    pub position: String,
    pub applied_at_ms: u64,
    /// Events applied since the database was created.
    pub applied_total: u64,
}

/// Where the consumer applies events.
#[allow(async_fn_in_trait)]
pub trait EventStore {
    /// Applies a batch of events, in stream order, as one transaction: all of it or nothing.
    async fn apply_events(
        &self,
        batch: &[Sequenced],
        now_ms: u64,
    ) -> Result<Applied, service_kit::StorageFailure>;
}

/// A user's rating of a record: what an event changes.
pub type RatingKey = (RecordKey, UserId);

pub fn rating_key(event: &RatingEvent) -> RatingKey {
    (event.record.clone(), event.user.clone())
}

/// Of the batch's events whose id is `fresh`, the first occurrence of each id, then the last
/// of those per rating, in stream order.
pub fn last_per_rating<'a>(batch: &'a [Sequenced], fresh: &HashSet<&str>) -> Vec<&'a Sequenced> {
    let mut seen = HashSet::new();
    let mut last: HashMap<RatingKey, usize> = HashMap::new();
    let mut order = Vec::new();
    for (index, item) in batch.iter().enumerate() {
        let id = item.event.id.as_str();
        if !fresh.contains(id) || !seen.insert(id) {
            continue;
        }
        if last.insert(rating_key(&item.event), index).is_none() {
            order.push(rating_key(&item.event));
        }
    }
    order
        .iter()
        .filter_map(|key| last.get(key).and_then(|&index| batch.get(index)))
        .collect()
}

/// Whether the change is a put (else a delete).
pub fn is_put(item: &Sequenced) -> bool {
    matches!(item.event.change, Change::Put(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::event::{EventId, ProviderId};
    use crate::model::{RatingValue, RecordId, RecordType};

    fn item(id: &str, user: &str, value: i64, ms: u64) -> Sequenced {
        Sequenced {
            position: Position { ms, seq: 0 },
            event: RatingEvent {
                id: EventId::parse(id).unwrap(),
                provider: ProviderId::parse("p").unwrap(),
                record: RecordKey {
                    record_type: RecordType::parse("movie").unwrap(),
                    record_id: RecordId::parse("m1").unwrap(),
                },
                user: UserId::parse(user).unwrap(),
                change: Change::Put(RatingValue::parse(value).unwrap()),
            },
        }
    }

    #[test]
    fn only_the_last_fresh_event_per_rating_is_written() {
        let batch = [
            item("a", "u1", 1, 1),
            item("b", "u2", 2, 2),
            item("c", "u1", 3, 3),
            item("d", "u1", 4, 4),
        ];
        let fresh: HashSet<&str> = ["a", "b", "c"].into();
        let ids: Vec<&str> = last_per_rating(&batch, &fresh)
            .iter()
            .map(|s| s.event.id.as_str())
            .collect();
        assert_eq!(ids, ["c", "b"], "d is a duplicate, c overrides a");
    }

    #[test]
    fn a_repeated_id_in_one_batch_counts_once() {
        let batch = [item("a", "u1", 1, 1), item("a", "u1", 5, 2)];
        let fresh: HashSet<&str> = ["a"].into();
        let kept = last_per_rating(&batch, &fresh);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].position.ms, 1, "the first occurrence is the event");
    }
}
