//! The rate limit's counts in movie's own SQLite database.

use crate::controller::RequestCounter;
use crate::migrations::DATABASE;
use service_kit::StorageFailure;
use service_kit::rate_limit::{ClientKey, Decision, RatePolicy};
use service_kit::sqlite::{self, SharedConnection};
use std::rc::Rc;

pub struct SqliteRequestCounter {
    db: Rc<SharedConnection>,
}

impl SqliteRequestCounter {
    /// The counter over this instance's connection, opened on first use (a hit never opens it).
    pub fn for_instance() -> Self {
        Self {
            db: sqlite::for_instance(&DATABASE),
        }
    }
}

impl RequestCounter for SqliteRequestCounter {
    async fn count_request(
        &self,
        client: &ClientKey,
        policy: &RatePolicy,
        now_s: u64,
    ) -> Result<Decision, StorageFailure> {
        self.db.count_request(client, policy, now_s).await
    }
}
