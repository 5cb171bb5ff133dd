//! An in-memory repository for unit tests of the controller and handler.

use crate::controller::ClientRepository;
use crate::keyring::DevelopmentKeyStore;
use crate::model::{Client, ClientId};
use service_kit::StorageFailure;
use service_kit::testing::FailureSwitch;

#[derive(Default)]
pub struct InMemoryClientRepository {
    clients: Vec<Client>,
    /// When set, every call fails as an unreachable store would.
    pub failing: FailureSwitch,
    development_key: std::cell::RefCell<Option<String>>,
    /// How many times the development key was asked for.
    pub development_key_reads: std::cell::Cell<usize>,
}

impl InMemoryClientRepository {
    pub fn with(clients: Vec<Client>) -> Self {
        Self {
            clients,
            ..Self::default()
        }
    }
}

impl ClientRepository for InMemoryClientRepository {
    async fn client(&self, id: &ClientId) -> Result<Option<Client>, StorageFailure> {
        self.failing.check()?;
        Ok(self.clients.iter().find(|client| &client.id == id).cloned())
    }

    async fn ping(&self) -> Result<(), StorageFailure> {
        self.failing.check()
    }
}

impl DevelopmentKeyStore for InMemoryClientRepository {
    async fn development_key(&self, candidate: &str) -> Result<String, StorageFailure> {
        self.failing.check()?;
        self.development_key_reads
            .set(self.development_key_reads.get() + 1);
        let mut stored = self.development_key.borrow_mut();
        Ok(stored.get_or_insert_with(|| candidate.to_owned()).clone())
    }
}
