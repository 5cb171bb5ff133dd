//! The rating repository on Spin's SQLite (`sqlite_databases = ["ratings"]`).

use crate::controller::Chunk;
use crate::controller::RatingRepository;
use crate::events::batch::Progress;
use crate::migrations::DATABASE;
use crate::model::{AggregatedRating, Rating, RecordKey, UserId};
use crate::model::{RatingValue, RecordId, RecordType};
use crate::reconcile::checkpoint;
use service_kit::group_commit::GroupCommit;
use service_kit::lease::{Fence, FenceError};
use service_kit::snapshot::Snapshot;
use service_kit::sqlite::{self, Dedicated, SharedConnection, column};
use service_kit::{StorageFailure, Stored};
use spin_sdk::sqlite::RowResult;
use spin_sdk::sqlite::Value;
use std::rc::Rc;
use std::time::Duration;

pub struct SqliteRatingRepository {
    db: Rc<SharedConnection>,
}

impl SqliteRatingRepository {
    /// The repository over this instance's connection.
    pub fn for_instance() -> Self {
        Self {
            db: sqlite::for_instance(&DATABASE),
        }
    }
}

/// One statement for a batch of puts (`service_kit::group_commit`): the upserts and the
/// triggers they fire commit or fail together. `RETURNING` gives each row's key with its
/// revision (its order is SQLite's), so each put learns whether it created its row.
const UPSERT_HEAD: &str = "INSERT INTO ratings (record_type, record_id, user_id, value) VALUES ";
const UPSERT_ROW: &str = "(?, ?, ?, ?)";
const UPSERT_TAIL: &str = " ON CONFLICT (record_type, record_id, user_id)
    DO UPDATE SET value = excluded.value, revision = revision + 1
    RETURNING record_type, record_id, user_id, revision";

thread_local! {
    /// This instance's puts in flight, written together when they overlap.
    static PUTS: Rc<GroupCommit<Rating, Stored>> = Rc::new(GroupCommit::default());
}

/// The upsert of `count` ratings.
fn upsert_statement(count: usize) -> String {
    let rows = vec![UPSERT_ROW; count].join(", ");
    format!("{UPSERT_HEAD}{rows}{UPSERT_TAIL}")
}

/// Writes `ratings` (no two with the same key) as one statement; each one's outcome in order.
async fn put_batch(
    db: &SharedConnection,
    ratings: Vec<Rating>,
) -> Result<Vec<Stored>, StorageFailure> {
    let parameters = ratings.iter().flat_map(|rating| {
        let [record_type, record_id] = key(&rating.record);
        [
            record_type,
            record_id,
            Value::text(rating.user.as_str()),
            Value::Integer(i64::from(rating.value.get())),
        ]
    });
    let rows = db
        .query(
            &upsert_statement(ratings.len()),
            parameters.collect::<Vec<_>>(),
        )
        .await?;
    let mut revisions = Vec::with_capacity(rows.len());
    for row in &rows {
        let key: (&str, &str, &str) = (column(row, 0)?, column(row, 1)?, column(row, 2)?);
        let revision: i64 = column(row, 3)?;
        revisions.push((key, revision));
    }
    ratings
        .iter()
        .map(|rating| {
            let key = (
                rating.record.record_type.as_str(),
                rating.record.record_id.as_str(),
                rating.user.as_str(),
            );
            let revision = revisions.iter().find(|(k, _)| *k == key).map(|(_, r)| *r);
            match revision {
                Some(1) => Ok(Stored::Created),
                Some(_) => Ok(Stored::Replaced),
                None => Err(StorageFailure::Broken(
                    "the upsert returned no row for a rating".into(),
                )),
            }
        })
        .collect()
}
const DELETE: &str = "DELETE FROM ratings WHERE record_type = ? AND record_id = ? AND user_id = ?";
const LAST_APPLIED: &str =
    "SELECT event_id, position, applied_at_ms, applied_total FROM event_progress WHERE id = 1";
const AGGREGATE: &str =
    "SELECT total, count FROM rating_totals WHERE record_type = ? AND record_id = ?";

fn key(record: &RecordKey) -> [Value; 2] {
    [
        Value::text(record.record_type.as_str()),
        Value::text(record.record_id.as_str()),
    ]
}

/// One page of the export as one row: the ratings after (`?1`, `?2`, `?3`) in key order (every
/// key sorts after ('', '', '')), as a JSON array of `[record_type, record_id, user_id, value]`.
const EXPORT_PAGE: &str =
    "SELECT json_group_array(json_array(record_type, record_id, user_id, value)) FROM (
        SELECT record_type, record_id, user_id, value FROM ratings
        WHERE (record_type, record_id, user_id) > (?1, ?2, ?3)
        ORDER BY record_type, record_id, user_id LIMIT ?4)";

/// The next `?3` records after (`?1`, `?2`): those with ratings, an aggregate or both.
const CHUNK_RECORDS: &str = "SELECT record_type, record_id FROM (
        SELECT record_type, record_id FROM ratings
        UNION SELECT record_type, record_id FROM rating_totals
    )
    WHERE (record_type, record_id) > (?1, ?2)
    ORDER BY record_type, record_id LIMIT ?3";
/// Writes the aggregate recomputed from the ratings of each record in (`?1 ?2`, `?3 ?4`] that
/// is missing or differs; returns a row per repair. (The `WHERE` of the `SELECT` is what lets
/// SQLite read `ON CONFLICT` as the upsert's.)
const REPAIR_TOTALS: &str = "INSERT INTO rating_totals (record_type, record_id, total, count)
    SELECT record_type, record_id, sum(value), count(*) FROM ratings
    WHERE (record_type, record_id) > (?1, ?2) AND (record_type, record_id) <= (?3, ?4)
    GROUP BY record_type, record_id
    ON CONFLICT (record_type, record_id) DO UPDATE SET
        total = excluded.total, count = excluded.count
    WHERE total <> excluded.total OR count <> excluded.count
    RETURNING record_type";
/// Deletes the aggregates in the same range whose record has no rating left.
const DELETE_ORPHAN_TOTALS: &str = "DELETE FROM rating_totals
    WHERE (record_type, record_id) > (?1, ?2) AND (record_type, record_id) <= (?3, ?4)
    AND NOT EXISTS (SELECT 1 FROM ratings r
        WHERE r.record_type = rating_totals.record_type AND r.record_id = rating_totals.record_id)
    RETURNING record_type";

/// A rating's columns: record type, record id, user id, value. Rows were written through
/// [`Rating`], so they parse; one that does not is a storage failure, not a panic.
fn decode_rating(
    (record_type, record_id, user, value): (String, String, String, i64),
) -> Result<Rating, StorageFailure> {
    let corrupt = StorageFailure::corrupt;
    Ok(Rating {
        record: RecordKey {
            record_type: RecordType::parse(&record_type).map_err(corrupt("record_type"))?,
            record_id: RecordId::parse(&record_id).map_err(corrupt("record_id"))?,
        },
        user: UserId::parse(&user).map_err(corrupt("user_id"))?,
        value: RatingValue::parse(value).map_err(corrupt("value"))?,
    })
}

fn decode_record(row: &RowResult) -> Result<RecordKey, StorageFailure> {
    let corrupt = StorageFailure::corrupt;
    Ok(RecordKey {
        record_type: RecordType::parse(column(row, 0)?).map_err(corrupt("record_type"))?,
        record_id: RecordId::parse(column(row, 1)?).map_err(corrupt("record_id"))?,
    })
}

/// A read transaction on a connection of the export's own.
pub struct SqliteSnapshot {
    transaction: Dedicated,
}

impl Snapshot for SqliteSnapshot {
    type Item = Rating;
    type Key = (RecordKey, UserId);

    async fn page_after(
        &self,
        after: Option<&(RecordKey, UserId)>,
        limit: usize,
    ) -> Result<Vec<Rating>, StorageFailure> {
        let [record_type, record_id, user] = match after {
            Some((record, user)) => {
                let [record_type, record_id] = key(record);
                [record_type, record_id, Value::text(user.as_str())]
            }
            None => [Value::text(""), Value::text(""), Value::text("")],
        };
        let limit = Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX));
        let parameters = [record_type, record_id, user, limit];
        let rows = self.transaction.query(EXPORT_PAGE, parameters).await?;
        let mut page = sqlite::json_rows(&rows)?
            .into_iter()
            .map(decode_rating)
            .collect::<Result<Vec<_>, _>>()?;
        // Sorted all the same, since the next page starts after its last key.
        page.sort_by(|a, b| (&a.record, &a.user).cmp(&(&b.record, &b.user)));
        Ok(page)
    }

    fn key(rating: &Rating) -> (RecordKey, UserId) {
        rating.key()
    }
}

impl RatingRepository for SqliteRatingRepository {
    async fn put(&self, rating: &Rating) -> Result<Stored, StorageFailure> {
        let puts = PUTS.with(Rc::clone);
        let db = &self.db;
        puts.submit(
            rating.clone(),
            |r| (r.record.clone(), r.user.clone()),
            |batch| put_batch(db, batch),
        )
        .await
    }

    async fn delete(&self, record: &RecordKey, user: &UserId) -> Result<(), StorageFailure> {
        let [record_type, record_id] = key(record);
        let parameters = [record_type, record_id, Value::text(user.as_str())];
        self.db.query(DELETE, parameters).await.map(drop)
    }

    async fn aggregate(
        &self,
        record: &RecordKey,
    ) -> Result<Option<AggregatedRating>, StorageFailure> {
        let rows = self.db.query(AGGREGATE, key(record)).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let total: u64 = column(row, 0)?;
        let count: u64 = column(row, 1)?;
        Ok(AggregatedRating::new(total, count))
    }

    async fn ping(&self) -> Result<(), StorageFailure> {
        self.db
            .query("SELECT 1 FROM rating_totals LIMIT 1", [])
            .await
            .map(drop)
    }

    async fn last_applied(&self) -> Result<Option<Progress>, StorageFailure> {
        let rows = self.db.query(LAST_APPLIED, []).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(Progress {
            event_id: column::<&str>(row, 0)?.to_owned(),
            position: column::<&str>(row, 1)?.to_owned(),
            applied_at_ms: column(row, 2)?,
            applied_total: column(row, 3)?,
        }))
    }

    type Leases = SharedConnection;

    fn leases(&self) -> &SharedConnection {
        &self.db
    }

    type Snapshot = SqliteSnapshot;

    async fn snapshot(&self) -> Result<SqliteSnapshot, StorageFailure> {
        let transaction = Dedicated::read(&DATABASE).await?;
        Ok(SqliteSnapshot { transaction })
    }

    /// One write transaction on a connection of its own: the chunk's records, the repairs,
    /// then the fenced write of the lease row and the commit. Any failure drops the
    /// connection with the transaction open, which rolls it back.
    async fn reconcile_chunk(
        &self,
        fence: &Fence,
        after: Option<&RecordKey>,
        limit: usize,
        ttl: Duration,
    ) -> Result<Chunk, FenceError> {
        let transaction = Dedicated::write(&DATABASE).await?;
        // Every record type is at least one character, so ("", "") precedes every record.
        let [after_type, after_id] = after.map_or([Value::text(""), Value::text("")], key);
        let limit = Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX));
        let parameters = [after_type.clone(), after_id.clone(), limit];
        let records = transaction.query(CHUNK_RECORDS, parameters).await?;
        let last = records.last().map(decode_record).transpose()?;
        let mut repaired = 0;
        if let Some(last) = &last {
            let [last_type, last_id] = key(last);
            let range = [after_type, after_id, last_type, last_id];
            repaired += transaction.query(REPAIR_TOTALS, range.clone()).await?.len();
            repaired += transaction.query(DELETE_ORPHAN_TOTALS, range).await?.len();
        }
        let checkpoint = last.as_ref().map(checkpoint);
        let lease_expires_at_ms = transaction
            .commit_fenced(fence, checkpoint.as_deref(), ttl)
            .await?;
        Ok(Chunk {
            records: records.len(),
            repaired,
            last,
            lease_expires_at_ms,
        })
    }
}
