//! The movie service's key-value store (`key_value_stores = ["cache"]`): the shared level of
//! the view cache and the circuit breakers' state.
//!
//! The store handle is opened once per instance, like the SQLite connections of the other
//! services; a failed access forgets it, so the next request opens the store afresh. Spin's
//! default store blocks the host's thread on every call, so each call is followed by the
//! host's turn ([`service_kit::host_turn`]): without it, a keep-alive client waited about
//! 44 ms for the body of half the responses that touched the store.

use super::{CacheError, STORE};
use crate::controller::CacheStore;
use service_kit::host_turn::blocking;
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
        let store = Rc::new(
            blocking(Store::open(STORE))
                .await
                .map_err(CacheError::Open)?,
        );
        OPEN_STORE.with(|cell| cell.replace(Some(Rc::clone(&store))));
        Ok(store)
    }

    /// The outcome of one store call, made around the host's turns; a failure forgets the
    /// handle.
    async fn settled<T>(call: impl Future<Output = Result<T, Error>>) -> Result<T, CacheError> {
        blocking(call).await.map_err(|error| {
            OPEN_STORE.with(|cell| cell.replace(None));
            CacheError::Access(error)
        })
    }
}

impl CacheStore for KeyValueCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        Self::settled(self.store().await?.get(key)).await
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), CacheError> {
        Self::settled(self.store().await?.set(key, value)).await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        Self::settled(self.store().await?.delete(key)).await
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Self::settled(self.store().await?.exists("health-probe"))
            .await
            .map(drop)
    }
}
