//! An in-memory repository for unit tests of the controller and handler.

use crate::controller::{MetadataRepository, Stored};
use crate::model::{Metadata, MovieId};
use service_kit::sqlite::StorageFailure;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

#[derive(Default)]
pub struct InMemoryMetadataRepository {
    movies: RefCell<BTreeMap<MovieId, Metadata>>,
    /// When set, every call fails as an unreachable store would.
    pub failing: Cell<bool>,
}

impl InMemoryMetadataRepository {
    fn available(&self) -> Result<(), StorageFailure> {
        if self.failing.get() {
            Err(StorageFailure(
                "the in-memory store was told to fail".into(),
            ))
        } else {
            Ok(())
        }
    }
}

impl MetadataRepository for InMemoryMetadataRepository {
    async fn get(&self, id: &MovieId) -> Result<Option<Metadata>, StorageFailure> {
        self.available()?;
        Ok(self.movies.borrow().get(id).cloned())
    }

    async fn put(&self, metadata: &Metadata) -> Result<Stored, StorageFailure> {
        self.available()?;
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
        self.available()?;
        self.movies.borrow_mut().remove(id);
        Ok(())
    }

    async fn list_after(
        &self,
        after: Option<&MovieId>,
        limit: usize,
    ) -> Result<Vec<Metadata>, StorageFailure> {
        self.available()?;
        let movies = self.movies.borrow();
        Ok(movies
            .values()
            .filter(|m| after.is_none_or(|after| &m.id > after))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn ping(&self) -> Result<(), StorageFailure> {
        self.available()
    }
}
