//! An in-memory repository for unit tests of the controller and handler.

use crate::controller::ClientRepository;
use crate::model::{Client, ClientId};
use service_kit::StorageFailure;
use service_kit::rate_limit::{ClientKey, Decision, MemoryCounts, RatePolicy, RequestCounter};
use service_kit::testing::FailureSwitch;

#[derive(Default)]
pub struct InMemoryClientRepository {
    clients: Vec<Client>,
    /// When set, every call fails as an unreachable store would.
    pub failing: FailureSwitch,
    counts: MemoryCounts,
}

impl InMemoryClientRepository {
    pub fn with(clients: Vec<Client>) -> Self {
        Self {
            clients,
            ..Self::default()
        }
    }
}

impl RequestCounter for InMemoryClientRepository {
    async fn count_request(
        &self,
        client: &ClientKey,
        policy: &RatePolicy,
        now_s: u64,
    ) -> Result<Decision, StorageFailure> {
        self.failing.check()?;
        self.counts.count_request(client, policy, now_s).await
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
