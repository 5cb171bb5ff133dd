//! One SQLite connection per component instance, migrated on first use.
//!
//! Spin reuses an instance for many requests, some at once (`docs/spin-facts.md`, "Instances
//! and state"), and a connection kept across them doubles read throughput over opening one per
//! request. The connection is only a cache: when the instance goes, so does it, and the next
//! instance opens and checks the schema again (one `PRAGMA user_version` read).
//!
//! Interleaved requests share the connection, so requests must never spread a transaction over
//! several statements on it: each write is a single statement (triggers keep derived rows in the
//! same implicit transaction). Only the migration uses `BEGIN`, while no request can see the
//! connection yet.

use crate::storage::{StorageFailure, Stored};
use spin_sdk::sqlite::{Connection, Error, RowResult, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// A versioned schema change. Versions start at 1 and increase by one; the database's
/// `user_version` records the last one applied.
#[derive(Debug)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    /// Executed in order, one statement each (the host runs a single statement per call).
    pub statements: &'static [&'static str],
}

impl From<Error> for StorageFailure {
    fn from(error: Error) -> Self {
        Self(format!("sqlite: {error:?}"))
    }
}

thread_local! {
    static INSTANCE_CONNECTIONS: RefCell<Vec<Rc<SharedConnection>>> = const { RefCell::new(Vec::new()) };
}

/// This instance's connection to the database `label`, created on first use. Instances are
/// single-threaded, so a thread-local is an instance-local.
pub fn for_instance(label: &'static str, migrations: &'static [Migration]) -> Rc<SharedConnection> {
    INSTANCE_CONNECTIONS.with(|connections| {
        let mut connections = connections.borrow_mut();
        if let Some(existing) = connections.iter().find(|c| c.label == label) {
            return Rc::clone(existing);
        }
        let created = Rc::new(SharedConnection::new(label, migrations));
        connections.push(Rc::clone(&created));
        created
    })
}

/// The per-instance connection to one database label, opened lazily.
pub struct SharedConnection {
    label: &'static str,
    migrations: &'static [Migration],
    connection: RefCell<Option<Rc<Connection>>>,
}

impl SharedConnection {
    pub fn new(label: &'static str, migrations: &'static [Migration]) -> Self {
        Self {
            label,
            migrations,
            connection: RefCell::new(None),
        }
    }

    /// The open, migrated connection.
    ///
    /// Requests that arrive together on a cold instance each open a connection; the first to
    /// finish is kept and the others are dropped after their request. They must not wait for
    /// one another instead: a guest task that sleeps on another Rust task (an async mutex)
    /// traps the instance under wit-bindgen's default features. Concurrent migrations are
    /// safe, see [`migrate`].
    pub async fn get(&self) -> Result<Rc<Connection>, StorageFailure> {
        if let Some(connection) = self.cached() {
            return Ok(connection);
        }
        let connection = Rc::new(Connection::open(self.label).await?);
        migrate(&connection, self.migrations).await?;
        if let Some(winner) = self.cached() {
            return Ok(winner);
        }
        self.connection.replace(Some(Rc::clone(&connection)));
        Ok(connection)
    }

    /// Drops the cached connection, so the next request opens a fresh one. Called when the
    /// host reports the handle invalid.
    pub fn forget(&self) {
        self.connection.replace(None);
    }

    fn cached(&self) -> Option<Rc<Connection>> {
        self.connection.borrow().clone()
    }

    /// Runs an upsert whose statement ends in `RETURNING revision`, where `revision` starts at
    /// 1 on insert and grows on each update: 1 means the row was created.
    pub async fn upsert(
        &self,
        sql: &str,
        parameters: impl IntoIterator<Item = Value>,
    ) -> Result<Stored, StorageFailure> {
        let rows = self.query(sql, parameters).await?;
        let revision: i64 = rows
            .first()
            .map(|row| column(row, 0))
            .transpose()?
            .ok_or_else(|| StorageFailure("the upsert returned no revision".into()))?;
        Ok(if revision == 1 {
            Stored::Created
        } else {
            Stored::Replaced
        })
    }

    /// Runs one statement and collects its rows; forgets the connection if the host says it
    /// is no longer valid.
    pub async fn query(
        &self,
        sql: &str,
        parameters: impl IntoIterator<Item = Value>,
    ) -> Result<Vec<RowResult>, StorageFailure> {
        let connection = self.get().await?;
        match query(&connection, sql, parameters).await {
            Err(Error::InvalidConnection) => {
                self.forget();
                Err(Error::InvalidConnection.into())
            }
            other => other.map_err(StorageFailure::from),
        }
    }
}

/// Runs one statement on `connection` and collects its rows.
pub async fn query(
    connection: &Connection,
    sql: &str,
    parameters: impl IntoIterator<Item = Value>,
) -> Result<Vec<RowResult>, Error> {
    connection.execute(sql, parameters).await?.collect().await
}

/// Brings the schema up to the last migration, in one transaction. `BEGIN IMMEDIATE` takes the
/// write lock first, so two instances starting together apply each migration once: the second
/// re-reads `user_version` inside its transaction and finds nothing left to do.
async fn migrate(connection: &Connection, migrations: &[Migration]) -> Result<(), StorageFailure> {
    let latest = migrations.last().map_or(0, |migration| migration.version);
    if user_version(connection).await? >= latest {
        return Ok(());
    }
    query(connection, "BEGIN IMMEDIATE", []).await?;
    match apply_pending(connection, migrations).await {
        Ok(()) => Ok(query(connection, "COMMIT", []).await.map(drop)?),
        Err(failure) => {
            if let Err(error) = query(connection, "ROLLBACK", []).await {
                eprintln!("rolling back a failed migration failed too: {error:?}");
            }
            Err(failure)
        }
    }
}

async fn apply_pending(
    connection: &Connection,
    migrations: &[Migration],
) -> Result<(), StorageFailure> {
    let current = user_version(connection).await?;
    for migration in migrations.iter().filter(|m| m.version > current) {
        for statement in migration.statements {
            query(connection, statement, []).await.map_err(|error| {
                StorageFailure(format!(
                    "migration {} ({}): {error:?}",
                    migration.version, migration.name
                ))
            })?;
        }
        // PRAGMA takes no parameters; the version is our own integer.
        let pragma = format!("PRAGMA user_version = {}", migration.version);
        query(connection, &pragma, []).await?;
    }
    Ok(())
}

async fn user_version(connection: &Connection) -> Result<u32, StorageFailure> {
    let rows = query(connection, "PRAGMA user_version", []).await?;
    rows.first()
        .and_then(|row| row.get::<u32>(0))
        .ok_or_else(|| StorageFailure("PRAGMA user_version returned no integer".into()))
}

/// Typed column access that turns a missing or mistyped column into a [`StorageFailure`]
/// instead of a panic.
pub fn column<'a, T: TryFrom<&'a Value>>(
    row: &'a RowResult,
    index: usize,
) -> Result<T, StorageFailure> {
    row.get(index).ok_or_else(|| {
        StorageFailure(format!(
            "column {index} is missing or has an unexpected type"
        ))
    })
}

/// Checks that migrations are numbered 1, 2, 3... so a gap or a reordering is caught by a unit
/// test rather than by a production database.
pub fn versions_are_consecutive(migrations: &[Migration]) -> bool {
    migrations
        .iter()
        .enumerate()
        .all(|(index, migration)| migration.version as usize == index + 1)
}
