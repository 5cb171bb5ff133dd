//! Host bindings generated from `wit/world.wit` (the Spin interfaces our components import).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "movie-system:host/spin-imports",
    imports: { default: trappable },
    with: {
        "spin:key-value/key-value.store": crate::key_value::StoreHandle,
        "spin:sqlite/sqlite.connection": crate::sqlite::ConnectionHandle,
        "spin:redis/redis.connection": crate::redis::ConnectionHandle,
    },
});

/// The export the Redis trigger calls (`spin:redis/inbound-redis@3.0.0#handle-message`).
pub mod redis_trigger {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "movie-system:host/redis-trigger",
        exports: { default: async | store },
    });
}

pub use spin::key_value::key_value;
pub use spin::redis::redis;
pub use spin::sqlite::sqlite;
pub use spin::variables::variables;
