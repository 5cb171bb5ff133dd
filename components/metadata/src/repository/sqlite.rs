//! The metadata repository on Spin's SQLite (`sqlite_databases = ["metadata"]`).

use crate::controller::MetadataRepository;
use crate::migrations::DATABASE;
use crate::model::{Description, Director, Metadata, MovieId, Title};
use service_kit::rate_limit::{ClientKey, Decision, RatePolicy, RequestCounter};
use service_kit::sqlite::{self, SharedConnection, column};
use service_kit::{StorageFailure, Stored};
use spin_sdk::sqlite::{RowResult, Value};
use std::rc::Rc;

pub struct SqliteMetadataRepository {
    db: Rc<SharedConnection>,
}

impl SqliteMetadataRepository {
    /// The repository over this instance's connection.
    pub fn for_instance() -> Self {
        Self {
            db: sqlite::for_instance(&DATABASE),
        }
    }
}

const SELECT_ONE: &str = "SELECT id, title, description, director FROM metadata WHERE id = ?";
const SELECT_FIRST_PAGE: &str =
    "SELECT id, title, description, director FROM metadata ORDER BY id LIMIT ?";
const SELECT_PAGE_AFTER: &str =
    "SELECT id, title, description, director FROM metadata WHERE id > ? ORDER BY id LIMIT ?";

/// Rows were written through [`Metadata`], so they parse; if one ever does not (a hand edit),
/// it surfaces as a storage failure, not a panic.
fn decode(row: &RowResult) -> Result<Metadata, StorageFailure> {
    fn corrupt(field: &'static str) -> impl Fn(service_kit::Invalid) -> StorageFailure {
        move |e| StorageFailure::Broken(format!("stored {field} is invalid: {e}"))
    }
    Ok(Metadata {
        id: MovieId::parse(column(row, 0)?).map_err(corrupt("id"))?,
        title: Title::parse(column::<&str>(row, 1)?.to_owned()).map_err(corrupt("title"))?,
        description: Description::parse(column::<&str>(row, 2)?.to_owned())
            .map_err(corrupt("description"))?,
        director: Director::parse(column::<&str>(row, 3)?.to_owned())
            .map_err(corrupt("director"))?,
    })
}

impl RequestCounter for SqliteMetadataRepository {
    async fn count_request(
        &self,
        client: &ClientKey,
        policy: &RatePolicy,
        now_s: u64,
    ) -> Result<Decision, StorageFailure> {
        self.db.count_request(client, policy, now_s).await
    }
}

impl MetadataRepository for SqliteMetadataRepository {
    async fn get(&self, id: &MovieId) -> Result<Option<Metadata>, StorageFailure> {
        let rows = self
            .db
            .query(SELECT_ONE, [Value::text(id.as_str())])
            .await?;
        rows.first().map(decode).transpose()
    }

    async fn put(&self, metadata: &Metadata) -> Result<Stored, StorageFailure> {
        self.db
            .upsert(
                "INSERT INTO metadata (id, title, description, director) VALUES (?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET
                    title = excluded.title,
                    description = excluded.description,
                    director = excluded.director,
                    revision = revision + 1
                 RETURNING revision",
                [
                    Value::text(metadata.id.as_str()),
                    Value::text(metadata.title.as_str()),
                    Value::text(metadata.description.as_str()),
                    Value::text(metadata.director.as_str()),
                ],
            )
            .await
    }

    async fn delete(&self, id: &MovieId) -> Result<(), StorageFailure> {
        self.db
            .query(
                "DELETE FROM metadata WHERE id = ?",
                [Value::text(id.as_str())],
            )
            .await
            .map(drop)
    }

    async fn list_after(
        &self,
        after: Option<&MovieId>,
        limit: usize,
    ) -> Result<Vec<Metadata>, StorageFailure> {
        let limit = Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = match after {
            Some(after) => {
                let parameters = [Value::text(after.as_str()), limit];
                self.db.query(SELECT_PAGE_AFTER, parameters).await?
            }
            None => self.db.query(SELECT_FIRST_PAGE, [limit]).await?,
        };
        rows.iter().map(decode).collect()
    }

    async fn ping(&self) -> Result<(), StorageFailure> {
        self.db
            .query("SELECT 1 FROM metadata LIMIT 1", [])
            .await
            .map(drop)
    }
}
