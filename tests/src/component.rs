//! One component of the app: its grants, its compiled code, and a pool of instances managed
//! the way Spin 4.1 manages WASIp3 instances (wasmtime's `ProxyHandler`, which `wasmtime serve`
//! uses too): up to `max_reuse` requests per instance, `max_concurrent` at once, dropped after
//! `idle_timeout` without work, and dropped at once when it traps.

use crate::allowed_hosts::AllowedHosts;
use crate::key_value::KeyValueBackend;
use crate::logs::ComponentLog;
use crate::outbound::{Chain, OutboundHooks};
use crate::state::{HostState, SpinState};
use crate::variables::ComponentVariables;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use wasmtime::component::{GuestTaskId, ResourceTable};
use wasmtime::{Engine, Store, StoreContextMut};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyPre, ShouldAccept, ViewFn, WorkerExpiration, WorkerState,
    WorkerStatus,
};

/// What one component may do, fixed when the app loads.
pub struct ComponentConfig {
    pub id: String,
    /// Granted key-value labels and their backends.
    pub key_value_stores: HashMap<String, Arc<KeyValueBackend>>,
    /// Granted SQLite labels and their files.
    pub sqlite_databases: HashMap<String, PathBuf>,
    pub allowed_hosts: AllowedHosts,
    pub variables: ComponentVariables,
}

/// Instance reuse, as Spin's `--max-instance-reuse-count`,
/// `--max-instance-concurrent-reuse-count` and `--idle-instance-timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceLimits {
    pub max_reuse: usize,
    pub max_concurrent: usize,
    pub idle_timeout: Duration,
}

impl InstanceLimits {
    /// A fresh instance for every request.
    pub const NO_REUSE: Self = Self {
        max_reuse: 1,
        max_concurrent: 1,
        idle_timeout: Duration::from_secs(1),
    };
}

impl Default for InstanceLimits {
    /// Spin 4.1's defaults (`SPIN-FACTS.md`).
    fn default() -> Self {
        Self {
            max_reuse: 128,
            max_concurrent: 16,
            idle_timeout: Duration::from_secs(1),
        }
    }
}

/// Counters a test can read to see what a component cost: instances, and host calls made.
#[derive(Debug, Default)]
pub struct ComponentStats {
    pub instantiated: AtomicUsize,
    pub trapped: AtomicUsize,
    pub sqlite_opens: AtomicUsize,
    pub sqlite_statements: AtomicUsize,
    pub key_value_opens: AtomicUsize,
    pub outbound_requests: AtomicUsize,
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

    pub fn key_value_opens(&self) -> usize {
        self.key_value_opens.load(Ordering::SeqCst)
    }

    pub fn outbound_requests(&self) -> usize {
        self.outbound_requests.load(Ordering::SeqCst)
    }

    pub(crate) fn count(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

/// The `HandlerState` of one component: makes stores and instances on demand.
pub struct ComponentRuntime {
    pub config: Arc<ComponentConfig>,
    pub engine: Engine,
    pub pre: ProxyPre<HostState>,
    pub limits: InstanceLimits,
    pub log: ComponentLog,
    pub stats: Arc<ComponentStats>,
    pub chain: Chain,
}

impl HandlerState for ComponentRuntime {
    type StoreData = HostState;
    type WorkerExpiration = IdleExpiration;
    type WorkerState = ReuseLimits;

    async fn instantiate(
        &self,
    ) -> wasmtime::Result<Instance<HostState, IdleExpiration, ReuseLimits>> {
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
        };
        let mut store = Store::new(&self.engine, state);
        let proxy = self.pre.instantiate_async(&mut store).await?;
        self.stats.instantiated.fetch_add(1, Ordering::SeqCst);
        Ok(Instance {
            store,
            proxy,
            view: ViewFn::P3(HostState::http_view),
            expiration: IdleExpiration::new(self.limits.idle_timeout),
            state: ReuseLimits {
                limits: self.limits,
                log: self.log.clone(),
                stats: Arc::clone(&self.stats),
            },
        })
    }
}

/// Decides whether an instance takes another request.
pub struct ReuseLimits {
    limits: InstanceLimits,
    log: ComponentLog,
    stats: Arc<ComponentStats>,
}

impl WorkerState for ReuseLimits {
    type StoreData = HostState;
    type RequestId = ();

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.limits.max_reuse {
            ShouldAccept::Never
        } else if concurrent >= self.limits.max_concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        _: StoreContextMut<'_, HostState>,
        _: (),
        _: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        // No request timeout: `spin up` has none unless `--request-timeout` is given.
        Box::pin(std::future::pending())
    }

    fn drop(&self, _: Store<HostState>, result: wasmtime::Result<()>) {
        if let Err(error) = result {
            self.stats.trapped.fetch_add(1, Ordering::SeqCst);
            self.log
                .note(&format!("instance ended with an error: {error:?}"));
        }
    }
}

/// Ends an instance after `idle` without requests.
pub struct IdleExpiration {
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl IdleExpiration {
    fn new(idle: Duration) -> Self {
        Self {
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

impl WorkerExpiration for IdleExpiration {
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        status: WorkerStatus,
        since: Instant,
    ) -> Poll<()> {
        if status != WorkerStatus::Idle {
            return Poll::Pending;
        }
        let deadline = since + self.idle;
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        self.timer
            .as_mut()
            .reset(tokio::time::Instant::from_std(deadline));
        self.timer.as_mut().poll(cx)
    }
}
