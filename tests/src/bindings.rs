//! Host bindings generated from `wit/world.wit` (the Spin interfaces our components import).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "movie-system:host/spin-imports",
    imports: { default: trappable },
    with: {
        "spin:key-value/key-value.store": crate::key_value::StoreHandle,
        "spin:sqlite/sqlite.connection": crate::sqlite::ConnectionHandle,
    },
});

pub use spin::key_value::key_value;
pub use spin::sqlite::sqlite;
pub use spin::variables::variables;
