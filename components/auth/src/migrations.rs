//! The auth database's schema, one versioned migration at a time. Never edit a migration that
//! has shipped; add the next one.

use service_kit::sqlite::{Database, JournalMode, Migration, Synchronous};

/// The auth database (`sqlite_databases = ["auth"]`): registered clients, written by an
/// operator (`authctl`), read on each token request; and the token endpoint's request counts.
/// `synchronous = FULL`: a registration must survive a power loss, and writes are rare.
pub const DATABASE: Database = Database {
    label: "auth",
    journal_mode: JournalMode::Wal,
    synchronous: Synchronous::Full,
    migrations: MIGRATIONS,
};

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "create clients",
        statements: &[
            // `secret_hash` is an Argon2id PHC string; `scopes` are space-separated.
            "CREATE TABLE clients (
            id TEXT PRIMARY KEY NOT NULL,
            secret_hash TEXT NOT NULL,
            scopes TEXT NOT NULL,
            created_at INTEGER NOT NULL
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
        name: "keep the development signing key",
        statements: &[
            // At most one row: the key auth signs with when no `auth_signing_key` is
            // configured and `auth_development_key` allows it (see crate::keyring).
            "CREATE TABLE development_key (
            id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
            seed TEXT NOT NULL,
            created_at INTEGER NOT NULL
        )",
        ],
    },
];

/// The development key: `?1` (a base64url Ed25519 seed) is stored unless a key already is, and
/// the stored one is returned either way, so every instance and `authctl token` settle on the
/// first key written (`?2` is the time, seconds since the epoch). One statement, so it works
/// alike on a local file and on libSQL.
pub const DEVELOPMENT_KEY: &str =
    "INSERT INTO development_key (id, seed, created_at) VALUES (1, ?1, ?2)
    ON CONFLICT (id) DO UPDATE SET seed = development_key.seed
    RETURNING seed";

/// Registers a client or replaces its secret and scopes (`?1` id, `?2` hash, `?3` scopes,
/// `?4` registration time, seconds since the epoch). For the operator's tool.
pub const REGISTER_CLIENT: &str =
    "INSERT INTO clients (id, secret_hash, scopes, created_at) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash, scopes = excluded.scopes";

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_numbered_consecutively_from_one() {
        assert!(service_kit::sqlite::versions_are_consecutive(
            super::MIGRATIONS
        ));
    }
}
