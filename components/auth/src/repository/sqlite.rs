//! The client repository on Spin's SQLite (`sqlite_databases = ["auth"]`).

use crate::controller::ClientRepository;
use crate::keyring::DevelopmentKeyStore;
use crate::migrations::{DATABASE, DEVELOPMENT_KEY};
use crate::model::{Client, ClientId, ScopeSet};
use service_kit::StorageFailure;
use service_kit::sqlite::{self, SharedConnection, column};
use spin_sdk::sqlite::Value;
use std::rc::Rc;

pub struct SqliteClientRepository {
    db: Rc<SharedConnection>,
}

impl SqliteClientRepository {
    /// The repository over this instance's connection.
    pub fn for_instance() -> Self {
        Self {
            db: sqlite::for_instance(&DATABASE),
        }
    }
}

const SELECT_CLIENT: &str = "SELECT id, secret_hash, scopes FROM clients WHERE id = ?";

impl ClientRepository for SqliteClientRepository {
    async fn client(&self, id: &ClientId) -> Result<Option<Client>, StorageFailure> {
        let rows = self
            .db
            .query(SELECT_CLIENT, vec![Value::Text(id.as_str().to_owned())])
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        // Rows are written by authctl through the same types; a hand-edited one that no longer
        // parses is a storage failure, not a panic.
        fn corrupt(field: &'static str) -> impl Fn(service_kit::Invalid) -> StorageFailure {
            move |e| StorageFailure::Broken(format!("stored client {field} is invalid: {e}"))
        }
        Ok(Some(Client {
            id: ClientId::parse(column(row, 0)?).map_err(corrupt("id"))?,
            secret_hash: column::<&str>(row, 1)?.to_owned(),
            scopes: ScopeSet::parse(column(row, 2)?).map_err(corrupt("scopes"))?,
        }))
    }

    async fn ping(&self) -> Result<(), StorageFailure> {
        self.db
            .query("SELECT 1 FROM clients LIMIT 1", [])
            .await
            .map(drop)
    }
}

impl DevelopmentKeyStore for SqliteClientRepository {
    async fn development_key(&self, candidate: &str) -> Result<String, StorageFailure> {
        let now_s = i64::try_from(service_kit::instance::now_ms() / 1000).unwrap_or(i64::MAX);
        let rows = self
            .db
            .query(
                DEVELOPMENT_KEY,
                vec![Value::Text(candidate.to_owned()), Value::Integer(now_s)],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| StorageFailure::Broken("no development key was returned".into()))?;
        Ok(column::<&str>(row, 0)?.to_owned())
    }
}
