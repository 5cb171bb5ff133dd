//! An in-memory repository for unit tests of the controller and handler.

use crate::controller::Chunk;
use crate::controller::RatingRepository;
use crate::events::batch::{
    Applied, EventStore, Progress, RatingKey, Sequenced, last_per_rating, rating_key,
};
use crate::events::event::Change;
use crate::events::stream::Position;
use crate::model::{AggregatedRating, Rating, RecordKey, UserId};
use crate::reconcile::checkpoint;
use service_kit::lease::{Fence, FenceError, MemoryLeases};
use service_kit::snapshot::Snapshot;
use service_kit::testing::FailureSwitch;
use service_kit::{StorageFailure, Stored};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

#[derive(Default)]
pub struct InMemoryRatingRepository {
    ratings: RefCell<BTreeMap<(RecordKey, UserId), Rating>>,
    /// When set, every call fails as an unreachable store would.
    pub failing: FailureSwitch,
    applied_ids: RefCell<HashSet<String>>,
    positions: RefCell<HashMap<RatingKey, Position>>,
    progress: RefCell<Option<Progress>>,
    /// Aggregates that drifted from their ratings (a test's doing), by record: what
    /// `aggregate` answers for them until reconciliation repairs them.
    drifted: RefCell<BTreeMap<RecordKey, (u64, u64)>>,
    /// The service's leases, on a clock the test sets.
    pub leases: MemoryLeases,
}

impl InMemoryRatingRepository {
    /// A repository whose every call fails as an unreachable store would.
    pub fn failing() -> Self {
        let repository = Self::default();
        repository.failing.set(true);
        repository
    }

    /// Makes `record`'s aggregate read `total` over `count` ratings, whatever its ratings
    /// say: drift, for reconciliation to find.
    pub fn drift(&self, record: &RecordKey, total: u64, count: u64) {
        self.drifted
            .borrow_mut()
            .insert(record.clone(), (total, count));
    }

    /// The records with ratings or drifted aggregates, in key order.
    fn records(&self) -> std::collections::BTreeSet<RecordKey> {
        let ratings = self.ratings.borrow();
        let rated = ratings.keys().map(|(record, _)| record.clone());
        rated.chain(self.drifted.borrow().keys().cloned()).collect()
    }
}

/// A copy of every rating, taken when the snapshot is.
pub struct MemorySnapshot(BTreeMap<(RecordKey, UserId), Rating>);

impl Snapshot for MemorySnapshot {
    type Item = Rating;
    type Key = (RecordKey, UserId);

    async fn page_after(
        &self,
        after: Option<&(RecordKey, UserId)>,
        limit: usize,
    ) -> Result<Vec<Rating>, StorageFailure> {
        Ok(self
            .0
            .iter()
            .filter(|(key, _)| after.is_none_or(|after| *key > after))
            .take(limit)
            .map(|(_, rating)| rating.clone())
            .collect())
    }

    fn key(rating: &Rating) -> (RecordKey, UserId) {
        rating.key()
    }
}

impl RatingRepository for InMemoryRatingRepository {
    async fn put(&self, rating: &Rating) -> Result<Stored, StorageFailure> {
        self.failing.check()?;
        let key = rating.key();
        let previous = self.ratings.borrow_mut().insert(key, rating.clone());
        Ok(if previous.is_some() {
            Stored::Replaced
        } else {
            Stored::Created
        })
    }

    async fn delete(&self, record: &RecordKey, user: &UserId) -> Result<(), StorageFailure> {
        self.failing.check()?;
        self.ratings
            .borrow_mut()
            .remove(&(record.clone(), user.clone()));
        Ok(())
    }

    /// A scan, unlike the SQLite repository: fine for tests, which check the result only.
    async fn aggregate(
        &self,
        record: &RecordKey,
    ) -> Result<Option<AggregatedRating>, StorageFailure> {
        self.failing.check()?;
        if let Some(&(total, count)) = self.drifted.borrow().get(record) {
            return Ok(AggregatedRating::new(total, count));
        }
        let ratings = self.ratings.borrow();
        let values: Vec<u64> = ratings
            .values()
            .filter(|rating| &rating.record == record)
            .map(|rating| u64::from(rating.value.get()))
            .collect();
        Ok(AggregatedRating::new(
            values.iter().sum(),
            values.len() as u64,
        ))
    }

    async fn ping(&self) -> Result<(), StorageFailure> {
        self.failing.check()
    }

    async fn last_applied(&self) -> Result<Option<Progress>, StorageFailure> {
        self.failing.check()?;
        Ok(self.progress.borrow().clone())
    }

    type Leases = MemoryLeases;

    fn leases(&self) -> &MemoryLeases {
        &self.leases
    }

    type Snapshot = MemorySnapshot;

    async fn snapshot(&self) -> Result<MemorySnapshot, StorageFailure> {
        self.failing.check()?;
        Ok(MemorySnapshot(self.ratings.borrow().clone()))
    }

    /// Drifted aggregates in the chunk are repaired (forgotten: `aggregate` recomputes), all
    /// or nothing as the fence allows.
    async fn reconcile_chunk(
        &self,
        fence: &Fence,
        after: Option<&RecordKey>,
        limit: usize,
        ttl: Duration,
    ) -> Result<Chunk, FenceError> {
        self.failing.check()?;
        let chunk: Vec<RecordKey> = self
            .records()
            .into_iter()
            .filter(|record| after.is_none_or(|after| record > after))
            .take(limit)
            .collect();
        let last = chunk.last().cloned();
        let lease_expires_at_ms =
            self.leases
                .fenced(fence, last.as_ref().map(checkpoint).as_deref(), Some(ttl))?;
        let mut drifted = self.drifted.borrow_mut();
        let repaired = chunk
            .iter()
            .filter(|record| drifted.remove(*record).is_some())
            .count();
        Ok(Chunk {
            records: chunk.len(),
            repaired,
            last,
            lease_expires_at_ms,
        })
    }
}

/// The same rules as the SQLite store, on maps; a failing repository applies nothing.
impl EventStore for InMemoryRatingRepository {
    async fn apply_events(
        &self,
        batch: &[Sequenced],
        now_ms: u64,
    ) -> Result<Applied, StorageFailure> {
        self.failing.check()?;
        let mut applied_ids = self.applied_ids.borrow_mut();
        let fresh: HashSet<&str> = batch
            .iter()
            .map(|item| item.event.id.as_str())
            .filter(|id| !applied_ids.contains(*id))
            .collect();
        let candidates = last_per_rating(batch, &fresh);
        let mut positions = self.positions.borrow_mut();
        let mut winners = Vec::new();
        for item in candidates {
            let key = rating_key(&item.event);
            if positions.get(&key).is_some_and(|p| *p >= item.position) {
                continue;
            }
            positions.insert(key.clone(), item.position);
            let mut ratings = self.ratings.borrow_mut();
            match (item.event.change, item.event.rating()) {
                (Change::Put(_), Some(rating)) => {
                    ratings.insert(key, rating);
                }
                _ => {
                    ratings.remove(&key);
                }
            }
            winners.push(item);
        }
        applied_ids.extend(fresh.iter().map(|id| (*id).to_owned()));
        if let Some(last) = winners.iter().max_by_key(|item| item.position) {
            let total = self
                .progress
                .borrow()
                .as_ref()
                .map_or(0, |p| p.applied_total);
            *self.progress.borrow_mut() = Some(Progress {
                event_id: last.event.id.as_str().to_owned(),
                position: last.position.to_string(),
                applied_at_ms: now_ms,
                applied_total: total + winners.len() as u64,
            });
        }
        Ok(Applied {
            applied: winners.len(),
            duplicates: batch.len() - fresh.len(),
            superseded: fresh.len() - winners.len(),
        })
    }
}
