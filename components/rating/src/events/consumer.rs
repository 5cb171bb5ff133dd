//! The ingestion consumer: what one wake-up does.
//!
//! Each round first takes over entries another run left pending for longer than
//! `claim_idle_ms` (a run that trapped, was killed, or lost its database), one at a time in
//! stream order, so a poison entry can only ever fail itself; an entry delivered
//! `max_deliveries` times without being applied goes to the dead-letter stream instead. Then
//! it reads up to `batch_size` new entries, applies the valid ones as one transaction,
//! dead-letters the invalid ones with their reason, and acknowledges them all, in that order:
//! an entry is acknowledged only once its effect is committed or its dead letter written.
//! A crash between the two delivers the entry again, which the event id makes harmless.
//!
//! A wake-up ends after `max_rounds` rounds with work left, and then publishes the next
//! wake-up itself, so one message never holds the trigger's channel for long and a backlog
//! still drains to the end.

use super::batch::{Applied, EventStore, Sequenced};
use super::event::RatingEvent;
use super::log::{EventLog, LogFailure};
use super::stream::{Entry, Position};
use service_kit::StorageFailure;
use std::fmt;

/// How the consumer works, from the component's variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// New entries read and applied as one transaction.
    pub batch_size: usize,
    /// How long an entry stays pending before another run may take it over: longer than a
    /// batch can take, or a slow run's entries are applied twice (harmlessly, but in vain).
    pub claim_idle_ms: u64,
    /// Deliveries after which an entry that never applied is dead-lettered.
    pub max_deliveries: u64,
    /// Rounds per wake-up before handing on to the next one.
    pub max_rounds: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            batch_size: 500,
            claim_idle_ms: 30_000,
            max_deliveries: 5,
            max_rounds: 20,
        }
    }
}

/// What one wake-up did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    pub applied: Applied,
    pub dead_lettered: usize,
    /// Work was left and the next wake-up published.
    pub handed_on: bool,
}

/// Why a wake-up stopped early: its entries stay pending and are taken over later.
#[derive(Debug)]
pub enum DrainFailure {
    Log(LogFailure),
    Store(StorageFailure),
}

impl fmt::Display for DrainFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DrainFailure::Log(failure) => failure.fmt(f),
            DrainFailure::Store(failure) => write!(f, "ratings database: {failure}"),
        }
    }
}

impl From<LogFailure> for DrainFailure {
    fn from(failure: LogFailure) -> Self {
        Self::Log(failure)
    }
}

impl From<StorageFailure> for DrainFailure {
    fn from(failure: StorageFailure) -> Self {
        Self::Store(failure)
    }
}

/// Runs one wake-up.
pub async fn drain(
    log: &impl EventLog,
    store: &impl EventStore,
    settings: Settings,
    now_ms: impl Fn() -> u64,
) -> Result<Drained, DrainFailure> {
    log.ensure_group().await?;
    let mut drained = Drained::default();
    for _ in 0..settings.max_rounds {
        let mut worked = false;
        for pending in log
            .abandoned(settings.claim_idle_ms, settings.batch_size)
            .await?
        {
            let Some(entry) = log.claim(pending.position, settings.claim_idle_ms).await? else {
                continue;
            };
            worked = true;
            // The claim was one more delivery.
            if pending.deliveries + 1 > settings.max_deliveries {
                let reason = format!("not applied after {} deliveries", settings.max_deliveries);
                bury(log, &entry, &reason).await?;
                log.acknowledge(&[entry.position]).await?;
                drained.dead_lettered += 1;
                continue;
            }
            apply(log, store, vec![entry], &now_ms, &mut drained).await?;
        }
        let read = log.read_new(settings.batch_size).await?;
        if read.entries.is_empty() && read.unread.is_none() && !worked {
            return Ok(drained);
        }
        apply(log, store, read.entries, &now_ms, &mut drained).await?;
        if let Some(malformed) = read.unread {
            // They stay pending; a later wake-up claims them one by one once they are idle
            // for `claim_idle_ms`, and dead-letters what is not an event.
            service_kit::telemetry::warn("events.entries_left_pending")
                .cause(&malformed)
                .emit();
            return Ok(drained);
        }
    }
    log.wake().await?;
    drained.handed_on = true;
    Ok(drained)
}

/// Dead-letters `entry`, and says so in a `warn` line (`events.dead_lettered`), which the
/// collector counts for the dead-letter alert.
async fn bury(log: &impl EventLog, entry: &Entry, reason: &str) -> Result<(), DrainFailure> {
    log.dead_letter(entry, reason).await?;
    service_kit::telemetry::warn("events.dead_lettered")
        .with("messaging.message.id", entry.position.to_string())
        .cause(reason)
        .emit();
    Ok(())
}

/// Applies the valid entries as one transaction, then dead-letters the rest, then
/// acknowledges every entry.
async fn apply(
    log: &impl EventLog,
    store: &impl EventStore,
    entries: Vec<Entry>,
    now_ms: &impl Fn() -> u64,
    drained: &mut Drained,
) -> Result<(), DrainFailure> {
    if entries.is_empty() {
        return Ok(());
    }
    let positions: Vec<Position> = entries.iter().map(|entry| entry.position).collect();
    let mut valid = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for entry in entries {
        let parsed = match &entry.payload {
            Some(payload) => RatingEvent::parse(payload).map_err(|rejection| rejection.to_string()),
            None => Err("the entry must have exactly one field, `event`".to_owned()),
        };
        match parsed {
            Ok(event) => valid.push(Sequenced {
                position: entry.position,
                event,
            }),
            Err(reason) => rejected.push((entry, reason)),
        }
    }
    let applied = store.apply_events(&valid, now_ms()).await?;
    drained.applied.add(applied);
    for (entry, reason) in &rejected {
        bury(log, entry, reason).await?;
        drained.dead_lettered += 1;
    }
    log.acknowledge(&positions).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::RatingRepository;
    use crate::events::stream::{Pending, Read};
    use crate::model::{RecordId, RecordKey, RecordType};
    use crate::repository::memory::InMemoryRatingRepository;
    use futures::executor::block_on;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// A stream with one consumer group, in memory: entries, the pending ones with their
    /// delivery counts, and the dead letters.
    #[derive(Default)]
    struct MemoryLog {
        entries: RefCell<BTreeMap<Position, Vec<u8>>>,
        delivered_up_to: RefCell<Option<Position>>,
        pending: RefCell<BTreeMap<Position, u64>>,
        dead: RefCell<Vec<(Position, String)>>,
        wakes: RefCell<usize>,
        next: RefCell<u64>,
    }

    impl MemoryLog {
        fn append(&self, payload: &str) -> Position {
            let mut next = self.next.borrow_mut();
            *next += 1;
            let position = Position { ms: *next, seq: 0 };
            self.entries
                .borrow_mut()
                .insert(position, payload.as_bytes().to_vec());
            position
        }

        /// Delivers everything new without acknowledging it, as a run that then trapped.
        fn deliver_and_lose(&self) {
            block_on(self.read_new(usize::MAX)).unwrap();
        }
    }

    impl EventLog for MemoryLog {
        async fn ensure_group(&self) -> Result<(), LogFailure> {
            Ok(())
        }

        async fn read_new(&self, count: usize) -> Result<Read, LogFailure> {
            let after = *self.delivered_up_to.borrow();
            let fresh: Vec<Entry> = self
                .entries
                .borrow()
                .iter()
                .filter(|(p, _)| after.is_none_or(|a| **p > a))
                .take(count)
                .map(|(p, payload)| Entry::event(*p, payload.clone()))
                .collect();
            for entry in &fresh {
                self.pending.borrow_mut().insert(entry.position, 1);
                *self.delivered_up_to.borrow_mut() = Some(entry.position);
            }
            Ok(Read {
                entries: fresh,
                unread: None,
            })
        }

        /// Every pending entry counts as idle long enough: the tests decide when a run was lost.
        async fn abandoned(&self, _: u64, count: usize) -> Result<Vec<Pending>, LogFailure> {
            Ok(self
                .pending
                .borrow()
                .iter()
                .take(count)
                .map(|(p, d)| Pending {
                    position: *p,
                    deliveries: *d,
                })
                .collect())
        }

        async fn claim(&self, position: Position, _: u64) -> Result<Option<Entry>, LogFailure> {
            let mut pending = self.pending.borrow_mut();
            let Some(deliveries) = pending.get_mut(&position) else {
                return Ok(None);
            };
            *deliveries += 1;
            Ok(self
                .entries
                .borrow()
                .get(&position)
                .map(|payload| Entry::event(position, payload.clone())))
        }

        async fn dead_letter(&self, entry: &Entry, reason: &str) -> Result<(), LogFailure> {
            self.dead
                .borrow_mut()
                .push((entry.position, reason.to_owned()));
            Ok(())
        }

        async fn acknowledge(&self, positions: &[Position]) -> Result<(), LogFailure> {
            for position in positions {
                self.pending.borrow_mut().remove(position);
                self.entries.borrow_mut().remove(position);
            }
            Ok(())
        }

        async fn wake(&self) -> Result<(), LogFailure> {
            *self.wakes.borrow_mut() += 1;
            Ok(())
        }
    }

    fn event(id: &str, user: &str, kind: &str, value: u8) -> String {
        format!(
            r#"{{"schemaVersion":"1.0","eventId":"{id}","providerId":"p","eventType":"{kind}","recordType":"movie","recordId":"m1","userId":"{user}","value":{value}}}"#
        )
    }

    fn average(store: &InMemoryRatingRepository) -> Option<(f64, u64)> {
        let record = RecordKey {
            record_type: RecordType::parse("movie").unwrap(),
            record_id: RecordId::parse("m1").unwrap(),
        };
        block_on(store.aggregate(&record))
            .unwrap()
            .map(|a| (a.average(), a.count()))
    }

    fn run(log: &MemoryLog, store: &InMemoryRatingRepository, settings: Settings) -> Drained {
        block_on(drain(log, store, settings, || 1_000)).unwrap()
    }

    #[test]
    fn events_are_applied_and_acknowledged() {
        let (log, store) = (MemoryLog::default(), InMemoryRatingRepository::default());
        log.append(&event("a", "u1", "put", 5));
        log.append(&event("b", "u2", "put", 3));
        let drained = run(&log, &store, Settings::default());
        assert_eq!(drained.applied.applied, 2);
        assert_eq!(average(&store), Some((4.0, 2)));
        assert!(
            log.entries.borrow().is_empty(),
            "applied entries leave the stream"
        );
    }

    #[test]
    fn an_event_sent_twice_is_applied_once() {
        let (log, store) = (MemoryLog::default(), InMemoryRatingRepository::default());
        log.append(&event("a", "u1", "put", 5));
        run(&log, &store, Settings::default());
        log.append(&event("a", "u1", "put", 5));
        log.append(&event("b", "u1", "delete", 1));
        log.append(&event("a", "u1", "put", 5));
        let drained = run(&log, &store, Settings::default());
        assert_eq!(drained.applied.duplicates, 2);
        assert_eq!(
            average(&store),
            None,
            "the delete stands; the re-sent put did nothing"
        );
    }

    #[test]
    fn an_older_entry_taken_over_late_does_not_undo_a_newer_one() {
        let (log, store) = (MemoryLog::default(), InMemoryRatingRepository::default());
        log.append(&event("old", "u1", "put", 1));
        log.deliver_and_lose();
        log.append(&event("new", "u1", "put", 4));
        // A run that reads the new entry first, then takes over the old one.
        let settings = Settings {
            max_rounds: 1,
            ..Settings::default()
        };
        let first = block_on(async {
            let fresh = log.read_new(10).await.unwrap().entries;
            let mut drained = Drained::default();
            apply(&log, &store, fresh, &|| 1, &mut drained)
                .await
                .unwrap();
            drained
        });
        assert_eq!(first.applied.applied, 1);
        let second = run(&log, &store, settings);
        assert_eq!(second.applied.superseded, 1, "the old put is superseded");
        assert_eq!(average(&store), Some((4.0, 1)));
        assert!(log.pending.borrow().is_empty(), "both are acknowledged");
    }

    #[test]
    fn invalid_and_unknown_version_events_are_dead_lettered_with_the_reason() {
        let (log, store) = (MemoryLog::default(), InMemoryRatingRepository::default());
        log.append(&event("a", "u1", "put", 9));
        log.append(&event("b", "u1", "put", 2).replace("\"1.0\"", "\"2.0\""));
        log.append("not json");
        log.append(&event("c", "u2", "put", 2));
        let drained = run(&log, &store, Settings::default());
        assert_eq!((drained.applied.applied, drained.dead_lettered), (1, 3));
        let reasons: Vec<String> = log.dead.borrow().iter().map(|(_, r)| r.clone()).collect();
        assert!(
            reasons[0].contains("value: must be an integer from 1 to 5"),
            "{reasons:?}"
        );
        assert!(reasons[1].contains("major version 2"), "{reasons:?}");
        assert!(reasons[2].contains("not valid JSON"), "{reasons:?}");
        assert!(
            log.entries.borrow().is_empty(),
            "dead letters are acknowledged"
        );
    }

    #[test]
    fn a_lost_run_is_taken_over_and_applied_once() {
        let (log, store) = (MemoryLog::default(), InMemoryRatingRepository::default());
        log.append(&event("a", "u1", "put", 5));
        log.append(&event("b", "u2", "put", 1));
        log.deliver_and_lose();
        let drained = run(&log, &store, Settings::default());
        assert_eq!(drained.applied.applied, 2);
        assert_eq!(average(&store), Some((3.0, 2)));
    }

    #[test]
    fn an_entry_that_never_applies_is_dead_lettered_after_its_deliveries() {
        let (log, store) = (MemoryLog::default(), InMemoryRatingRepository::failing());
        log.append(&event("a", "u1", "put", 5));
        log.deliver_and_lose();
        let settings = Settings {
            max_deliveries: 3,
            ..Settings::default()
        };
        // Deliveries 2 and 3 fail on the database; the 4th would exceed the limit.
        for _ in 0..2 {
            assert!(block_on(drain(&log, &store, settings, || 1)).is_err());
        }
        let drained = run(&log, &store, settings);
        assert_eq!(drained.dead_lettered, 1);
        assert!(
            log.dead.borrow()[0]
                .1
                .contains("not applied after 3 deliveries")
        );
    }

    #[test]
    fn a_database_failure_acknowledges_nothing() {
        let (log, store) = (MemoryLog::default(), InMemoryRatingRepository::failing());
        log.append(&event("a", "u1", "put", 5));
        assert!(block_on(drain(&log, &store, Settings::default(), || 1)).is_err());
        assert_eq!(log.pending.borrow().len(), 1, "the entry stays pending");
    }

    #[test]
    fn a_long_backlog_hands_on_to_the_next_wake_up() {
        let (log, store) = (MemoryLog::default(), InMemoryRatingRepository::default());
        for i in 0..5 {
            log.append(&event(&format!("e{i}"), &format!("u{i}"), "put", 3));
        }
        let settings = Settings {
            batch_size: 2,
            max_rounds: 2,
            ..Settings::default()
        };
        let drained = run(&log, &store, settings);
        assert!(drained.handed_on);
        assert_eq!(*log.wakes.borrow(), 1, "the next wake-up is published");
        assert_eq!(log.entries.borrow().len(), 1);
    }
}
