//! The per-store context: WASI, wasi:http, and the Spin state of one component instance.

use crate::component::{ComponentConfig, ComponentStats};
use crate::key_value::KeyValueBackend;
use crate::outbound::OutboundHooks;
use std::sync::Arc;
use wasmtime::component::{HasData, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::p3::{WasiHttpCtxView, WasiHttpView};

/// Everything a store of one instance holds.
pub struct HostState {
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub hooks: OutboundHooks,
    pub spin: SpinState,
    pub memory: MemoryWatch,
}

/// Watches the instance's linear memories grow (wasmtime asks before each growth) and
/// records the largest size any instance of the component reached. Nothing is refused:
/// Spin sets no memory limit unless told to.
pub struct MemoryWatch {
    pub stats: Arc<ComponentStats>,
}

impl wasmtime::ResourceLimiter for MemoryWatch {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.stats.memory_grown_to(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// What the Spin interfaces need: which component this instance runs (its grants and
/// variables) and the app's stores.
pub struct SpinState {
    pub component: Arc<ComponentConfig>,
    pub stats: Arc<ComponentStats>,
}

impl SpinState {
    /// The key-value store `label`, if this component was granted it.
    pub fn key_value_store(&self, label: &str) -> Option<Arc<KeyValueBackend>> {
        self.component.key_value_stores.get(label).cloned()
    }
}

/// The `HasData` marker under which the Spin interfaces are linked.
pub struct SpinHost;

impl HasData for SpinHost {
    type Data<'a> = SpinView<'a>;
}

/// A borrow of the Spin state and the resource table, handed to the Spin host functions.
pub struct SpinView<'a> {
    pub state: &'a mut SpinState,
    pub table: &'a mut ResourceTable,
}

impl HostState {
    pub fn spin_view(&mut self) -> SpinView<'_> {
        SpinView {
            state: &mut self.spin,
            table: &mut self.table,
        }
    }

    pub fn http_view(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.http_view()
    }
}
