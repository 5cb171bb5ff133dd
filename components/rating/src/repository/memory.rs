//! An in-memory repository for unit tests of the controller and handler.

use crate::controller::RatingRepository;
use crate::events::batch::{
    Applied, EventStore, Progress, RatingKey, Sequenced, last_per_rating, rating_key,
};
use crate::events::event::Change;
use crate::events::stream::Position;
use crate::model::{AggregatedRating, Rating, RecordKey, UserId};
use service_kit::rate_limit::{ClientKey, Decision, MemoryCounts, RatePolicy, RequestCounter};
use service_kit::testing::FailureSwitch;
use service_kit::{StorageFailure, Stored};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Default)]
pub struct InMemoryRatingRepository {
    ratings: RefCell<BTreeMap<(RecordKey, UserId), Rating>>,
    /// When set, every call fails as an unreachable store would.
    pub failing: FailureSwitch,
    counts: MemoryCounts,
    applied_ids: RefCell<HashSet<String>>,
    positions: RefCell<HashMap<RatingKey, Position>>,
    progress: RefCell<Option<Progress>>,
}

impl InMemoryRatingRepository {
    /// A repository whose every call fails as an unreachable store would.
    pub fn failing() -> Self {
        let repository = Self::default();
        repository.failing.set(true);
        repository
    }
}

impl RequestCounter for InMemoryRatingRepository {
    async fn count_request(
        &self,
        client: &ClientKey,
        policy: &RatePolicy,
        now_s: u64,
    ) -> Result<Decision, StorageFailure> {
        self.failing.check()?;
        self.counts.count_request(client, policy, now_s).await
    }
}

impl RatingRepository for InMemoryRatingRepository {
    async fn put(&self, rating: &Rating) -> Result<Stored, StorageFailure> {
        self.failing.check()?;
        let key = (rating.record.clone(), rating.user.clone());
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
