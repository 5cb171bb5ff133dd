//! The movie service's key-value store (`key_value_stores = ["cache"]`).
//!
//! Reserved for the composed-view cache; for now only its health is checked. The store handle
//! is opened once per instance, like the SQLite connections of the other services.

use crate::controller::CacheStore;
use spin_sdk::key_value::Store;
use std::cell::RefCell;
use std::rc::Rc;

/// The store label in `spin.toml` and `runtime-config.toml`.
pub const STORE: &str = "cache";

thread_local! {
    static OPEN_STORE: RefCell<Option<Rc<Store>>> = const { RefCell::new(None) };
}

pub struct KeyValueCache;

impl KeyValueCache {
    async fn store(&self) -> Result<Rc<Store>, String> {
        if let Some(store) = OPEN_STORE.with(|cell| cell.borrow().clone()) {
            return Ok(store);
        }
        let store = Rc::new(
            Store::open(STORE)
                .await
                .map_err(|e| format!("open {STORE}: {e:?}"))?,
        );
        OPEN_STORE.with(|cell| cell.replace(Some(Rc::clone(&store))));
        Ok(store)
    }
}

impl CacheStore for KeyValueCache {
    async fn ping(&self) -> Result<(), String> {
        let store = self.store().await?;
        match store.exists("health-probe").await {
            Ok(_) => Ok(()),
            Err(error) => {
                OPEN_STORE.with(|cell| cell.replace(None));
                Err(format!("{STORE}: {error:?}"))
            }
        }
    }
}
