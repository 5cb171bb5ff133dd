//! The instance pool of the HTTP trigger, managed the way Spin 4.1 manages WASIp3 instances
//! (wasmtime's `ProxyHandler`, which `wasmtime serve` uses too): up to `max_reuse` requests per
//! instance, `max_concurrent` at once, dropped after `idle_timeout` without work, and dropped
//! at once when it traps.

use crate::component::ComponentRuntime;
use crate::state::HostState;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use wasmtime::component::GuestTaskId;
use wasmtime::{Store, StoreContextMut};
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyPre, ShouldAccept, ViewFn, WorkerExpiration, WorkerState,
    WorkerStatus,
};

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
    /// Spin 4.1's defaults (`docs/spin-facts.md`, "Instances and state").
    fn default() -> Self {
        Self {
            max_reuse: 128,
            max_concurrent: 16,
            idle_timeout: Duration::from_secs(1),
        }
    }
}

/// The `HandlerState` of one HTTP component: makes instances on demand.
pub struct HttpInstances {
    pub runtime: Arc<ComponentRuntime>,
    /// The component's code bound to its `wasi:http/handler` export.
    pub pre: ProxyPre<HostState>,
    pub limits: InstanceLimits,
}

impl HandlerState for HttpInstances {
    type StoreData = HostState;
    type WorkerExpiration = IdleExpiration;
    type WorkerState = ReuseLimits;

    async fn instantiate(
        &self,
    ) -> wasmtime::Result<Instance<HostState, IdleExpiration, ReuseLimits>> {
        let mut store = self.runtime.new_store();
        let proxy = self.pre.instantiate_async(&mut store).await?;
        self.runtime.instantiated();
        Ok(Instance {
            store,
            proxy,
            view: ViewFn::P3(HostState::http_view),
            expiration: IdleExpiration::new(self.limits.idle_timeout),
            state: ReuseLimits {
                limits: self.limits,
                runtime: Arc::clone(&self.runtime),
            },
        })
    }
}

/// Decides whether an instance takes another request.
pub struct ReuseLimits {
    limits: InstanceLimits,
    runtime: Arc<ComponentRuntime>,
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
            self.runtime.trapped(&error);
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
