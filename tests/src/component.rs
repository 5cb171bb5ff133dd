//! One component of the app, whatever triggers it: its grants, its compiled and linked code,
//! its log and its counters, and the store every new instance of it starts from. Triggers
//! (`crate::triggers`) decide when instances are made and what is called on them.

use crate::allowed_hosts::AllowedHosts;
use crate::key_value::KeyValueBackend;
use crate::logs::ComponentLog;
use crate::outbound::{Chain, OutboundHooks};
use crate::profiler::Sampling;
use crate::sqlite::{Database, OpenConnections};
use crate::state::{HostState, MemoryWatch, SpinState};
use crate::variables::ComponentVariables;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasmtime::component::{InstancePre, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpCtx;

/// What one component may do, fixed when the app loads.
pub struct ComponentConfig {
    pub id: String,
    /// Granted key-value labels and their backends.
    pub key_value_stores: HashMap<String, Arc<KeyValueBackend>>,
    /// Granted SQLite labels and where each database lives.
    pub sqlite_databases: HashMap<String, Database>,
    pub allowed_hosts: AllowedHosts,
    pub variables: ComponentVariables,
}

/// Counters a test can read to see what a component cost: instances, and host calls made.
#[derive(Debug, Default)]
pub struct ComponentStats {
    pub instantiated: AtomicUsize,
    pub trapped: AtomicUsize,
    pub sqlite_opens: AtomicUsize,
    pub sqlite_statements: AtomicUsize,
    pub key_value_opens: AtomicUsize,
    /// `get`, `exists` and `get-keys` calls on an open store.
    pub key_value_reads: AtomicUsize,
    /// `set` and `delete` calls on an open store.
    pub key_value_writes: AtomicUsize,
    pub outbound_requests: AtomicUsize,
    /// Outbound Redis connections opened (allowed or not).
    pub redis_opens: AtomicUsize,
    /// Outbound Redis commands sent on an open connection (`execute`, `publish`, ...).
    pub redis_commands: AtomicUsize,
    /// Outbound requests answered `304 Not Modified` (a revalidation without a body).
    pub outbound_not_modified: AtomicUsize,
    /// Fault injection: when set to n > 0, the component's n-th SQLite statement from now
    /// traps its instance instead of running (then it is off again). What a crash mid-write
    /// does, on demand.
    pub trap_at_sqlite_statement: AtomicUsize,
    /// The component's open SQLite connections, whose settings a test may read.
    pub sqlite_connections: OpenConnections,
    /// The most statements that were ever in flight on one guest connection at once. Spin's
    /// local backend runs them one after another, but its `libsql` backend cannot: a libSQL
    /// connection is one Hrana stream, and statements interleaved on it wedged the server
    /// under Spin 4.1 (`docs/storage.md`). So the components keep it at 1, and tests check.
    pub max_statements_per_connection: AtomicUsize,
    /// The largest linear memory any instance of the component grew to, in bytes (a Wasm
    /// memory never shrinks, so this is the most an instance ever held at once).
    pub peak_memory_bytes: AtomicUsize,
    /// Fault injection: statements to hold before they run (see [`Self::pause_statement`]).
    pub paused_statements: std::sync::Mutex<Vec<StatementPause>>,
}

/// A statement a test holds back: the `occurrence`-th statement (from when it was armed)
/// whose text contains `text` waits until the test releases it, telling the test when it
/// has arrived. What a holder paused mid-job does, on demand.
#[derive(Debug)]
pub struct StatementPause {
    text: String,
    left: usize,
    arrived: Option<tokio::sync::oneshot::Sender<()>>,
    release: Option<tokio::sync::oneshot::Receiver<()>>,
}

/// The test's side of a [`StatementPause`].
pub struct PauseHandle {
    pub arrived: tokio::sync::oneshot::Receiver<()>,
    pub release: tokio::sync::oneshot::Sender<()>,
}

impl ComponentStats {
    pub fn instantiated(&self) -> usize {
        self.instantiated.load(Ordering::SeqCst)
    }

    pub fn trapped(&self) -> usize {
        self.trapped.load(Ordering::SeqCst)
    }

    pub fn sqlite_opens(&self) -> usize {
        self.sqlite_opens.load(Ordering::SeqCst)
    }

    pub fn sqlite_statements(&self) -> usize {
        self.sqlite_statements.load(Ordering::SeqCst)
    }

    pub fn max_statements_per_connection(&self) -> usize {
        self.max_statements_per_connection.load(Ordering::SeqCst)
    }

    pub fn key_value_opens(&self) -> usize {
        self.key_value_opens.load(Ordering::SeqCst)
    }

    pub fn key_value_reads(&self) -> usize {
        self.key_value_reads.load(Ordering::SeqCst)
    }

    pub fn key_value_writes(&self) -> usize {
        self.key_value_writes.load(Ordering::SeqCst)
    }

    pub fn outbound_requests(&self) -> usize {
        self.outbound_requests.load(Ordering::SeqCst)
    }

    pub fn redis_opens(&self) -> usize {
        self.redis_opens.load(Ordering::SeqCst)
    }

    pub fn redis_commands(&self) -> usize {
        self.redis_commands.load(Ordering::SeqCst)
    }

    pub fn outbound_not_modified(&self) -> usize {
        self.outbound_not_modified.load(Ordering::SeqCst)
    }

    /// Makes the `n`-th SQLite statement from now trap its instance (see
    /// [`Self::trap_at_sqlite_statement`]).
    pub fn trap_at_statement(&self, n: usize) {
        self.trap_at_sqlite_statement.store(n, Ordering::SeqCst);
    }

    /// Counts a statement about to run; `Err` when the injected trap is due.
    pub(crate) fn statement(&self) -> wasmtime::Result<()> {
        Self::count(&self.sqlite_statements);
        let due = self
            .trap_at_sqlite_statement
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok_and(|n| n == 1);
        if due {
            wasmtime::bail!("injected trap at a SQLite statement");
        }
        Ok(())
    }

    /// Records that an instance's memory grows to `bytes`.
    pub(crate) fn memory_grown_to(&self, bytes: usize) {
        self.peak_memory_bytes.fetch_max(bytes, Ordering::SeqCst);
    }

    pub fn peak_memory_bytes(&self) -> usize {
        self.peak_memory_bytes.load(Ordering::SeqCst)
    }

    /// Holds the `occurrence`-th SQLite statement from now whose text contains `text` until
    /// the handle's `release` is sent (or dropped); `arrived` fires when it is held.
    pub fn pause_statement(&self, text: &str, occurrence: usize) -> PauseHandle {
        let (arrived_tx, arrived) = tokio::sync::oneshot::channel();
        let (release, release_rx) = tokio::sync::oneshot::channel();
        let pause = StatementPause {
            text: text.to_owned(),
            left: occurrence.max(1),
            arrived: Some(arrived_tx),
            release: Some(release_rx),
        };
        if let Ok(mut pauses) = self.paused_statements.lock() {
            pauses.push(pause);
        }
        PauseHandle { arrived, release }
    }

    /// The wait a statement of `text` must make first, if a pause is due for it.
    pub(crate) fn statement_pause(&self, text: &str) -> Option<impl Future<Output = ()> + use<>> {
        let mut pauses = self.paused_statements.lock().ok()?;
        let index = pauses.iter_mut().position(|pause| {
            text.contains(&pause.text) && {
                pause.left -= 1;
                pause.left == 0
            }
        })?;
        let mut pause = pauses.remove(index);
        if let Some(arrived) = pause.arrived.take() {
            let _ = arrived.send(());
        }
        let release = pause.release.take()?;
        Some(async move {
            let _ = release.await;
        })
    }

    pub(crate) fn count(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

/// A component ready to run: linked against every host interface, but not bound to any
/// export, so a component without `wasi:http/handler` loads as well as one with it.
pub struct ComponentRuntime {
    pub config: Arc<ComponentConfig>,
    pub engine: Engine,
    pub pre: InstancePre<HostState>,
    pub log: ComponentLog,
    pub stats: Arc<ComponentStats>,
    /// Where its `*.spin.internal` requests go.
    pub chain: Chain,
    /// On a profiled app's engine (epoch interruption): what each instance does at a tick.
    pub sampling: Option<Sampling>,
}

impl ComponentRuntime {
    /// A fresh store for one instance: stdout and stderr into the component's log, no
    /// environment, no files, and the component's grants.
    pub fn new_store(&self) -> Store<HostState> {
        let wasi = WasiCtx::builder()
            .stdout(self.log.clone())
            .stderr(self.log.clone())
            .build();
        let state = HostState {
            table: ResourceTable::new(),
            wasi,
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks::new(
                Arc::clone(&self.config),
                self.chain.clone(),
                Arc::clone(&self.stats),
            ),
            spin: SpinState {
                component: Arc::clone(&self.config),
                stats: Arc::clone(&self.stats),
            },
            memory: MemoryWatch {
                stats: Arc::clone(&self.stats),
            },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        if let Some(sampling) = &self.sampling {
            sampling.arm(&mut store);
        }
        store
    }

    /// Counts an instance made from [`Self::new_store`].
    pub fn instantiated(&self) {
        self.stats.instantiated.fetch_add(1, Ordering::SeqCst);
    }

    /// Records that an instance ended with a trap or an error.
    pub fn trapped(&self, error: &wasmtime::Error) {
        self.stats.trapped.fetch_add(1, Ordering::SeqCst);
        self.log
            .note(&format!("instance ended with an error: {error:?}"));
    }
}
