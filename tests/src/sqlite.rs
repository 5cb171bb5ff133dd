//! `spin:sqlite/sqlite@3.1.0` on real SQLite, opened the way Spin's in-process backend
//! (`spin-sqlite-inproc`, rusqlite 0.34 bundled) opens it, because what the write benchmark
//! shows must be what Spin will do (`docs/spin-facts.md`, "Storage"):
//!
//! - every guest `open` is its own connection, and the file is opened on the connection's first
//!   statement, not by `open`;
//! - the connection has rusqlite's defaults (a 5 s busy timeout, foreign keys on, synchronous
//!   FULL, the rollback journal unless the file says WAL) and the host runs no pragma of its own;
//! - statements are prepared through the connection's statement cache and run on a blocking
//!   thread holding the connection's lock, so one connection runs one statement at a time;
//! - a statement's error reaches the guest through the completion of its row stream, after
//!   empty columns, while a file that fails to open fails `execute` itself;
//! - `ATTACH` of another file is denied (an in-memory or temporary database is allowed).
//!
//! Unlike Spin, rows are collected before they are handed to the guest (Spin streams them while
//! holding the connection's lock); the results here are a few rows, so nothing waits longer.
//!
//! A `libsql` database is reached as Spin's `spin-sqlite-libsql` reaches it: with the same
//! client crate (`libsql` 0.5, remote only), one client connection per guest connection,
//! created by its first statement, each statement one `query` on it; a statement's error is
//! `Error::Io` with the client's text, through the row stream's completion.

use crate::bindings::sqlite::{self, Error, QueryResult, RowResult, Value};
use crate::component::ComponentStats;
use crate::state::{SpinHost, SpinView};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::OnceCell;
use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

/// Where a granted database lives.
#[derive(Debug, Clone)]
pub enum Database {
    File(PathBuf),
    LibSql { url: String, token: String },
}

/// One guest connection: the database it names and, once a statement ran, the SQLite
/// connection to its file or the libSQL client connection to its server.
pub struct GuestConnection {
    label: String,
    database: Database,
    opened: OnceLock<Arc<OpenFile>>,
    remote: OnceCell<libsql::Connection>,
    /// The component's count of open files, which this connection's file joins.
    files: Arc<AtomicUsize>,
    /// Statements of this connection started and not yet finished.
    in_flight: AtomicUsize,
}

/// A SQLite connection to a database file, counted among its component's open files until it
/// has closed: SQLite's close may checkpoint the log, and a test that waits for the files to
/// close must not see them closed before that is done.
#[derive(Debug)]
struct OpenFile {
    connection: Mutex<rusqlite::Connection>,
    /// Dropped after `connection` (fields drop in order), so the count falls once closed.
    _counted: Counted,
}

#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(counter))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Ends a statement's time in flight on its connection, however the statement ends.
struct InFlight(Arc<GuestConnection>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The resource behind a guest's `connection` handle.
pub struct ConnectionHandle {
    connection: Arc<GuestConnection>,
}

/// What a live guest connection runs with, read by a test without changing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    pub label: String,
    /// `PRAGMA journal_mode`: `delete` (SQLite's default) or `wal`, among others.
    pub journal_mode: String,
    /// `PRAGMA synchronous`: 0 OFF, 1 NORMAL, 2 FULL (the default), 3 EXTRA.
    pub synchronous: i64,
}

impl std::fmt::Debug for GuestConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestConnection")
            .field("label", &self.label)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl GuestConnection {
    fn new(label: String, database: Database, files: Arc<AtomicUsize>) -> Self {
        Self {
            label,
            database,
            opened: OnceLock::new(),
            remote: OnceCell::new(),
            files,
            in_flight: AtomicUsize::new(0),
        }
    }

    /// The SQLite connection, opened on first use. Two statements racing to open it may both
    /// open one; the first stored is kept, as in Spin.
    fn sqlite(&self) -> Result<Arc<OpenFile>, Error> {
        if let Some(file) = self.opened.get() {
            return Ok(Arc::clone(file));
        }
        let Database::File(path) = &self.database else {
            return Err(Error::Io("not a local database".into()));
        };
        let connection = rusqlite::Connection::open(path).map_err(|e| Error::Io(e.to_string()))?;
        connection.authorizer(Some(deny_attaching_files));
        let file = Arc::new(OpenFile {
            connection: Mutex::new(connection),
            _counted: Counted::new(&self.files),
        });
        Ok(Arc::clone(self.opened.get_or_init(|| file)))
    }

    /// The settings of the connection if it has been opened; reading these pragmas changes
    /// nothing.
    fn settings(&self) -> Option<ConnectionSettings> {
        let connection = self.opened.get()?.connection.lock().ok()?;
        let journal_mode = connection
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .ok()?;
        let synchronous = connection
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .ok()?;
        Some(ConnectionSettings {
            label: self.label.clone(),
            journal_mode,
            synchronous,
        })
    }
}

/// Spin's default for a `spin` database: no `ATTACH` of a file (`allow_attach_file = false`).
fn deny_attaching_files(context: AuthContext<'_>) -> Authorization {
    match context.action {
        AuthAction::Attach { filename } if !matches!(filename, "" | ":memory:") => {
            Authorization::Deny
        }
        _ => Authorization::Allow,
    }
}

/// The guest connections of one component that are still open, for tests to inspect.
#[derive(Debug, Default)]
pub struct OpenConnections {
    guests: Mutex<Vec<std::sync::Weak<GuestConnection>>>,
    files: Arc<AtomicUsize>,
}

impl OpenConnections {
    /// A new guest connection to `database`, tracked.
    fn open(&self, label: String, database: Database) -> Arc<GuestConnection> {
        let connection = Arc::new(GuestConnection::new(
            label,
            database,
            Arc::clone(&self.files),
        ));
        if let Ok(mut guests) = self.guests.lock() {
            guests.retain(|weak| weak.strong_count() > 0);
            guests.push(Arc::downgrade(&connection));
        }
        connection
    }

    /// How many database files the component's connections hold open; a file counts until
    /// SQLite has closed it.
    pub fn open_files(&self) -> usize {
        self.files.load(Ordering::SeqCst)
    }

    /// The settings of every open guest connection that has run a statement.
    pub fn settings(&self) -> Vec<ConnectionSettings> {
        let open: Vec<Arc<GuestConnection>> = match self.guests.lock() {
            Ok(open) => open.iter().filter_map(std::sync::Weak::upgrade).collect(),
            Err(_) => Vec::new(),
        };
        open.iter().filter_map(|c| c.settings()).collect()
    }
}

fn to_sql(value: Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as Sql;
    match value {
        Value::Integer(i) => Sql::Integer(i),
        Value::Real(r) => Sql::Real(r),
        Value::Text(t) => Sql::Text(t),
        Value::Blob(b) => Sql::Blob(b),
        Value::Null => Sql::Null,
    }
}

fn from_sql(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        ValueRef::Null => Value::Null,
    }
}

/// Runs one statement and collects its columns and rows. A string holding several statements
/// is an error, as in Spin (rusqlite prepares one statement).
fn execute(
    connection: &rusqlite::Connection,
    statement: &str,
    parameters: Vec<Value>,
) -> Result<QueryResult, Error> {
    let io = |e: rusqlite::Error| Error::Io(e.to_string());
    let mut prepared = connection.prepare_cached(statement).map_err(io)?;
    let columns: Vec<String> = prepared
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let parameters: Vec<rusqlite::types::Value> = parameters.into_iter().map(to_sql).collect();
    let mut rows = prepared
        .query(rusqlite::params_from_iter(parameters))
        .map_err(io)?;
    let mut results = Vec::new();
    while let Some(row) = rows.next().map_err(io)? {
        let values = (0..columns.len())
            .map(|i| row.get_ref(i).map(from_sql).map_err(io))
            .collect::<Result<Vec<_>, _>>()?;
        results.push(RowResult { values });
    }
    Ok(QueryResult {
        columns,
        rows: results,
    })
}

/// Runs `work` on a blocking thread holding the connection's lock, opening the file first if
/// this is the connection's first statement.
async fn on_blocking_thread<R: Send + 'static>(
    connection: Arc<GuestConnection>,
    work: impl FnOnce(&rusqlite::Connection) -> Result<R, Error> + Send + 'static,
) -> Result<R, Error> {
    tokio::task::spawn_blocking(move || {
        let file = connection.sqlite()?;
        let connection = file
            .connection
            .lock()
            .map_err(|_| Error::Io("connection lock poisoned".into()))?;
        work(&connection)
    })
    .await
    .unwrap_or_else(|e| Err(Error::Io(e.to_string())))
}

impl GuestConnection {
    /// The libSQL client connection, created by the first statement; Spin answers
    /// `InvalidConnection` when the client cannot be built (no request is sent to build it).
    async fn remote(&self) -> Result<&libsql::Connection, Error> {
        let Database::LibSql { url, token } = &self.database else {
            return Err(Error::Io("not a libSQL database".into()));
        };
        self.remote
            .get_or_try_init(|| async {
                let database = libsql::Builder::new_remote(url.clone(), token.clone())
                    .build()
                    .await?;
                database.connect()
            })
            .await
            .map_err(|_| Error::InvalidConnection)
    }

    /// Runs one statement where the database lives. The outer error is the connection failing
    /// to open (an error of `execute` itself), the inner one the statement's own.
    async fn run(
        self: Arc<Self>,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<Result<QueryResult, Error>, Error> {
        match &self.database {
            Database::File(_) => {
                on_blocking_thread(self, move |c| Ok(execute(c, &statement, parameters))).await
            }
            Database::LibSql { .. } => {
                let remote = self.remote().await?;
                Ok(execute_remote(remote, &statement, parameters).await)
            }
        }
    }

    async fn last_insert_rowid(self: Arc<Self>) -> Result<i64, Error> {
        match &self.database {
            Database::File(_) => on_blocking_thread(self, |c| Ok(c.last_insert_rowid())).await,
            Database::LibSql { .. } => Ok(self.remote().await?.last_insert_rowid()),
        }
    }

    async fn changes(self: Arc<Self>) -> Result<u64, Error> {
        match &self.database {
            Database::File(_) => on_blocking_thread(self, |c| Ok(c.changes())).await,
            Database::LibSql { .. } => Ok(self.remote().await?.changes()),
        }
    }
}

/// Runs one statement on a libSQL server and collects its columns and rows, converting values
/// as Spin's backend does.
async fn execute_remote(
    connection: &libsql::Connection,
    statement: &str,
    parameters: Vec<Value>,
) -> Result<QueryResult, Error> {
    let io = |e: libsql::Error| Error::Io(e.to_string());
    let parameters: Vec<libsql::Value> = parameters
        .into_iter()
        .map(|value| match value {
            Value::Integer(i) => libsql::Value::Integer(i),
            Value::Real(r) => libsql::Value::Real(r),
            Value::Text(t) => libsql::Value::Text(t),
            Value::Blob(b) => libsql::Value::Blob(b),
            Value::Null => libsql::Value::Null,
        })
        .collect();
    let mut rows = connection.query(statement, parameters).await.map_err(io)?;
    let columns: Vec<String> = (0..rows.column_count())
        .map(|i| rows.column_name(i).unwrap_or("").to_owned())
        .collect();
    let mut results = Vec::new();
    while let Some(row) = rows.next().await.map_err(io)? {
        let values = (0..rows.column_count())
            .map(|i| {
                row.get_value(i).map_err(io).map(|value| match value {
                    libsql::Value::Null => Value::Null,
                    libsql::Value::Integer(i) => Value::Integer(i),
                    libsql::Value::Real(r) => Value::Real(r),
                    libsql::Value::Text(t) => Value::Text(t),
                    libsql::Value::Blob(b) => Value::Blob(b),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        results.push(RowResult { values });
    }
    Ok(QueryResult {
        columns,
        rows: results,
    })
}

/// Blocks this thread on `work` (the synchronous interface on a libSQL database).
fn block_on<R>(work: impl std::future::Future<Output = R>) -> R {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(work))
}

impl SpinView<'_> {
    /// A new guest connection to `label`, or access-denied: Spin gives that both for a label
    /// not granted and for one that does not exist (`docs/spin-facts.md`).
    fn open_database(&self, label: String) -> Result<ConnectionHandle, Error> {
        let database = self.state.component.sqlite_databases.get(&label).cloned();
        let database = database.ok_or(Error::AccessDenied)?;
        ComponentStats::count(&self.state.stats.sqlite_opens);
        let connection = self.state.stats.sqlite_connections.open(label, database);
        Ok(ConnectionHandle { connection })
    }

    /// The connection behind `handle`, for running one statement (counted).
    fn statement_connection(
        &self,
        handle: &Resource<ConnectionHandle>,
    ) -> wasmtime::Result<Arc<GuestConnection>> {
        self.state.stats.statement()?;
        self.connection(handle)
    }

    fn connection(
        &self,
        handle: &Resource<ConnectionHandle>,
    ) -> wasmtime::Result<Arc<GuestConnection>> {
        Ok(Arc::clone(&self.table.get(handle)?.connection))
    }
}

impl sqlite::Host for SpinView<'_> {}

/// Runs `work` on this thread holding the connection's lock (the synchronous interface).
fn on_this_thread<R>(
    connection: &GuestConnection,
    work: impl FnOnce(&rusqlite::Connection) -> R,
) -> Result<R, Error> {
    let file = connection.sqlite()?;
    let connection = file
        .connection
        .lock()
        .map_err(|_| Error::Io("connection lock poisoned".into()))?;
    Ok(work(&connection))
}

impl sqlite::HostConnection for SpinView<'_> {
    fn open(
        &mut self,
        database: String,
    ) -> wasmtime::Result<Result<Resource<ConnectionHandle>, Error>> {
        match self.open_database(database) {
            Ok(handle) => Ok(Ok(self.table.push(handle)?)),
            Err(error) => Ok(Err(error)),
        }
    }

    fn execute(
        &mut self,
        handle: Resource<ConnectionHandle>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let connection = self.statement_connection(&handle)?;
        if matches!(connection.database, Database::LibSql { .. }) {
            return Ok(block_on(connection.run(statement, parameters)).and_then(|r| r));
        }
        Ok(on_this_thread(&connection, |c| execute(c, &statement, parameters)).and_then(|r| r))
    }

    fn last_insert_rowid(&mut self, handle: Resource<ConnectionHandle>) -> wasmtime::Result<i64> {
        let connection = self.connection(&handle)?;
        block_on(connection.last_insert_rowid()).map_err(|e| wasmtime::format_err!("{e:?}"))
    }

    fn changes(&mut self, handle: Resource<ConnectionHandle>) -> wasmtime::Result<u64> {
        let connection = self.connection(&handle)?;
        block_on(connection.changes()).map_err(|e| wasmtime::format_err!("{e:?}"))
    }

    fn drop(&mut self, handle: Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl<T> sqlite::HostConnectionWithStore<T> for SpinHost {
    async fn open_async(
        accessor: &Accessor<T, Self>,
        database: String,
    ) -> wasmtime::Result<Result<Resource<ConnectionHandle>, Error>> {
        accessor.with(|mut access| {
            let view = access.get();
            match view.open_database(database) {
                Ok(handle) => Ok(Ok(view.table.push(handle)?)),
                Err(error) => Ok(Err(error)),
            }
        })
    }

    #[allow(clippy::type_complexity)]
    async fn execute_async(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<
        Result<
            (
                Vec<String>,
                StreamReader<RowResult>,
                FutureReader<Result<(), Error>>,
            ),
            Error,
        >,
    > {
        let (connection, pause, stats) = accessor.with(|mut access| {
            let view = access.get();
            let pause = view.state.stats.statement_pause(&statement);
            let stats = Arc::clone(&view.state.stats);
            view.statement_connection(&handle)
                .map(|c| (c, pause, stats))
        })?;
        let overlapping = connection.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        stats
            .max_statements_per_connection
            .fetch_max(overlapping, Ordering::SeqCst);
        let _finished = InFlight(Arc::clone(&connection));
        if let Some(pause) = pause {
            pause.await;
        }
        // The outer error is the file failing to open (an error of `execute` itself); a
        // statement's own error reaches the guest through the completion future after empty
        // columns and rows, as Spin streams it (`docs/spin-facts.md`, "Storage").
        let result = connection.run(statement, parameters).await;
        let (columns, rows, outcome) = match result {
            Err(error) => return Ok(Err(error)),
            Ok(Ok(QueryResult { columns, rows })) => (columns, rows, Ok(())),
            Ok(Err(error)) => (Vec::new(), Vec::new(), Err(error)),
        };
        accessor.with(|mut access| {
            let rows = StreamReader::new(&mut access, rows)?;
            let done = FutureReader::new(&mut access, async { Ok::<_, wasmtime::Error>(outcome) })?;
            Ok(Ok((columns, rows, done)))
        })
    }

    async fn last_insert_rowid_async(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
    ) -> wasmtime::Result<i64> {
        let connection = accessor.with(|mut access| access.get().connection(&handle))?;
        connection
            .last_insert_rowid()
            .await
            .map_err(|e| wasmtime::format_err!("{e:?}"))
    }

    async fn changes_async(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
    ) -> wasmtime::Result<u64> {
        let connection = accessor.with(|mut access| access.get().connection(&handle))?;
        connection
            .changes()
            .await
            .map_err(|e| wasmtime::format_err!("{e:?}"))
    }
}
