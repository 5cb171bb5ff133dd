//! `spin:sqlite/sqlite@3.1.0` on real SQLite (rusqlite, bundled). As in Spin, every guest
//! `open` is a new SQLite connection to the database's file.

use crate::bindings::sqlite::{self, Error, QueryResult, RowResult, Value};
use crate::component::ComponentStats;
use crate::state::{SpinHost, SpinView};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

/// The resource behind a guest's `connection` handle.
pub struct ConnectionHandle {
    connection: Arc<Mutex<rusqlite::Connection>>,
}

fn open_file(path: &Path) -> Result<ConnectionHandle, Error> {
    let connection = rusqlite::Connection::open(path).map_err(|e| Error::Io(e.to_string()))?;
    Ok(ConnectionHandle {
        connection: Arc::new(Mutex::new(connection)),
    })
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
    let mut prepared = connection.prepare(statement).map_err(io)?;
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

async fn on_blocking_thread<R: Send + 'static>(
    connection: Arc<Mutex<rusqlite::Connection>>,
    work: impl FnOnce(&rusqlite::Connection) -> Result<R, Error> + Send + 'static,
) -> Result<R, Error> {
    tokio::task::spawn_blocking(move || {
        let connection = connection
            .lock()
            .map_err(|_| Error::Io("connection lock poisoned".into()))?;
        work(&connection)
    })
    .await
    .unwrap_or_else(|e| Err(Error::Io(e.to_string())))
}

impl SpinView<'_> {
    /// The database file for `label`, or access-denied: Spin gives that both for a label not
    /// granted and for one that does not exist (`docs/spin-facts.md`).
    fn database(&self, label: &str) -> Result<PathBuf, Error> {
        let path = self.state.component.sqlite_databases.get(label).cloned();
        let path = path.ok_or(Error::AccessDenied)?;
        ComponentStats::count(&self.state.stats.sqlite_opens);
        Ok(path)
    }

    /// The connection behind `handle`, for running one statement (counted).
    fn statement_connection(
        &self,
        handle: &Resource<ConnectionHandle>,
    ) -> wasmtime::Result<Arc<Mutex<rusqlite::Connection>>> {
        ComponentStats::count(&self.state.stats.sqlite_statements);
        self.connection(handle)
    }

    fn connection(
        &self,
        handle: &Resource<ConnectionHandle>,
    ) -> wasmtime::Result<Arc<Mutex<rusqlite::Connection>>> {
        Ok(Arc::clone(&self.table.get(handle)?.connection))
    }
}

impl sqlite::Host for SpinView<'_> {}

impl sqlite::HostConnection for SpinView<'_> {
    fn open(
        &mut self,
        database: String,
    ) -> wasmtime::Result<Result<Resource<ConnectionHandle>, Error>> {
        match self.database(&database).and_then(|path| open_file(&path)) {
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
        let connection = connection
            .lock()
            .map_err(|_| wasmtime::format_err!("connection lock poisoned"))?;
        Ok(execute(&connection, &statement, parameters))
    }

    fn last_insert_rowid(&mut self, handle: Resource<ConnectionHandle>) -> wasmtime::Result<i64> {
        let connection = self.connection(&handle)?;
        let connection = connection
            .lock()
            .map_err(|_| wasmtime::format_err!("connection lock poisoned"))?;
        Ok(connection.last_insert_rowid())
    }

    fn changes(&mut self, handle: Resource<ConnectionHandle>) -> wasmtime::Result<u64> {
        let connection = self.connection(&handle)?;
        let connection = connection
            .lock()
            .map_err(|_| wasmtime::format_err!("connection lock poisoned"))?;
        Ok(connection.changes())
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
        let path = match accessor.with(|mut access| access.get().database(&database)) {
            Ok(path) => path,
            Err(error) => return Ok(Err(error)),
        };
        let opened = tokio::task::spawn_blocking(move || open_file(&path))
            .await
            .unwrap_or_else(|e| Err(Error::Io(e.to_string())));
        match opened {
            Ok(handle) => accessor.with(|mut access| Ok(Ok(access.get().table.push(handle)?))),
            Err(error) => Ok(Err(error)),
        }
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
        let connection = accessor.with(|mut access| access.get().statement_connection(&handle))?;
        let result =
            on_blocking_thread(connection, move |c| execute(c, &statement, parameters)).await;
        let QueryResult { columns, rows } = match result {
            Ok(result) => result,
            Err(error) => return Ok(Err(error)),
        };
        accessor.with(|mut access| {
            let rows = StreamReader::new(&mut access, rows)?;
            let done = FutureReader::new(&mut access, async { Ok::<_, wasmtime::Error>(Ok(())) })?;
            Ok(Ok((columns, rows, done)))
        })
    }

    async fn last_insert_rowid_async(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
    ) -> wasmtime::Result<i64> {
        let connection = accessor.with(|mut access| access.get().connection(&handle))?;
        on_blocking_thread(connection, |c| Ok(c.last_insert_rowid()))
            .await
            .map_err(|e| wasmtime::format_err!("{e:?}"))
    }

    async fn changes_async(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
    ) -> wasmtime::Result<u64> {
        let connection = accessor.with(|mut access| access.get().connection(&handle))?;
        on_blocking_thread(connection, |c| Ok(c.changes()))
            .await
            .map_err(|e| wasmtime::format_err!("{e:?}"))
    }
}
