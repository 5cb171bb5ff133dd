//! The movie service's key-value store (`key_value_stores = ["cache"]`).
//!
//! Reserved for the composed-view cache; for now only its health is checked. The store handle
//! is opened once per instance, like the SQLite connections of the other services.

use crate::controller::CacheStore;
use spin_sdk::key_value::{Error, Store};
use std::cell::RefCell;
use std::rc::Rc;

/// The store label in `spin.toml` and `runtime-config.toml`.
pub const STORE: &str = "cache";

/// Why the cache store failed; for the log and the health report's log line.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("opening key-value store {STORE}: {0}")]
    Open(#[source] Error),
    #[error("key-value store {STORE}: {0}")]
    Access(#[source] Error),
}

thread_local! {
    static OPEN_STORE: RefCell<Option<Rc<Store>>> = const { RefCell::new(None) };
}

pub struct KeyValueCache;

impl KeyValueCache {
    async fn store(&self) -> Result<Rc<Store>, CacheError> {
        if let Some(store) = OPEN_STORE.with(|cell| cell.borrow().clone()) {
            return Ok(store);
        }
        let store = Rc::new(Store::open(STORE).await.map_err(CacheError::Open)?);
        OPEN_STORE.with(|cell| cell.replace(Some(Rc::clone(&store))));
        Ok(store)
    }
}

impl CacheStore for KeyValueCache {
    /// A failed access forgets the handle, so the next request opens the store afresh.
    async fn ping(&self) -> Result<(), CacheError> {
        let store = self.store().await?;
        match store.exists("health-probe").await {
            Ok(_) => Ok(()),
            Err(error) => {
                OPEN_STORE.with(|cell| cell.replace(None));
                Err(CacheError::Access(error))
            }
        }
    }
}
