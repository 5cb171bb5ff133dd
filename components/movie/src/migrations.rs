//! movie's own SQLite database (`sqlite_databases = ["movie"]`): the per-client counts of its
//! rate limit. Never edit a migration that has shipped; add the next one.

use service_kit::sqlite::{Database, JournalMode, Migration, Synchronous};

/// Every composed view writes its client's count, from many instances at once: write-ahead
/// log, and `synchronous = NORMAL` so a count does not wait for the disk. A power loss may
/// forget the counts of the last moments, which only lets a client a little over its quota
/// once.
pub const DATABASE: Database = Database {
    label: "movie",
    journal_mode: JournalMode::Wal,
    synchronous: Synchronous::Normal,
    migrations: MIGRATIONS,
};

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "count requests per client for rate limits",
    statements: &[service_kit::rate_limit::COUNTS_TABLE],
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_consecutively() {
        assert!(service_kit::sqlite::versions_are_consecutive(MIGRATIONS));
    }
}
