//! The ratings database's schema, one versioned migration at a time. Never edit a migration
//! that has shipped; add the next one.

use service_kit::sqlite::{Database, JournalMode, Migration, Synchronous};

/// The ratings database (`sqlite_databases = ["ratings"]`). Users write here far more often
/// than anything else in the system, many at once: write-ahead log, and `synchronous = NORMAL`
/// so a commit does not wait for the disk while holding the write lock. A rating acknowledged
/// survives the process being killed; a power loss may undo the ones since the last checkpoint
/// (`docs/storage.md`).
pub const DATABASE: Database = Database {
    label: "ratings",
    journal_mode: JournalMode::Wal,
    synchronous: Synchronous::Normal,
    migrations: MIGRATIONS,
};

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "create ratings and their running totals",
        statements: &[
            // One row per user and record; `revision` counts writes, so 1 after an upsert means new.
            "CREATE TABLE ratings (
            record_type TEXT NOT NULL,
            record_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            value INTEGER NOT NULL CHECK (value BETWEEN 1 AND 5),
            revision INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (record_type, record_id, user_id)
        ) WITHOUT ROWID",
            // The aggregate, kept current by the triggers below inside each write's own statement,
            // so reading a record's average is one primary-key lookup however many ratings it has.
            "CREATE TABLE rating_totals (
            record_type TEXT NOT NULL,
            record_id TEXT NOT NULL,
            total INTEGER NOT NULL,
            count INTEGER NOT NULL CHECK (count > 0),
            PRIMARY KEY (record_type, record_id)
        ) WITHOUT ROWID",
            "CREATE TRIGGER rating_totals_on_insert AFTER INSERT ON ratings BEGIN
            INSERT INTO rating_totals (record_type, record_id, total, count)
            VALUES (new.record_type, new.record_id, new.value, 1)
            ON CONFLICT (record_type, record_id)
            DO UPDATE SET total = total + excluded.total, count = count + 1;
        END",
            "CREATE TRIGGER rating_totals_on_update AFTER UPDATE OF value ON ratings BEGIN
            UPDATE rating_totals SET total = total - old.value + new.value
            WHERE record_type = new.record_type AND record_id = new.record_id;
        END",
            // The last rating gone, the aggregate goes too (count > 0 always holds).
            "CREATE TRIGGER rating_totals_on_delete AFTER DELETE ON ratings BEGIN
            DELETE FROM rating_totals
            WHERE record_type = old.record_type AND record_id = old.record_id AND count = 1;
            UPDATE rating_totals SET total = total - old.value, count = count - 1
            WHERE record_type = old.record_type AND record_id = old.record_id;
        END",
        ],
    },
    Migration {
        version: 2,
        name: "count requests per client for rate limits",
        statements: &[service_kit::rate_limit::COUNTS_TABLE],
    },
    Migration {
        version: 3,
        name: "remember applied events and each rating's last event position",
        statements: &[
            // Event ids applied, so a re-sent event changes nothing; pruned by age.
            "CREATE TABLE applied_events (
            event_id TEXT PRIMARY KEY,
            applied_at_ms INTEGER NOT NULL
        ) WITHOUT ROWID",
            "CREATE INDEX applied_events_by_age ON applied_events (applied_at_ms)",
            // The stream position of the last event applied to each rating. Kept when the
            // rating is deleted, so an older put delivered late cannot bring it back.
            "CREATE TABLE rating_event_positions (
            record_type TEXT NOT NULL,
            record_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            position_ms INTEGER NOT NULL,
            position_seq INTEGER NOT NULL,
            PRIMARY KEY (record_type, record_id, user_id)
        ) WITHOUT ROWID",
            // One row: the last event applied, and how many have been.
            "CREATE TABLE event_progress (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            event_id TEXT NOT NULL,
            position TEXT NOT NULL,
            applied_at_ms INTEGER NOT NULL,
            applied_total INTEGER NOT NULL
        )",
        ],
    },
    Migration {
        version: 4,
        name: "leases with fencing tokens, for reconciliation",
        statements: service_kit::lease::MIGRATION,
    },
];

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_numbered_consecutively_from_one() {
        assert!(service_kit::sqlite::versions_are_consecutive(
            super::MIGRATIONS
        ));
    }
}
