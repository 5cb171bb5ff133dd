//! The metadata repository on Spin's SQLite (`sqlite_databases = ["metadata"]`).

use crate::controller::{ImportId, MetadataRepository};
use crate::migrations::DATABASE;
use crate::model::{Description, Director, Metadata, MovieId, Title};
use service_kit::rate_limit::{ClientKey, Decision, RatePolicy, RequestCounter};
use service_kit::snapshot::Snapshot;
use service_kit::sqlite::{self, Dedicated, SharedConnection, column};
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

/// Staged rows older than this belong to an import whose instance stopped before it ended.
const ABANDONED_AFTER_MS: u64 = 60 * 60 * 1000;

/// Writes every row staged by one import in one statement; a row equal to the stored movie is
/// left alone (its revision unchanged). SQLite needs the `SELECT` of an upsert to have a
/// `WHERE` clause, which tells its `ON CONFLICT` from a join's; this one has.
const APPLY_STAGED: &str = "INSERT INTO metadata (id, title, description, director)
    SELECT id, title, description, director FROM metadata_import_staging WHERE import_id = ?
    ON CONFLICT (id) DO UPDATE SET
        title = excluded.title,
        description = excluded.description,
        director = excluded.director,
        revision = revision + 1
    WHERE title IS NOT excluded.title
        OR description IS NOT excluded.description
        OR director IS NOT excluded.director";

/// One multi-row insert of `rows` staged lines (six values each).
fn stage_statement(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO metadata_import_staging
            (import_id, id, title, description, director, staged_at_ms) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push_str("(?, ?, ?, ?, ?, ?)");
    }
    sql.push_str(
        " ON CONFLICT (import_id, id) DO UPDATE SET
            title = excluded.title,
            description = excluded.description,
            director = excluded.director",
    );
    sql
}

fn millis(ms: u64) -> Value {
    Value::Integer(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// A read transaction on a connection of the export's own.
pub struct SqliteSnapshot {
    transaction: Dedicated,
}

impl Snapshot for SqliteSnapshot {
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
        let limit = Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = match after {
            Some(after) => {
                let parameters = [Value::text(after.as_str()), limit];
                self.transaction
                    .query(SELECT_PAGE_AFTER, parameters)
                    .await?
            }
            None => self.transaction.query(SELECT_FIRST_PAGE, [limit]).await?,
        };
        rows.iter().map(decode).collect()
    }
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

    type Snapshot = SqliteSnapshot;

    async fn snapshot(&self) -> Result<SqliteSnapshot, StorageFailure> {
        let transaction = Dedicated::read(&DATABASE).await?;
        Ok(SqliteSnapshot { transaction })
    }

    async fn stage(&self, import: &ImportId, batch: &[Metadata]) -> Result<(), StorageFailure> {
        let now = millis(service_kit::instance::now_ms());
        let parameters = batch.iter().flat_map(|movie| {
            [
                Value::text(import.0.as_str()),
                Value::text(movie.id.as_str()),
                Value::text(movie.title.as_str()),
                Value::text(movie.description.as_str()),
                Value::text(movie.director.as_str()),
                now.clone(),
            ]
        });
        let parameters: Vec<Value> = parameters.collect();
        self.db
            .query(&stage_statement(batch.len()), parameters)
            .await
            .map(drop)
    }

    async fn apply_staged(&self, import: &ImportId) -> Result<u64, StorageFailure> {
        let id = || [Value::text(import.0.as_str())];
        let rows = self
            .db
            .query(
                "SELECT count(*) FROM metadata_import_staging WHERE import_id = ?",
                id(),
            )
            .await?;
        let movies: i64 = rows
            .first()
            .map(|row| column(row, 0))
            .transpose()?
            .unwrap_or(0);
        self.db.query(APPLY_STAGED, id()).await?;
        self.discard_staged(import).await?;
        Ok(u64::try_from(movies).unwrap_or(0))
    }

    async fn discard_staged(&self, import: &ImportId) -> Result<(), StorageFailure> {
        let abandoned = service_kit::instance::now_ms().saturating_sub(ABANDONED_AFTER_MS);
        self.db
            .query(
                "DELETE FROM metadata_import_staging WHERE import_id = ? OR staged_at_ms < ?",
                [Value::text(import.0.as_str()), millis(abandoned)],
            )
            .await
            .map(drop)
    }
}
