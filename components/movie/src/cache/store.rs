//! The movie service's key-value store (`key_value_stores = ["cache"]`): the shared level of
//! the view cache and the circuit breakers' state.
//!
//! The store handle is opened once per instance, like the SQLite connections of the other
//! services; a failed access forgets it, so the next request opens the store afresh.

use super::{CacheError, STORE};
use crate::controller::CacheStore;
use spin_sdk::key_value::{Error, Store};
use std::cell::RefCell;
use std::rc::Rc;

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

    fn forget<T>(result: Result<T, Error>) -> Result<T, CacheError> {
        result.map_err(|error| {
            OPEN_STORE.with(|cell| cell.replace(None));
            CacheError::Access(error)
        })
    }
}

impl CacheStore for KeyValueCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        Self::forget(self.store().await?.get(key).await)
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), CacheError> {
        Self::forget(self.store().await?.set(key, value).await)
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        Self::forget(self.store().await?.delete(key).await)
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Self::forget(self.store().await?.exists("health-probe").await).map(drop)
    }
}
