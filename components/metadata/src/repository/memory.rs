//! An in-memory repository for unit tests of the controller and handler.

use crate::controller::{ImportId, MetadataRepository};
use crate::model::{Metadata, MovieId};
use service_kit::snapshot::Snapshot;
use service_kit::testing::FailureSwitch;
use service_kit::{StorageFailure, Stored};
use std::cell::RefCell;
use std::collections::BTreeMap;

#[derive(Default)]
pub struct InMemoryMetadataRepository {
    movies: RefCell<BTreeMap<MovieId, Metadata>>,
    /// Imports' staged lines, by import id and movie id.
    staged: RefCell<BTreeMap<(String, MovieId), Metadata>>,
    /// When set, every call fails as an unreachable store would.
    pub failing: FailureSwitch,
}

impl InMemoryMetadataRepository {
    /// A repository whose every call fails as an unreachable store would.
    pub fn failing() -> Self {
        let repository = Self::default();
        repository.failing.set(true);
        repository
    }

    /// Lines staged by imports and not yet applied or discarded.
    pub fn staged_rows(&self) -> usize {
        self.staged.borrow().len()
    }
}

/// A copy of every movie, taken when the snapshot is.
pub struct MemorySnapshot(BTreeMap<MovieId, Metadata>);

impl Snapshot for MemorySnapshot {
    type Item = Metadata;
    type Key = MovieId;

    fn key(movie: &Metadata) -> MovieId {
        movie.id.clone()
    }

    async fn page_after(
        &self,
        after: Option<&MovieId>,
        limit: usize,
    ) -> Result<Vec<Metadata>, StorageFailure> {
        Ok(self
            .0
            .values()
            .filter(|m| after.is_none_or(|after| &m.id > after))
            .take(limit)
            .cloned()
            .collect())
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

    type Snapshot = MemorySnapshot;

    async fn snapshot(&self) -> Result<MemorySnapshot, StorageFailure> {
        self.failing.check()?;
        Ok(MemorySnapshot(self.movies.borrow().clone()))
    }

    async fn stage(&self, import: &ImportId, batch: &[Metadata]) -> Result<(), StorageFailure> {
        self.failing.check()?;
        let mut staged = self.staged.borrow_mut();
        for movie in batch {
            staged.insert((import.0.clone(), movie.id.clone()), movie.clone());
        }
        Ok(())
    }

    async fn apply_staged(&self, import: &ImportId) -> Result<u64, StorageFailure> {
        self.failing.check()?;
        let mut staged = self.staged.borrow_mut();
        let mine: Vec<(String, MovieId)> = staged
            .keys()
            .filter(|(owner, _)| owner == &import.0)
            .cloned()
            .collect();
        let mut movies = self.movies.borrow_mut();
        for key in &mine {
            if let Some(movie) = staged.remove(key) {
                movies.insert(movie.id.clone(), movie);
            }
        }
        Ok(mine.len() as u64)
    }

    async fn discard_staged(&self, import: &ImportId) -> Result<(), StorageFailure> {
        self.failing.check()?;
        self.staged
            .borrow_mut()
            .retain(|(owner, _), _| owner != &import.0);
        Ok(())
    }
}
