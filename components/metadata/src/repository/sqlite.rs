//! The metadata repository on Spin's SQLite (`sqlite_databases = ["metadata"]`).

use crate::controller::{ImportId, MetadataRepository};
use crate::migrations::DATABASE;
use crate::model::{Description, Director, Metadata, MovieId, Title};
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
    decode_columns(StoredColumns(
        column::<&str>(row, 0)?.to_owned(),
        column::<&str>(row, 1)?.to_owned(),
        column::<&str>(row, 2)?.to_owned(),
        column::<&str>(row, 3)?.to_owned(),
    ))
}

/// A row's columns: id, title, description, director.
#[derive(serde::Deserialize)]
struct StoredColumns(String, String, String, String);

fn decode_columns(columns: StoredColumns) -> Result<Metadata, StorageFailure> {
    let corrupt = StorageFailure::corrupt;
    let StoredColumns(id, title, description, director) = columns;
    Ok(Metadata {
        id: MovieId::parse(&id).map_err(corrupt("id"))?,
        title: Title::parse(title).map_err(corrupt("title"))?,
        description: Description::parse(description).map_err(corrupt("description"))?,
        director: Director::parse(director).map_err(corrupt("director"))?,
    })
}

/// One page of the export as one row: its movies after `?1` (every id sorts after ''), in id
/// order, as a JSON array of `[id, title, description, director]`.
const EXPORT_PAGE: &str = "SELECT json_group_array(json_array(id, title, description, director))
    FROM (SELECT id, title, description, director FROM metadata
        WHERE id > ?1 ORDER BY id LIMIT ?2)";

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

/// Stages a batch given as one JSON array of `[id, title, description, director]` (`?3`), in
/// its order, so a later line for an id replaces an earlier one: one text parameter however
/// many lines, instead of four values each.
const STAGE_BATCH: &str = "INSERT INTO metadata_import_staging
        (import_id, id, title, description, director, staged_at_ms)
    SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'),
        json_extract(value, '$[2]'), json_extract(value, '$[3]'), ?2
    FROM json_each(?3) WHERE true ORDER BY key
    ON CONFLICT (import_id, id) DO UPDATE SET
        title = excluded.title,
        description = excluded.description,
        director = excluded.director";

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
        let after = Value::text(after.map_or("", MovieId::as_str));
        let limit = Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = self.transaction.query(EXPORT_PAGE, [after, limit]).await?;
        let mut page = sqlite::json_rows(&rows)?
            .into_iter()
            .map(decode_columns)
            .collect::<Result<Vec<_>, _>>()?;
        // An aggregate keeps its subquery's order in SQLite; the page is sorted all the same,
        // since the next page starts after its last id.
        page.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(page)
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
        let lines: Vec<[&str; 4]> = batch
            .iter()
            .map(|movie| {
                [
                    movie.id.as_str(),
                    movie.title.as_str(),
                    movie.description.as_str(),
                    movie.director.as_str(),
                ]
            })
            .collect();
        let lines = serde_json::to_string(&lines)
            .map_err(|error| StorageFailure::Broken(format!("staging a batch: {error}")))?;
        let parameters = [
            Value::text(import.0.as_str()),
            millis(service_kit::instance::now_ms()),
            Value::Text(lines),
        ];
        self.db.query(STAGE_BATCH, parameters).await.map(drop)
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
