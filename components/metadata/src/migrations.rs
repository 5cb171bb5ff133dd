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
