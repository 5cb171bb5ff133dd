//! Business rules of the metadata service, independent of HTTP and of SQLite.

use crate::model::{Cursor, Metadata, MovieId, PageLimit};
use futures::Stream;
use service_kit::snapshot::Snapshot;
use service_kit::{Classify, ErrorClass, StorageFailure, Stored};

/// What the controller needs from storage. Declared here, by its consumer, so storage can be
/// swapped (SQLite under Spin, memory in unit tests) without the rules noticing.
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
/// It also counts the service's rate-limited requests, in the same storage.
pub trait MetadataRepository {
    async fn get(&self, id: &MovieId) -> Result<Option<Metadata>, StorageFailure>;
    /// Inserts or replaces, atomically, reporting which it was.
    async fn put(&self, metadata: &Metadata) -> Result<Stored, StorageFailure>;
    /// Deleting an absent movie is not an error.
    async fn delete(&self, id: &MovieId) -> Result<(), StorageFailure>;
    /// Up to `limit` movies ordered by id, starting after `after`.
    async fn list_after(
        &self,
        after: Option<&MovieId>,
        limit: usize,
    ) -> Result<Vec<Metadata>, StorageFailure>;
    /// Proves the store answers queries.
    async fn ping(&self) -> Result<(), StorageFailure>;

    /// Every movie as it is now, to be read page by page while writes go on (the export).
    type Snapshot: Snapshot<Item = Metadata, Key = MovieId> + 'static;
    async fn snapshot(&self) -> Result<Self::Snapshot, StorageFailure>;
    /// Keeps `batch`, valid lines of `import`, aside; a later one for an id already staged
    /// replaces it. Nothing is visible to readers yet.
    async fn stage(&self, import: &ImportId, batch: &[Metadata]) -> Result<(), StorageFailure>;
    /// Writes everything `import` staged, in one atomic write, then forgets it; returns how
    /// many movies that was.
    async fn apply_staged(&self, import: &ImportId) -> Result<u64, StorageFailure>;
    /// Forgets what `import` staged, and what imports that never finished left long ago.
    async fn discard_staged(&self, import: &ImportId) -> Result<(), StorageFailure>;
}

/// Names one import's staged lines apart from any other import's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportId(pub String);

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("no metadata for movie {0}")]
    NotFound(MovieId),
    #[error(transparent)]
    Storage(#[from] StorageFailure),
}

impl Classify for MetadataError {
    fn class(&self) -> ErrorClass {
        match self {
            MetadataError::NotFound(_) => ErrorClass::NotFound,
            MetadataError::Storage(failure) => failure.class(),
        }
    }
}

/// One page of the listing and, when more may follow, where the next one starts.
#[derive(Debug, PartialEq)]
pub struct Page {
    pub items: Vec<Metadata>,
    pub next: Option<Cursor>,
}

pub struct MetadataController<R> {
    pub(crate) repository: R,
}

impl<R: MetadataRepository> MetadataController<R> {
    pub fn new(repository: R) -> Self {
        Self { repository }
    }

    pub async fn get(&self, id: &MovieId) -> Result<Metadata, MetadataError> {
        self.repository
            .get(id)
            .await?
            .ok_or_else(|| MetadataError::NotFound(id.clone()))
    }

    pub async fn put(&self, metadata: &Metadata) -> Result<Stored, MetadataError> {
        Ok(self.repository.put(metadata).await?)
    }

    pub async fn delete(&self, id: &MovieId) -> Result<(), MetadataError> {
        Ok(self.repository.delete(id).await?)
    }

    /// Reads one item more than asked: its presence, not a second count query, says whether
    /// a next page exists.
    pub async fn list(
        &self,
        cursor: Option<&Cursor>,
        limit: PageLimit,
    ) -> Result<Page, MetadataError> {
        let after = cursor.map(Cursor::last_seen);
        let mut items = self.repository.list_after(after, limit.get() + 1).await?;
        let next = if items.len() > limit.get() {
            items.truncate(limit.get());
            items.last().map(|last| Cursor::after(last.id.clone()))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    pub async fn health(&self) -> Result<(), MetadataError> {
        Ok(self.repository.ping().await?)
    }

    /// Every movie in id order, [`EXPORT_PAGE`] at a time, all from one snapshot taken now:
    /// a write made while the pages are sent is not in them, and no movie is sent twice or
    /// skipped. Storage failing before the first page is an error here; after it, an error
    /// item that ends the stream.
    pub async fn export(
        &self,
    ) -> Result<impl Stream<Item = Result<Vec<Metadata>, StorageFailure>> + 'static, MetadataError>
    {
        let snapshot = self.repository.snapshot().await?;
        Ok(service_kit::snapshot::pages(snapshot, EXPORT_PAGE))
    }
}

/// Movies read per page of an export: one statement each, about 100 KB of JSON.
pub const EXPORT_PAGE: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Description, Director, Title};
    use crate::repository::memory::InMemoryMetadataRepository;
    use futures::executor::block_on;

    fn metadata(id: &str, title: &str) -> Metadata {
        Metadata {
            id: MovieId::parse(id).unwrap(),
            title: Title::parse(title.into()).unwrap(),
            description: Description::default(),
            director: Director::parse("Someone".into()).unwrap(),
        }
    }

    fn controller() -> MetadataController<InMemoryMetadataRepository> {
        MetadataController::new(InMemoryMetadataRepository::default())
    }

    #[test]
    fn the_first_put_creates_and_the_second_replaces() {
        let controller = controller();
        assert_eq!(
            block_on(controller.put(&metadata("m1", "A"))).unwrap(),
            Stored::Created
        );
        assert_eq!(
            block_on(controller.put(&metadata("m1", "B"))).unwrap(),
            Stored::Replaced
        );
        let stored = block_on(controller.get(&MovieId::parse("m1").unwrap())).unwrap();
        assert_eq!(stored.title.as_str(), "B");
    }

    #[test]
    fn getting_an_absent_movie_is_not_found() {
        let result = block_on(controller().get(&MovieId::parse("nope").unwrap()));
        assert!(matches!(result, Err(MetadataError::NotFound(id)) if id.as_str() == "nope"));
    }

    #[test]
    fn deleting_is_idempotent() {
        let controller = controller();
        block_on(controller.put(&metadata("m1", "A"))).unwrap();
        let id = MovieId::parse("m1").unwrap();
        block_on(controller.delete(&id)).unwrap();
        block_on(controller.delete(&id)).unwrap();
        assert!(matches!(
            block_on(controller.get(&id)),
            Err(MetadataError::NotFound(_))
        ));
    }

    #[test]
    fn pages_walk_every_movie_once_in_id_order() {
        let controller = controller();
        for id in ["c", "a", "e", "b", "d"] {
            block_on(controller.put(&metadata(id, id))).unwrap();
        }
        let limit = PageLimit::parse("2").unwrap();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = block_on(controller.list(cursor.as_ref(), limit)).unwrap();
            seen.extend(page.items.iter().map(|m| m.id.as_str().to_owned()));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn a_page_that_ends_exactly_at_the_last_movie_has_no_next_cursor() {
        let controller = controller();
        for id in ["a", "b"] {
            block_on(controller.put(&metadata(id, id))).unwrap();
        }
        let page = block_on(controller.list(None, PageLimit::parse("2").unwrap())).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next, None);
    }
}
