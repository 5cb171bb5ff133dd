//! The metadata database's schema, one versioned migration at a time. Never edit a migration
//! that has shipped; add the next one.

use service_kit::sqlite::Migration;

pub const MIGRATIONS: &[Migration] = &[Migration {
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
}];

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_numbered_consecutively_from_one() {
        assert!(service_kit::sqlite::versions_are_consecutive(
            super::MIGRATIONS
        ));
    }
}
