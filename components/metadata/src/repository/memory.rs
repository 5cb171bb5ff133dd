//! An in-memory repository for unit tests of the controller and handler.

use crate::controller::MetadataRepository;
use crate::model::{Metadata, MovieId};
use service_kit::rate_limit::{ClientKey, Decision, MemoryCounts, RatePolicy, RequestCounter};
use service_kit::testing::FailureSwitch;
use service_kit::{StorageFailure, Stored};
use std::cell::RefCell;
use std::collections::BTreeMap;

#[derive(Default)]
pub struct InMemoryMetadataRepository {
    movies: RefCell<BTreeMap<MovieId, Metadata>>,
    /// When set, every call fails as an unreachable store would.
    pub failing: FailureSwitch,
    counts: MemoryCounts,
}

impl InMemoryMetadataRepository {
    /// A repository whose every call fails as an unreachable store would.
    pub fn failing() -> Self {
        let repository = Self::default();
        repository.failing.set(true);
        repository
    }
}

impl RequestCounter for InMemoryMetadataRepository {
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

impl MetadataRepository for InMemoryMetadataRepository {
    async fn get(&self, id: &MovieId) -> Result<Option<Metadata>, StorageFailure> {
        self.failing.check()?;
        Ok(self.movies.borrow().get(id).cloned())
    }

    async fn put(&self, metadata: &Metadata) -> Result<Stored, StorageFailure> {
        self.failing.check()?;
        let previous = self
            .movies
            .borrow_mut()
            .insert(metadata.id.clone(), metadata.clone());
        Ok(if previous.is_some() {
            Stored::Replaced
        } else {
            Stored::Created
        })
    }

    async fn delete(&self, id: &MovieId) -> Result<(), StorageFailure> {
        self.failing.check()?;
        self.movies.borrow_mut().remove(id);
        Ok(())
    }

    async fn list_after(
        &self,
        after: Option<&MovieId>,
        limit: usize,
    ) -> Result<Vec<Metadata>, StorageFailure> {
        self.failing.check()?;
        let movies = self.movies.borrow();
        Ok(movies
            .values()
            .filter(|m| after.is_none_or(|after| &m.id > after))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn ping(&self) -> Result<(), StorageFailure> {
        self.failing.check()
    }
}
