//! A lease on a named piece of work, in the service's own database, for work only one
//! instance may do at a time (rating's reconciliation). Under Spin no process lives long
//! enough to be elected: any instance on any node may take a request, so the one that may do
//! the work is whoever holds the lease row.
//!
//! - **Acquire** with a holder id and a time to live: one statement that takes the row if it
//!   is free or expired and otherwise reports who holds it until when. Each acquisition
//!   increments the lease's **fencing token**, which never goes back.
//! - **Fenced writes.** Work done under the lease commits together with a write of the lease
//!   row that presents the holder's token (renewing it and recording a checkpoint). A trigger
//!   makes the database refuse that write when the token is not the current one, so a holder
//!   that was paused past its expiry while another took over cannot commit anything: the
//!   database, not the holder's idea of time, decides.
//! - **Time** has one source: the database's clock (`unixepoch('subsec')`), in every
//!   statement that sets or compares an expiry. Instances never compare their own clocks, so
//!   skew between nodes does not matter when they share a libSQL server (one clock); with a
//!   local SQLite file every holder is on the same node anyway. What is left is the holder's
//!   own elapsed time, measured on its monotonic clock: it stops renewing well before the TTL
//!   (see [`RENEW_WITHIN`]), and the fence catches it if it is wrong.

use crate::storage::StorageFailure;
use std::time::Duration;

/// The lease table and its fence, for a service's migrations.
///
/// `token` counts acquisitions; `fence` is the token a write to the row presented. The
/// trigger refuses a write whose presented token is not the current one, and a token that
/// would go back. `holder` is null once released; `checkpoint` is where the work got to,
/// kept across holders so the next one resumes there.
pub const MIGRATION: &[&str] = &[
    "CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT,
        token INTEGER NOT NULL,
        fence INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        checkpoint TEXT
    ) WITHOUT ROWID",
    "CREATE TRIGGER leases_fence BEFORE UPDATE ON leases
    WHEN NEW.fence <> NEW.token OR NEW.token < OLD.token
    BEGIN
        SELECT RAISE(ABORT, 'stale fencing token');
    END",
];

/// The database's clock in milliseconds since the epoch: the one time source of leases.
const NOW_MS: &str = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";

/// The message the fence's trigger aborts with, as the host reports it.
const STALE_TOKEN: &str = "stale fencing token";

/// Takes the lease when it is free or expired (`?1` name, `?2` holder, `?3` TTL in ms),
/// returning the new token, its expiry and the checkpoint left by the previous holder; no
/// row when another holder still has it.
pub fn acquire_statement() -> String {
    format!(
        "INSERT INTO leases (name, holder, token, fence, expires_at_ms)
        VALUES (?1, ?2, 1, 1, {NOW_MS} + ?3)
        ON CONFLICT (name) DO UPDATE SET
            holder = excluded.holder,
            token = token + 1,
            fence = token + 1,
            expires_at_ms = excluded.expires_at_ms
        WHERE holder IS NULL OR expires_at_ms <= {NOW_MS}
        RETURNING token, expires_at_ms, checkpoint"
    )
}

/// Who holds the lease `?1` and until when, by the database's clock.
pub const HOLDER: &str = "SELECT holder, expires_at_ms FROM leases WHERE name = ?1";

/// The fenced write: presents the token (`?2`) on the lease `?1`, records the checkpoint
/// (`?3`) and extends the expiry by `?4` ms, or releases the lease when `?4` is null. The
/// trigger refuses it when the token is no longer current.
pub fn fenced_statement() -> String {
    format!(
        "UPDATE leases SET
            fence = ?2,
            checkpoint = ?3,
            holder = CASE WHEN ?4 IS NULL THEN NULL ELSE holder END,
            expires_at_ms = CASE WHEN ?4 IS NULL THEN 0 ELSE {NOW_MS} + ?4 END
        WHERE name = ?1
        RETURNING expires_at_ms"
    )
}

/// How long a holder keeps working on one renewal: a third of the TTL, so that even a
/// request twice as slow as expected renews before anyone else may take over.
pub fn renew_within(ttl: Duration) -> Duration {
    ttl / RENEW_WITHIN
}

/// The fraction of the TTL (1/n) a holder works between renewals.
pub const RENEW_WITHIN: u32 = 3;

/// The right to do the work, and the token every write under it must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub name: &'static str,
    pub holder: String,
    pub token: i64,
}

/// What an acquisition found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquisition {
    /// The lease is ours until `expires_at_ms`; `checkpoint` is where the last holder stopped.
    Granted {
        fence: Fence,
        expires_at_ms: i64,
        checkpoint: Option<String>,
    },
    /// Someone else holds it until `expires_at_ms`.
    Held { holder: String, expires_at_ms: i64 },
}

/// Why a fenced write was not committed.
#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    /// Another holder acquired the lease since ours: our token is stale, nothing was written.
    #[error("the lease {0} was taken over by a newer holder")]
    Superseded(&'static str),
    #[error(transparent)]
    Storage(#[from] StorageFailure),
}

impl FenceError {
    /// A storage failure that is the fence's refusal becomes [`FenceError::Superseded`].
    pub fn from_storage(name: &'static str, failure: StorageFailure) -> Self {
        let refused = match &failure {
            StorageFailure::Broken(message) | StorageFailure::Busy(message) => {
                message.contains(STALE_TOKEN)
            }
        };
        if refused {
            Self::Superseded(name)
        } else {
            Self::Storage(failure)
        }
    }
}

/// Leases as a service's controller uses them, whatever stores them.
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Leases {
    /// Acquires `name` for `holder` for `ttl`, unless someone else holds it.
    async fn acquire(
        &self,
        name: &'static str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Acquisition, StorageFailure>;

    /// Extends the lease by `ttl` from now and records `checkpoint`, if `fence` is still
    /// current; returns the new expiry. Work that writes under the lease renews with its
    /// commit instead (`Dedicated::commit_fenced`), in the same transaction.
    async fn renew(
        &self,
        fence: &Fence,
        checkpoint: Option<&str>,
        ttl: Duration,
    ) -> Result<i64, FenceError>;

    /// Ends the lease with `checkpoint` recorded for the next holder (none: the work is
    /// done), if `fence` is still current.
    async fn release(&self, fence: &Fence, checkpoint: Option<&str>) -> Result<(), FenceError>;
}

/// Leases in memory, on a clock the test sets: the same rules as the SQLite statements.
#[derive(Debug, Default)]
pub struct MemoryLeases {
    rows: std::cell::RefCell<std::collections::HashMap<&'static str, MemoryLease>>,
    pub now_ms: std::cell::Cell<i64>,
}

#[derive(Debug, Clone)]
struct MemoryLease {
    holder: Option<String>,
    token: i64,
    expires_at_ms: i64,
    checkpoint: Option<String>,
}

impl MemoryLeases {
    /// The fenced write: checks the token, then records the checkpoint and renews for `ttl`
    /// (or releases, for `None`).
    pub fn fenced(
        &self,
        fence: &Fence,
        checkpoint: Option<&str>,
        ttl: Option<Duration>,
    ) -> Result<i64, FenceError> {
        let mut rows = self.rows.borrow_mut();
        let row = rows
            .get_mut(fence.name)
            .filter(|row| row.token == fence.token)
            .ok_or(FenceError::Superseded(fence.name))?;
        row.checkpoint = checkpoint.map(str::to_owned);
        match ttl {
            Some(ttl) => row.expires_at_ms = self.now_ms.get() + millis(ttl),
            None => {
                row.holder = None;
                row.expires_at_ms = 0;
            }
        }
        Ok(row.expires_at_ms)
    }

    /// The lease's current token, if it was ever acquired.
    pub fn token(&self, name: &str) -> Option<i64> {
        self.rows.borrow().get(name).map(|row| row.token)
    }
}

impl Leases for MemoryLeases {
    async fn acquire(
        &self,
        name: &'static str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Acquisition, StorageFailure> {
        let now = self.now_ms.get();
        let mut rows = self.rows.borrow_mut();
        let row = rows.entry(name).or_insert(MemoryLease {
            holder: None,
            token: 0,
            expires_at_ms: 0,
            checkpoint: None,
        });
        if let Some(current) = &row.holder
            && row.expires_at_ms > now
        {
            return Ok(Acquisition::Held {
                holder: current.clone(),
                expires_at_ms: row.expires_at_ms,
            });
        }
        row.holder = Some(holder.to_owned());
        row.token += 1;
        row.expires_at_ms = now + millis(ttl);
        Ok(Acquisition::Granted {
            fence: Fence {
                name,
                holder: holder.to_owned(),
                token: row.token,
            },
            expires_at_ms: row.expires_at_ms,
            checkpoint: row.checkpoint.clone(),
        })
    }

    async fn renew(
        &self,
        fence: &Fence,
        checkpoint: Option<&str>,
        ttl: Duration,
    ) -> Result<i64, FenceError> {
        self.fenced(fence, checkpoint, Some(ttl))
    }

    async fn release(&self, fence: &Fence, checkpoint: Option<&str>) -> Result<(), FenceError> {
        self.fenced(fence, checkpoint, None).map(drop)
    }
}

/// A duration as whole milliseconds, saturating.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The statements above on real SQLite (the version Spin bundles), natively.
#[cfg(test)]
mod sql_tests {
    use super::*;
    use rusqlite::{Connection, params};

    fn database() -> Connection {
        let connection = Connection::open_in_memory().unwrap();
        for statement in MIGRATION {
            connection.execute(statement, []).unwrap();
        }
        connection
            .execute("CREATE TABLE work (n INTEGER)", [])
            .unwrap();
        connection
    }

    /// (token, expires_at_ms, checkpoint) when granted; `None` when held.
    fn acquire(c: &Connection, holder: &str, ttl_ms: i64) -> Option<(i64, i64, Option<String>)> {
        c.query_row(
            &acquire_statement(),
            params!["job", holder, ttl_ms],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .ok()
    }

    fn holder(c: &Connection) -> (Option<String>, i64) {
        c.query_row(HOLDER, ["job"], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
    }

    /// A unit of work and the fenced write, in one transaction; its outcome.
    fn fenced_work(c: &Connection, token: i64, checkpoint: &str) -> Result<(), String> {
        c.execute("BEGIN IMMEDIATE", []).unwrap();
        c.execute("INSERT INTO work VALUES (?1)", [token]).unwrap();
        let fenced = c.query_row(
            &fenced_statement(),
            params!["job", token, checkpoint, 60_000],
            |row| row.get::<_, i64>(0),
        );
        match fenced {
            Ok(_) => {
                c.execute("COMMIT", []).unwrap();
                Ok(())
            }
            Err(error) => {
                c.execute("ROLLBACK", []).unwrap();
                Err(error.to_string())
            }
        }
    }

    fn work_rows(c: &Connection) -> i64 {
        c.query_row("SELECT count(*) FROM work", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn a_free_lease_is_granted_with_token_one() {
        let c = database();
        let (token, expires, checkpoint) = acquire(&c, "a", 60_000).unwrap();
        assert_eq!((token, checkpoint), (1, None));
        assert!(
            expires > 1_600_000_000_000,
            "expiry {expires} is on the database's clock in ms"
        );
    }

    #[test]
    fn a_held_lease_is_refused_and_names_its_holder() {
        let c = database();
        acquire(&c, "a", 60_000).unwrap();
        assert_eq!(acquire(&c, "b", 60_000), None, "a second acquisition");
        assert_eq!(holder(&c).0.as_deref(), Some("a"));
    }

    #[test]
    fn an_expired_lease_goes_to_the_next_holder_with_a_greater_token_and_the_checkpoint() {
        let c = database();
        let (first, ..) = acquire(&c, "a", 60_000).unwrap();
        fenced_work(&c, first, "halfway").unwrap();
        c.execute("UPDATE leases SET expires_at_ms = 0, fence = token", [])
            .unwrap();
        let (second, _, checkpoint) = acquire(&c, "b", 60_000).unwrap();
        assert_eq!(
            (second, checkpoint.as_deref()),
            (first + 1, Some("halfway"))
        );
    }

    #[test]
    fn the_database_refuses_the_work_of_a_holder_whose_token_is_stale() {
        let c = database();
        let (stale, ..) = acquire(&c, "a", 1).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let (current, ..) = acquire(&c, "b", 60_000).expect("the expired lease is taken over");
        let refused = fenced_work(&c, stale, "stale holder's checkpoint");
        assert!(
            refused.as_ref().is_err_and(|e| e.contains(STALE_TOKEN)),
            "the stale holder's write: {refused:?}"
        );
        assert_eq!(work_rows(&c), 0, "the stale holder's work was rolled back");
        fenced_work(&c, current, "current").expect("the current holder's write");
        assert_eq!(work_rows(&c), 1);
    }

    #[test]
    fn a_released_lease_is_free_at_once_and_its_token_keeps_growing() {
        let c = database();
        let (first, ..) = acquire(&c, "a", 60_000).unwrap();
        c.query_row(
            &fenced_statement(),
            params!["job", first, Option::<String>::None, Option::<i64>::None],
            |row| row.get::<_, i64>(0),
        )
        .unwrap();
        assert_eq!(holder(&c), (None, 0), "released");
        let (second, ..) = acquire(&c, "b", 60_000).unwrap();
        assert_eq!(second, first + 1);
    }

    #[test]
    fn a_token_cannot_be_set_back() {
        let c = database();
        acquire(&c, "a", 1).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        acquire(&c, "b", 1).unwrap();
        let refused = c.execute("UPDATE leases SET token = 1, fence = 1", []);
        assert!(refused.is_err(), "setting token 2 back to 1: {refused:?}");
    }

    #[test]
    fn a_storage_failure_carrying_the_trigger_message_is_a_superseded_fence() {
        let failure = StorageFailure::Broken(format!("sqlite: Io(\"{STALE_TOKEN}\")"));
        assert!(matches!(
            FenceError::from_storage("job", failure),
            FenceError::Superseded("job")
        ));
    }
}

/// [`MemoryLeases`] keeps the same rules as the SQL.
#[cfg(test)]
mod memory_tests {
    use super::*;
    use futures::executor::block_on;

    const TTL: Duration = Duration::from_millis(1000);

    fn granted(acquisition: Acquisition) -> Fence {
        match acquisition {
            Acquisition::Granted { fence, .. } => fence,
            held => panic!("expected the lease, got {held:?}"),
        }
    }

    #[test]
    fn a_held_lease_is_refused_until_it_expires() {
        let leases = MemoryLeases::default();
        granted(block_on(leases.acquire("job", "a", TTL)).unwrap());
        let held = block_on(leases.acquire("job", "b", TTL)).unwrap();
        assert_eq!(
            held,
            Acquisition::Held {
                holder: "a".into(),
                expires_at_ms: 1000
            }
        );
        leases.now_ms.set(1000);
        let second = granted(block_on(leases.acquire("job", "b", TTL)).unwrap());
        assert_eq!(second.token, 2);
    }

    #[test]
    fn a_renewal_extends_the_lease_from_now() {
        let leases = MemoryLeases::default();
        let fence = granted(block_on(leases.acquire("job", "a", TTL)).unwrap());
        leases.now_ms.set(900);
        let expires = block_on(leases.renew(&fence, Some("x"), TTL)).unwrap();
        assert_eq!(expires, 1900);
        leases.now_ms.set(1500);
        let held = block_on(leases.acquire("job", "b", TTL)).unwrap();
        assert!(
            matches!(
                held,
                Acquisition::Held {
                    expires_at_ms: 1900,
                    ..
                }
            ),
            "{held:?}"
        );
    }

    #[test]
    fn a_stale_fence_is_refused() {
        let leases = MemoryLeases::default();
        let stale = granted(block_on(leases.acquire("job", "a", TTL)).unwrap());
        leases.now_ms.set(2000);
        granted(block_on(leases.acquire("job", "b", TTL)).unwrap());
        let refused = leases.fenced(&stale, Some("x"), Some(TTL));
        assert!(matches!(refused, Err(FenceError::Superseded("job"))));
    }
}
