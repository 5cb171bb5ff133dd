//! `spin:key-value/key-value@3.0.0` on SQLite files, like Spin's `spin` store type, or on a
//! Redis server, like its `redis` type (`spin-key-value-redis`: one connection manager per
//! store, opened by the first `open`; `GET`, `SET`, `DEL`, `EXISTS`, and `SCAN` for the keys;
//! the label is not part of the key, so labels on one server share their keys).

use crate::bindings::key_value::{self, Error};
use crate::component::ComponentStats;
use crate::state::{SpinHost, SpinView};
use anyhow::Context;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use rusqlite::OptionalExtension;
use std::path::Path;
use std::sync::{Arc, Mutex};
use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

/// One declared store, shared by every instance, as in Spin.
pub enum KeyValueBackend {
    File(Mutex<rusqlite::Connection>),
    Redis {
        client: redis::Client,
        connection: tokio::sync::OnceCell<ConnectionManager>,
    },
}

/// Spin reports a backend's failure as `Error::Other` with the error's text.
fn other(error: impl std::fmt::Display) -> Error {
    Error::Other(error.to_string())
}

impl KeyValueBackend {
    pub fn open(path: &Path) -> anyhow::Result<Arc<Self>> {
        let connection = rusqlite::Connection::open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        connection.execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                PRIMARY KEY (store, key))",
            [],
        )?;
        Ok(Arc::new(Self::File(Mutex::new(connection))))
    }

    /// A Redis store; Spin checks the URL at start and connects on the first `open`.
    pub fn redis(url: &str) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url).context("Invalid Redis URL")?;
        Ok(Arc::new(Self::Redis {
            client,
            connection: tokio::sync::OnceCell::new(),
        }))
    }

    /// Connects a Redis store if it never has; a failure fails the guest's `open`, as in Spin.
    async fn ready(&self) -> Result<(), Error> {
        if let Self::Redis { client, connection } = self {
            connection
                .get_or_try_init(|| client.get_connection_manager())
                .await
                .map_err(other)?;
        }
        Ok(())
    }

    /// Runs `work` where Spin runs its `spin` store's calls: on the worker thread itself, inside
    /// `block_in_place`, which hands the thread's scheduler core to another thread while the
    /// call blocks. The component may then go on without a core, so what it wakes (the
    /// connection's task, when the response is ready) runs at once elsewhere: the hazard that
    /// `service_kit::host_turn` answers, kept here so that the test host does not hide it.
    async fn run<R: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, Error> {
        let Self::File(connection) = &**self else {
            return Err(Error::Other("not a file store".into()));
        };
        tokio::task::block_in_place(|| {
            let connection = connection
                .lock()
                .map_err(|_| Error::Other("store lock poisoned".into()))?;
            work(&connection).map_err(other)
        })
    }

    /// The Redis connection of a store `open` connected.
    fn redis_connection(&self) -> Option<Result<ConnectionManager, Error>> {
        match self {
            Self::File(_) => None,
            Self::Redis { connection, .. } => Some(
                connection
                    .get()
                    .cloned()
                    .ok_or_else(|| Error::Other("store not connected".into())),
            ),
        }
    }

    async fn get(self: &Arc<Self>, label: String, key: String) -> Result<Option<Vec<u8>>, Error> {
        if let Some(connection) = self.redis_connection() {
            return connection?.get(key).await.map_err(other);
        }
        self.run(move |c| {
            c.query_row(
                "SELECT value FROM spin_key_value WHERE store = ? AND key = ?",
                [&label, &key],
                |row| row.get(0),
            )
            .optional()
        })
        .await
    }

    async fn set(
        self: &Arc<Self>,
        label: String,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), Error> {
        if let Some(connection) = self.redis_connection() {
            return connection?.set(key, value).await.map_err(other);
        }
        self.run(move |c| {
            c.execute(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?, ?, ?)
                 ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                rusqlite::params![label, key, value],
            )
            .map(drop)
        })
        .await
    }

    async fn delete(self: &Arc<Self>, label: String, key: String) -> Result<(), Error> {
        if let Some(connection) = self.redis_connection() {
            return connection?.del(key).await.map_err(other);
        }
        self.run(move |c| {
            c.execute(
                "DELETE FROM spin_key_value WHERE store = ? AND key = ?",
                [&label, &key],
            )
            .map(drop)
        })
        .await
    }

    async fn exists(self: &Arc<Self>, label: String, key: String) -> Result<bool, Error> {
        if let Some(connection) = self.redis_connection() {
            return connection?.exists(key).await.map_err(other);
        }
        self.run(move |c| {
            c.query_row(
                "SELECT 1 FROM spin_key_value WHERE store = ? AND key = ?",
                [&label, &key],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
        })
        .await
    }

    async fn keys(self: &Arc<Self>, label: String) -> Result<Vec<String>, Error> {
        if let Some(connection) = self.redis_connection() {
            let mut connection = connection?;
            let mut scan = connection.scan::<String>().await.map_err(other)?;
            let mut keys = Vec::new();
            while let Some(key) = scan.next_item().await {
                keys.push(key);
            }
            return Ok(keys);
        }
        self.run(move |c| {
            let mut statement =
                c.prepare("SELECT key FROM spin_key_value WHERE store = ? ORDER BY key")?;
            let rows = statement.query_map([&label], |row| row.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }
}

/// The resource behind a guest's `store` handle.
pub struct StoreHandle {
    label: String,
    backend: Arc<KeyValueBackend>,
}

impl key_value::Host for SpinView<'_> {}

impl key_value::HostStore for SpinView<'_> {
    fn drop(&mut self, store: Resource<StoreHandle>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

/// Whether an operation reads or changes the store, for the component's cost counters.
#[derive(Clone, Copy)]
enum Access {
    Read,
    Write,
}

/// The store behind `store`, counting the operation about to run on it.
fn handle<T>(
    accessor: &Accessor<T, SpinHost>,
    store: &Resource<StoreHandle>,
    access_kind: Access,
) -> wasmtime::Result<(String, Arc<KeyValueBackend>)> {
    accessor.with(|mut access| {
        let view = access.get();
        let stats = &view.state.stats;
        ComponentStats::count(match access_kind {
            Access::Read => &stats.key_value_reads,
            Access::Write => &stats.key_value_writes,
        });
        let handle = view.table.get(store)?;
        Ok((handle.label.clone(), Arc::clone(&handle.backend)))
    })
}

impl<T> key_value::HostStoreWithStore<T> for SpinHost {
    async fn open(
        accessor: &Accessor<T, Self>,
        label: String,
    ) -> wasmtime::Result<Result<Resource<StoreHandle>, Error>> {
        // Spin answers access-denied both for a label not granted and one that does not
        // exist (`docs/spin-facts.md`); granted labels were checked to exist at load.
        let backend = accessor.with(|mut access| {
            let view = access.get();
            let backend = view.state.key_value_store(&label);
            if backend.is_some() {
                ComponentStats::count(&view.state.stats.key_value_opens);
            }
            backend
        });
        let Some(backend) = backend else {
            return Ok(Err(Error::AccessDenied));
        };
        if let Err(error) = backend.ready().await {
            return Ok(Err(error));
        }
        accessor.with(|mut access| {
            let handle = access.get().table.push(StoreHandle { label, backend })?;
            Ok(Ok(handle))
        })
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        store: Resource<StoreHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let (label, backend) = handle(accessor, &store, Access::Read)?;
        Ok(backend.get(label, key).await)
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        store: Resource<StoreHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let (label, backend) = handle(accessor, &store, Access::Write)?;
        Ok(backend.set(label, key, value).await)
    }

    async fn delete(
        accessor: &Accessor<T, Self>,
        store: Resource<StoreHandle>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        let (label, backend) = handle(accessor, &store, Access::Write)?;
        Ok(backend.delete(label, key).await)
    }

    async fn exists(
        accessor: &Accessor<T, Self>,
        store: Resource<StoreHandle>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        let (label, backend) = handle(accessor, &store, Access::Read)?;
        Ok(backend.exists(label, key).await)
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        store: Resource<StoreHandle>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), Error>>)> {
        let (label, backend) = handle(accessor, &store, Access::Read)?;
        let keys = backend.keys(label).await;
        accessor.with(|mut access| {
            let (keys, outcome) = match keys {
                Ok(keys) => (keys, Ok(())),
                Err(error) => (Vec::new(), Err(error)),
            };
            let stream = StreamReader::new(&mut access, keys)?;
            let future =
                FutureReader::new(
                    &mut access,
                    async move { Ok::<_, wasmtime::Error>(outcome) },
                )?;
            Ok((stream, future))
        })
    }
}
