//! An in-memory repository for unit tests of the controller and handler.

use crate::controller::RatingRepository;
use crate::model::{AggregatedRating, Rating, RecordKey, UserId};
use service_kit::rate_limit::{ClientKey, Decision, MemoryCounts, RatePolicy, RequestCounter};
use service_kit::testing::FailureSwitch;
use service_kit::{StorageFailure, Stored};
use std::cell::RefCell;
use std::collections::BTreeMap;

#[derive(Default)]
pub struct InMemoryRatingRepository {
    ratings: RefCell<BTreeMap<(RecordKey, UserId), Rating>>,
    /// When set, every call fails as an unreachable store would.
    pub failing: FailureSwitch,
    counts: MemoryCounts,
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
}
