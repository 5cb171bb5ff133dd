//! The ingestion consumer's writes: a batch of events applied in one SQLite transaction.
//!
//! Unlike the HTTP handlers, which share one connection per instance among concurrent
//! requests and therefore write one statement at a time, the consumer runs alone in its
//! instance (the Redis trigger makes one per message) on a connection of its own, so it can
//! hold `BEGIN IMMEDIATE ... COMMIT` across statements. A batch costs the same few statements
//! whatever its size: each step is one multi-row statement.

use crate::events::batch::{
    Applied, EventStore, REMEMBER_EVENT_IDS_MS, Sequenced, is_put, last_per_rating,
};
use crate::migrations::DATABASE;
use service_kit::StorageFailure;
use service_kit::sqlite::{SharedConnection, column};
use spin_sdk::sqlite::Value;
use std::collections::HashSet;

/// The event store on a connection of its own.
pub struct SqliteEventStore {
    db: SharedConnection,
}

impl SqliteEventStore {
    /// Opens its own connection on first use, not the instance's shared one.
    pub fn dedicated() -> Self {
        Self {
            db: SharedConnection::new(&DATABASE),
        }
    }

    async fn apply_in_transaction(
        &self,
        batch: &[Sequenced],
        now_ms: u64,
    ) -> Result<Applied, StorageFailure> {
        let now = integer(now_ms);
        // 1. Remember the ids; the ones inserted are the ones never applied.
        let rows = self
            .db
            .query(
                &format!(
                    "INSERT INTO applied_events (event_id, applied_at_ms) VALUES {} \
                     ON CONFLICT DO NOTHING RETURNING event_id",
                    placeholders(batch.len(), 2)
                ),
                batch
                    .iter()
                    .flat_map(|item| [Value::text(item.event.id.as_str()), now.clone()]),
            )
            .await?;
        let fresh: HashSet<&str> = rows
            .iter()
            .map(|row| column::<&str>(row, 0))
            .collect::<Result<_, _>>()?;
        let candidates = last_per_rating(batch, &fresh);
        // 2. Move each rating's position forward; the ratings returned are the ones this
        //    batch is newer for.
        let advanced = if candidates.is_empty() {
            HashSet::new()
        } else {
            let rows = self
                .db
                .query(
                    &format!(
                        "INSERT INTO rating_event_positions \
                         (record_type, record_id, user_id, position_ms, position_seq) VALUES {} \
                         ON CONFLICT (record_type, record_id, user_id) DO UPDATE SET \
                         position_ms = excluded.position_ms, position_seq = excluded.position_seq \
                         WHERE (excluded.position_ms, excluded.position_seq) > \
                         (rating_event_positions.position_ms, rating_event_positions.position_seq) \
                         RETURNING record_type, record_id, user_id",
                        placeholders(candidates.len(), 5)
                    ),
                    candidates.iter().flat_map(|item| {
                        let [record_type, record_id, user] = key(item);
                        [
                            record_type,
                            record_id,
                            user,
                            integer(item.position.ms),
                            integer(item.position.seq),
                        ]
                    }),
                )
                .await?;
            rows.iter()
                .map(|row| {
                    Ok((
                        column::<&str>(row, 0)?.to_owned(),
                        column::<&str>(row, 1)?.to_owned(),
                        column::<&str>(row, 2)?.to_owned(),
                    ))
                })
                .collect::<Result<HashSet<_>, StorageFailure>>()?
        };
        let winners: Vec<&Sequenced> = candidates
            .into_iter()
            .filter(|item| {
                advanced.contains(&(
                    item.event.record.record_type.as_str().to_owned(),
                    item.event.record.record_id.as_str().to_owned(),
                    item.event.user.as_str().to_owned(),
                ))
            })
            .collect();
        // 3. Write the puts and the deletes; the triggers keep the totals.
        let (puts, deletes): (Vec<&Sequenced>, Vec<&Sequenced>) =
            winners.iter().copied().partition(|item| is_put(item));
        if !puts.is_empty() {
            self.db
                .query(
                    &format!(
                        "INSERT INTO ratings (record_type, record_id, user_id, value) VALUES {} \
                         ON CONFLICT (record_type, record_id, user_id) \
                         DO UPDATE SET value = excluded.value, revision = revision + 1",
                        placeholders(puts.len(), 4)
                    ),
                    puts.iter().flat_map(|item| {
                        let [record_type, record_id, user] = key(item);
                        let value = item
                            .event
                            .rating()
                            .map_or(0, |rating| i64::from(rating.value.get()));
                        [record_type, record_id, user, Value::Integer(value)]
                    }),
                )
                .await?;
        }
        if !deletes.is_empty() {
            self.db
                .query(
                    &format!(
                        "DELETE FROM ratings WHERE (record_type, record_id, user_id) IN (VALUES {})",
                        placeholders(deletes.len(), 3)
                    ),
                    deletes.iter().flat_map(|item| key(item)),
                )
                .await?;
        }
        // 4. The progress the health report shows, and forget ids older than the window.
        if let Some(last) = winners.iter().max_by_key(|item| item.position) {
            self.db
                .query(
                    "INSERT INTO event_progress \
                     (id, event_id, position, applied_at_ms, applied_total) VALUES (1, ?, ?, ?, ?) \
                     ON CONFLICT (id) DO UPDATE SET event_id = excluded.event_id, \
                     position = excluded.position, applied_at_ms = excluded.applied_at_ms, \
                     applied_total = applied_total + excluded.applied_total",
                    [
                        Value::text(last.event.id.as_str()),
                        Value::text(last.position.to_string()),
                        now,
                        integer(winners.len() as u64),
                    ],
                )
                .await?;
        }
        self.db
            .query(
                "DELETE FROM applied_events WHERE applied_at_ms < ?",
                [integer(now_ms.saturating_sub(REMEMBER_EVENT_IDS_MS))],
            )
            .await?;
        Ok(Applied {
            applied: winners.len(),
            duplicates: batch.len() - fresh.len(),
            superseded: fresh.len() - winners.len(),
        })
    }
}

impl EventStore for SqliteEventStore {
    async fn apply_events(
        &self,
        batch: &[Sequenced],
        now_ms: u64,
    ) -> Result<Applied, StorageFailure> {
        if batch.is_empty() {
            return Ok(Applied::default());
        }
        self.db.query("BEGIN IMMEDIATE", []).await?;
        match self.apply_in_transaction(batch, now_ms).await {
            Ok(applied) => {
                self.db.query("COMMIT", []).await?;
                Ok(applied)
            }
            Err(failure) => {
                // Nothing of the batch stays; if even the rollback fails, the connection is
                // dropped with the instance, which rolls back too.
                if let Err(rollback) = self.db.query("ROLLBACK", []).await {
                    service_kit::telemetry::error("events.rollback_failed")
                        .cause(&rollback)
                        .emit();
                }
                Err(failure)
            }
        }
    }
}

fn integer(value: u64) -> Value {
    Value::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

fn key(item: &Sequenced) -> [Value; 3] {
    [
        Value::text(item.event.record.record_type.as_str()),
        Value::text(item.event.record.record_id.as_str()),
        Value::text(item.event.user.as_str()),
    ]
}

/// `(?, ?), (?, ?)` for `rows` rows of `columns` values.
fn placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_give_one_group_per_row() {
        assert_eq!(super::placeholders(2, 3), "(?, ?, ?), (?, ?, ?)");
    }
}
