//! The metadata database's schema, one versioned migration at a time. Never edit a migration
//! that has shipped; add the next one.

use service_kit::sqlite::{Database, JournalMode, Migration, Synchronous};

/// The metadata database (`sqlite_databases = ["metadata"]`). Written rarely, by editors, and
/// read on every movie view: write-ahead log so readers never wait for a writer, and
/// `synchronous = FULL` because an acknowledged edit must survive a power loss and its fsync
/// costs nothing at this write rate (`docs/storage.md`).
pub const DATABASE: Database = Database {
    label: "metadata",
    journal_mode: JournalMode::Wal,
    synchronous: Synchronous::Full,
    migrations: MIGRATIONS,
};

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "create metadata",
        statements: &[
            // `revision` counts writes to the row; 1 after an upsert means the row was created.
            "CREATE TABLE metadata (
            id TEXT PRIMARY KEY NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            director TEXT NOT NULL,
            revision INTEGER NOT NULL DEFAULT 1
        ) WITHOUT ROWID",
        ],
    },
    Migration {
        version: 2,
        name: "count requests per client for rate limits",
        statements: &[service_kit::rate_limit::COUNTS_TABLE],
    },
    Migration {
        version: 3,
        name: "stage imports before they are applied",
        statements: &[
            // The valid lines of an import in progress, keyed by the import: the import
            // applies them to `metadata` in one statement once its whole body has been read,
            // so a client that goes away midway changes nothing. A later line for the same id
            // replaces an earlier one, as a later PUT would.
            "CREATE TABLE metadata_import_staging (
            import_id TEXT NOT NULL,
            id TEXT NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            director TEXT NOT NULL,
            staged_at_ms INTEGER NOT NULL,
            PRIMARY KEY (import_id, id)
        ) WITHOUT ROWID",
            // Rows of imports that never finished (their instance stopped) are dropped by age.
            "CREATE INDEX metadata_import_staging_by_age
            ON metadata_import_staging (staged_at_ms)",
        ],
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
