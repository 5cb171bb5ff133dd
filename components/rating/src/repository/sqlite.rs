//! The rating repository on Spin's SQLite (`sqlite_databases = ["ratings"]`).

use crate::controller::RatingRepository;
use crate::events::batch::Progress;
use crate::migrations::DATABASE;
use crate::model::{AggregatedRating, Rating, RecordKey, UserId};
use service_kit::rate_limit::{ClientKey, Decision, RatePolicy, RequestCounter};
use service_kit::sqlite::{self, SharedConnection, column};
use service_kit::{StorageFailure, Stored};
use spin_sdk::sqlite::Value;
use std::rc::Rc;

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

/// One statement: the upsert and the triggers it fires commit or fail together.
const UPSERT: &str =
    "INSERT INTO ratings (record_type, record_id, user_id, value) VALUES (?, ?, ?, ?)
    ON CONFLICT (record_type, record_id, user_id)
    DO UPDATE SET value = excluded.value, revision = revision + 1
    RETURNING revision";
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

impl RequestCounter for SqliteRatingRepository {
    async fn count_request(
        &self,
        client: &ClientKey,
        policy: &RatePolicy,
        now_s: u64,
    ) -> Result<Decision, StorageFailure> {
        self.db.count_request(client, policy, now_s).await
    }
}

impl RatingRepository for SqliteRatingRepository {
    async fn put(&self, rating: &Rating) -> Result<Stored, StorageFailure> {
        let [record_type, record_id] = key(&rating.record);
        let parameters = [
            record_type,
            record_id,
            Value::text(rating.user.as_str()),
            Value::Integer(i64::from(rating.value.get())),
        ];
        self.db.upsert(UPSERT, parameters).await
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
}
