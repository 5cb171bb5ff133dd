//! The SQLite connections of a component instance, set up and migrated on first use.
//!
//! Spin reuses an instance for many requests, some at once (`docs/spin-facts.md`, "Instances
//! and state"), and a connection kept across them doubles read throughput over opening one per
//! request. Each statement runs on a connection no other statement is using at the time (one
//! kept connection while requests come one by one, more while they overlap): Spin's `libsql`
//! backend cannot carry interleaved statements on one connection ([`SharedConnection`]). The
//! connections are only a cache: when the instance goes, so do they, and the next instance
//! opens one, sets what SQLite keeps per connection (no busy timeout, the database's
//! [`Synchronous`] level; not again once the database refused them, as libSQL does) and
//! checks the file's schema version and journal mode (one statement when nothing is to be
//! done; once per instance).
//!
//! Writers on different connections, one per instance, queue on the database's write lock. So
//! a write holds the lock as briefly as it can: in write-ahead-log mode a reader never blocks a
//! writer, and a commit at `synchronous = NORMAL` appends to the log without waiting for the
//! disk. A writer that finds the lock taken does not sleep in SQLite's busy handler (1, 2, 5,
//! 10 ms and longer, holding the host's lock on the connection meanwhile) but tries again
//! after [`LockWaits`] of its own, a fraction of a millisecond at first (`docs/storage.md` has
//! the figures and what each synchronous level keeps on power loss).
//!
//! A kept connection serves one request's statement, then another's, so requests must never
//! spread a transaction over several statements on it: each write is a single statement
//! (triggers keep derived rows in the same implicit transaction, and a statement that writes
//! takes the write lock before it reads, as `BEGIN IMMEDIATE` would). Only the migration uses `BEGIN` on it, while no request can see
//! the connection yet, and nothing but the database is awaited inside it. Work that needs a
//! transaction of several statements (an export's snapshot, a fenced chunk of a job) opens a
//! connection of its own: [`Dedicated`].

use crate::lease::{self, Acquisition, Fence, FenceError, Leases};
use crate::lock_waits::LockWaits;
use crate::rate_limit::{self, ClientKey, Decision, RatePolicy, RequestCounter};
use crate::storage::{StorageFailure, Stored};
use spin_sdk::sqlite::{Connection, Error, RowResult, Value};
use spin_sdk::wasip3::clocks::monotonic_clock;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

/// One of the app's SQLite databases: the label a component is granted, how it keeps its data
/// on disk, and its schema.
#[derive(Debug)]
pub struct Database {
    pub label: &'static str,
    pub journal_mode: JournalMode,
    pub synchronous: Synchronous,
    pub migrations: &'static [Migration],
}

/// `PRAGMA journal_mode`, which the database file keeps once set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalMode {
    /// Write-ahead log: readers and the writer do not block one another, and a commit appends
    /// to the log instead of rewriting pages through a rollback journal.
    Wal,
    /// SQLite's default rollback journal: for a file on a network filesystem, where WAL's
    /// shared-memory index cannot work.
    Delete,
}

impl JournalMode {
    /// The mode's name as `PRAGMA journal_mode` reports it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wal => "wal",
            Self::Delete => "delete",
        }
    }
}

/// `PRAGMA synchronous`, which each connection must set for itself (SQLite's default is FULL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// In WAL mode, a commit is in the log when the statement returns and survives the process
    /// being killed; the log reaches the disk at each checkpoint, so a power loss or an OS crash
    /// may undo the commits since the last one, never corrupt the file.
    Normal,
    /// Every commit waits until the log (or journal) is on the disk: commits survive power loss.
    Full,
}

impl Synchronous {
    /// The level's number as `PRAGMA synchronous` reports it.
    pub fn level(self) -> u8 {
        match self {
            Self::Normal => 1,
            Self::Full => 2,
        }
    }
}

/// A versioned schema change. Versions start at 1 and increase by one; the database's
/// `user_version` records the last one applied.
#[derive(Debug)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    /// Executed in order, one statement each (the host runs a single statement per call).
    pub statements: &'static [&'static str],
}

impl From<Error> for StorageFailure {
    fn from(error: Error) -> Self {
        if is_locked(&error) || is_unreachable(&error) {
            Self::Busy(format!("sqlite: {error:?}"))
        } else {
            Self::Broken(format!("sqlite: {error:?}"))
        }
    }
}

thread_local! {
    static INSTANCE_CONNECTIONS: RefCell<Vec<Rc<SharedConnection>>> = const { RefCell::new(Vec::new()) };
}

/// This instance's connection to `database`, created on first use. Instances are
/// single-threaded, so a thread-local is an instance-local.
pub fn for_instance(database: &'static Database) -> Rc<SharedConnection> {
    INSTANCE_CONNECTIONS.with(|connections| {
        let mut connections = connections.borrow_mut();
        if let Some(existing) = connections
            .iter()
            .find(|c| c.database.label == database.label)
        {
            return Rc::clone(existing);
        }
        let created = Rc::new(SharedConnection::new(database));
        connections.push(Rc::clone(&created));
        created
    })
}

/// A connection of one request's own, for work that needs a transaction over several
/// statements: a consistent read of a whole table page by page (an export), or a write that
/// must commit with its fencing check (a job under a lease). The shared connection cannot
/// carry either, since interleaved requests would run their statements inside it.
///
/// The transaction ends with [`Self::commit`], or, when the value is dropped unfinished (a
/// client that went away, a failed step), with the connection: SQLite rolls back what a closed
/// connection left open, so nothing half-done is ever committed.
pub struct Dedicated {
    connection: Connection,
}

impl Dedicated {
    /// A read transaction on a new connection to `database`. Its snapshot is taken here, by
    /// its first read: every later query sees the database as it was now, while writers on
    /// other connections go on (write-ahead log) without waiting for it.
    pub async fn read(database: &'static Database) -> Result<Self, StorageFailure> {
        let dedicated = Self::open(database).await?;
        dedicated.query("BEGIN", []).await?;
        dedicated
            .query("SELECT count(*) FROM sqlite_schema", [])
            .await?;
        Ok(dedicated)
    }

    /// A write transaction on a new connection to `database`, holding the write lock from the
    /// start (`BEGIN IMMEDIATE`), so what it reads cannot change before it commits. It waits
    /// for another writer as every statement does ([`LockWaits`]). Keep it short: every other
    /// writer of the database waits for it.
    pub async fn write(database: &'static Database) -> Result<Self, StorageFailure> {
        let dedicated = Self::open(database).await?;
        dedicated.query("BEGIN IMMEDIATE", []).await?;
        Ok(dedicated)
    }

    /// A new connection, set up as the instance's shared connections are (and teaching them
    /// what it learns about the database).
    async fn open(database: &'static Database) -> Result<Self, StorageFailure> {
        let connection = for_instance(database).open().await?;
        Ok(Self { connection })
    }

    /// Runs one statement inside the transaction and collects its rows.
    pub async fn query(
        &self,
        sql: &str,
        parameters: impl IntoIterator<Item = Value>,
    ) -> Result<Vec<RowResult>, StorageFailure> {
        Ok(query(&self.connection, sql, parameters).await?)
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), StorageFailure> {
        self.query("COMMIT", []).await.map(drop)
    }

    /// Commits what the transaction did under the lease `fence`, together with the fenced
    /// write of the lease row: `checkpoint` recorded and the lease renewed for `ttl`. When
    /// another holder has taken the lease over, the database refuses the fenced write and
    /// nothing of the transaction is committed. Returns the new expiry (database clock).
    pub async fn commit_fenced(
        self,
        fence: &Fence,
        checkpoint: Option<&str>,
        ttl: Duration,
    ) -> Result<i64, FenceError> {
        let fenced = |failure| FenceError::from_storage(fence.name, failure);
        let parameters = fenced_parameters(fence, checkpoint, Some(ttl));
        let rows = self
            .query(&lease::fenced_statement(), parameters)
            .await
            .map_err(fenced)?;
        let expires_at_ms = rows.first().map(|row| column(row, 0)).transpose()?;
        let expires_at_ms = expires_at_ms.ok_or(FenceError::Superseded(fence.name))?;
        self.commit().await?;
        Ok(expires_at_ms)
    }
}

/// The parameters of [`lease::fenced_statement`].
fn fenced_parameters(fence: &Fence, checkpoint: Option<&str>, ttl: Option<Duration>) -> [Value; 4] {
    [
        Value::text(fence.name),
        Value::Integer(fence.token),
        checkpoint.map_or(Value::Null, Value::text),
        ttl.map_or(Value::Null, |ttl| Value::Integer(lease::millis(ttl))),
    ]
}

/// Leases in the database's `leases` table ([`lease::MIGRATION`]), one statement each.
impl Leases for SharedConnection {
    /// The acquisition, then, when it found the lease held, who holds it: a second statement,
    /// so a holder that released the lease in between is met by trying once more.
    async fn acquire(
        &self,
        name: &'static str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Acquisition, StorageFailure> {
        let mut tries = 2;
        loop {
            tries -= 1;
            let parameters = [
                Value::text(name),
                Value::text(holder),
                Value::Integer(lease::millis(ttl)),
            ];
            let rows = self.query(&lease::acquire_statement(), parameters).await?;
            if let Some(row) = rows.first() {
                return Ok(Acquisition::Granted {
                    fence: Fence {
                        name,
                        holder: holder.to_owned(),
                        token: column(row, 0)?,
                    },
                    expires_at_ms: column(row, 1)?,
                    checkpoint: row.get::<&str>(2).map(str::to_owned),
                });
            }
            let rows = self.query(lease::HOLDER, [Value::text(name)]).await?;
            let row = rows
                .first()
                .ok_or_else(|| StorageFailure::Broken(format!("the lease {name} has no row")))?;
            match row.get::<&str>(0) {
                None if tries > 0 => continue,
                current => {
                    return Ok(Acquisition::Held {
                        holder: current.unwrap_or_default().to_owned(),
                        expires_at_ms: column(row, 1)?,
                    });
                }
            }
        }
    }

    async fn renew(
        &self,
        fence: &Fence,
        checkpoint: Option<&str>,
        ttl: Duration,
    ) -> Result<i64, FenceError> {
        let parameters = fenced_parameters(fence, checkpoint, Some(ttl));
        let rows = self
            .query(&lease::fenced_statement(), parameters)
            .await
            .map_err(|failure| FenceError::from_storage(fence.name, failure))?;
        let expires_at_ms = rows.first().map(|row| column(row, 0)).transpose()?;
        expires_at_ms.ok_or(FenceError::Superseded(fence.name))
    }

    async fn release(&self, fence: &Fence, checkpoint: Option<&str>) -> Result<(), FenceError> {
        let parameters = fenced_parameters(fence, checkpoint, None);
        self.query(&lease::fenced_statement(), parameters)
            .await
            .map(drop)
            .map_err(|failure| FenceError::from_storage(fence.name, failure))
    }
}

/// The instance's connections to one database, opened lazily and kept for later requests.
///
/// A connection carries one statement at a time: a statement takes an idle connection, or
/// opens one when every kept connection is busy, and gives it back when its rows are read.
/// Spin's `libsql` backend requires it: a guest connection there is one libSQL connection
/// (one Hrana stream on the server), and statements of concurrent requests interleaved on it
/// wedged the stream, and with it the database: under Spin 4.1 with `sqld` 0.24, 16
/// concurrent rating writes on one instance stopped every later statement, a plain read sent
/// straight to the server included, until the server was killed (`docs/storage.md`). Requests
/// never wait for one another's connection (no async mutex: a guest task waiting on another
/// traps the instance); at most Spin's 16 concurrent requests per instance means at most 16
/// connections, the idle ones kept for the next requests.
pub struct SharedConnection {
    database: &'static Database,
    idle: RefCell<Vec<Connection>>,
    /// What this instance learned about the database from its first connection.
    known: Cell<Known>,
    /// Whether this instance has dropped the rate-limit rows of clients gone quiet.
    forgot_old_clients: Cell<bool>,
}

/// What an instance learns about its database once, so that later connections skip it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Known {
    /// The schema is migrated and the journal mode checked.
    schema_checked: bool,
    /// The database refuses per-connection settings (a remote libSQL server answers
    /// "unsupported statement" to `PRAGMA busy_timeout` and `PRAGMA synchronous`): they are not
    /// sent again on this instance.
    settings_refused: bool,
}

/// Idle connections kept per instance and database: Spin's most concurrent requests on one
/// instance.
const MAX_IDLE_CONNECTIONS: usize = 16;

/// How long a request waits for one statement on the shared connections before it answers
/// 503: a little longer than a statement waits for another writer's lock ([`LockWaits`], 5 s),
/// so a local database's lock waits keep their own answer. It bounds what the lock waits
/// cannot: a statement the server does not answer (a libSQL server under write contention on
/// one row was seen to hold statements for 10 to 20 s). Such a statement may still be applied
/// after the request gave up on it; every write route is idempotent, so trying again is safe.
pub const STATEMENT_BUDGET: Duration = Duration::from_secs(6);

impl SharedConnection {
    pub fn new(database: &'static Database) -> Self {
        Self {
            database,
            idle: RefCell::new(Vec::new()),
            known: Cell::new(Known::default()),
            forgot_old_clients: Cell::new(false),
        }
    }

    /// An idle connection, or a new one, set up and (on the instance's first) migrated.
    /// Requests that arrive together on a cold instance each open one; concurrent migrations
    /// are safe, see [`migrate`].
    async fn take(&self) -> Result<Connection, StorageFailure> {
        if let Some(idle) = self.idle.borrow_mut().pop() {
            return Ok(idle);
        }
        self.open().await
    }

    /// A new connection to the database, set up as this instance knows it needs.
    async fn open(&self) -> Result<Connection, StorageFailure> {
        let connection = Connection::open(self.database.label).await?;
        let learned = prepare(&connection, self.database, self.known.get()).await?;
        self.known.set(learned);
        Ok(connection)
    }

    /// Keeps a connection whose statement has finished for the next one.
    fn give_back(&self, connection: Connection) {
        let mut idle = self.idle.borrow_mut();
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(connection);
        }
    }

    /// Runs an upsert whose statement ends in `RETURNING revision`, where `revision` starts at
    /// 1 on insert and grows on each update: 1 means the row was created.
    pub async fn upsert(
        &self,
        sql: &str,
        parameters: impl IntoIterator<Item = Value>,
    ) -> Result<Stored, StorageFailure> {
        let rows = self.query(sql, parameters).await?;
        let revision: i64 = rows
            .first()
            .map(|row| column(row, 0))
            .transpose()?
            .ok_or_else(|| StorageFailure::Broken("the upsert returned no revision".into()))?;
        Ok(if revision == 1 {
            Stored::Created
        } else {
            Stored::Replaced
        })
    }

    /// Runs one statement on a connection of its own and collects its rows. The connection
    /// is kept for the next statement unless the host says it is no longer valid; a statement
    /// abandoned midway (its request gone) drops its connection with it.
    ///
    /// A kept connection the server has closed meanwhile (a libSQL stream expires after
    /// seconds without a statement) is replaced and the statement run on the new one: the
    /// server refused it before running it.
    pub async fn query(
        &self,
        sql: &str,
        parameters: impl IntoIterator<Item = Value>,
    ) -> Result<Vec<RowResult>, StorageFailure> {
        let parameters: Vec<Value> = parameters.into_iter().collect();
        let mut connection = self.take().await?;
        let mut outcome = within_budget(query(&connection, sql, parameters.clone())).await?;
        if outcome.as_ref().is_err_and(is_closed_by_server) {
            connection = self.open().await?;
            outcome = within_budget(query(&connection, sql, parameters)).await?;
        }
        let usable = match &outcome {
            Err(error) => {
                !matches!(error, Error::InvalidConnection)
                    && !is_closed_by_server(error)
                    && !is_unreachable(error)
            }
            Ok(_) => true,
        };
        if usable {
            self.give_back(connection);
        }
        outcome.map_err(StorageFailure::from)
    }
}

/// The request counts of a rate limit, in the database's `request_counts` table.
impl RequestCounter for SharedConnection {
    /// Counts one request of `client` against `policy` at `now_s` (one statement; the
    /// database needs [`rate_limit::COUNTS_TABLE`]). The first check of each instance also
    /// drops the rows of clients not seen since the previous window, so the table stays as
    /// small as the set of recent clients.
    async fn count_request(
        &self,
        client: &ClientKey,
        policy: &RatePolicy,
        now_s: u64,
    ) -> Result<Decision, StorageFailure> {
        let window = policy.window(now_s);
        let as_value = |window: u64| Value::Integer(i64::try_from(window).unwrap_or(i64::MAX));
        if !self.forgot_old_clients.replace(true) {
            let previous = as_value(window.saturating_sub(1));
            self.query(rate_limit::FORGET_OLD_CLIENTS, [previous])
                .await?;
        }
        let parameters = [Value::text(client.as_str()), as_value(window)];
        let rows = self.query(rate_limit::COUNT_REQUEST, parameters).await?;
        let count: u32 = rows
            .first()
            .map(|row| column(row, 0))
            .transpose()?
            .ok_or_else(|| StorageFailure::Broken("the count returned no row".into()))?;
        Ok(policy.decide(count, now_s))
    }
}

/// Runs one statement on `connection` and collects its rows. While another connection holds
/// the write lock, the statement is tried again after each of [`LockWaits`]: a statement that
/// found the database locked did nothing, so trying it again is safe.
pub async fn query(
    connection: &Connection,
    sql: &str,
    parameters: impl IntoIterator<Item = Value>,
) -> Result<Vec<RowResult>, Error> {
    let parameters: Vec<Value> = parameters.into_iter().collect();
    // The clock is read only once the database was found locked: none of it on the usual path.
    let mut first_locked: Option<u64> = None;
    let mut waits = LockWaits::default();
    loop {
        let outcome = run(connection, sql, parameters.clone()).await;
        let Err(error) = &outcome else {
            return outcome;
        };
        let now = monotonic_clock::now();
        let waited = Duration::from_nanos(now.saturating_sub(*first_locked.get_or_insert(now)));
        match waits.next_wait(waited) {
            Some(wait) if is_locked(error) => spin_sdk::time::sleep(wait).await,
            _ => return outcome,
        }
    }
}

async fn run(
    connection: &Connection,
    sql: &str,
    parameters: Vec<Value>,
) -> Result<Vec<RowResult>, Error> {
    connection.execute(sql, parameters).await?.collect().await
}

/// `statement`'s outcome, or a busy failure once it has taken [`STATEMENT_BUDGET`]. The
/// unfinished statement is dropped, and with it (by the caller) its connection, which no later
/// statement may use while the server may still be running this one.
async fn within_budget<T>(
    statement: impl std::future::Future<Output = T>,
) -> Result<T, StorageFailure> {
    crate::deadline::within(spin_sdk::time::sleep(STATEMENT_BUDGET), statement)
        .await
        .map_err(|_| {
            StorageFailure::Busy(format!(
                "sqlite: no answer within {} s",
                STATEMENT_BUDGET.as_secs()
            ))
        })
}

/// A connection the server no longer knows: libSQL expires a Hrana stream after some seconds
/// without a statement (`STREAM_EXPIRED`), and refuses the next statement on it unrun.
fn is_closed_by_server(error: &Error) -> bool {
    matches!(error, Error::Io(message) if message.contains("STREAM_EXPIRED"))
}

/// A libSQL server that could not be reached, or whose answer broke off: the libSQL client's
/// transport errors, which Spin passes on as their text (`Error::Io("Hrana: `http error:
/// ...`")`, or a cursor whose body ended early). A write may or may not have been applied;
/// the request fails as busy (503, retry), and the connection, whose stream the server may no
/// longer know (a restarted server knows none), is not used again. A statement's own error
/// (a constraint, a syntax error, a trigger's `RAISE`) arrives as a step error and is not one
/// of these.
fn is_unreachable(error: &Error) -> bool {
    const TRANSPORT: [&str; 3] = [
        "Hrana: `http error",
        "error reading a body from connection",
        "cursor stream ended prematurely",
    ];
    matches!(error, Error::Io(message) if TRANSPORT.iter().any(|t| message.contains(t)))
}

/// SQLITE_BUSY, as Spin reports it: SQLite's message for the code, since the interface has no
/// variant for it. A libSQL server also interrupts a statement now and then under write
/// contention (`SQLITE_INTERRUPT`, observed under Spin 4.1 with `sqld` 0.24.33 at 4 writers):
/// an interrupted statement was rolled back, so it too is tried again after a lock wait.
fn is_locked(error: &Error) -> bool {
    matches!(error, Error::Io(message)
        if message.contains("database is locked") || message.contains("SQLITE_INTERRUPT"))
}

/// Sets up a new connection to `database`: what SQLite keeps per connection (unless the
/// instance learned that the database refuses it), then, on the instance's first connection,
/// the file's journal mode and pending migrations. Returns what the instance now knows.
async fn prepare(
    connection: &Connection,
    database: &Database,
    known: Known,
) -> Result<Known, StorageFailure> {
    let mut known = known;
    if !known.settings_refused {
        // A locked database is waited for by `query`, not by SQLite's busy handler.
        let busy = apply_setting(connection, database, "PRAGMA busy_timeout = 0").await?;
        // PRAGMA takes no parameters; the level is our own integer.
        let synchronous = format!("PRAGMA synchronous = {}", database.synchronous.level());
        let level = apply_setting(connection, database, &synchronous).await?;
        known.settings_refused = busy.is_none() && level.is_none();
    }
    if known.schema_checked {
        return Ok(known);
    }
    let state = FileState::read(connection).await?;
    if state.journal_mode != database.journal_mode.name() {
        set_journal_mode(connection, database).await?;
    }
    let latest = database.migrations.last().map_or(0, |m| m.version);
    if state.user_version < latest {
        migrate(connection, database.migrations).await?;
    }
    known.schema_checked = true;
    Ok(known)
}

/// Runs a setting's PRAGMA and returns its rows, or `None` when the database refuses it: a
/// remote libSQL server answers "unsupported statement" to the PRAGMAs that are local-file
/// concerns, and the service must run there all the same (`docs/storage.md`). The refusal goes
/// to the log; a locked database fails like any statement.
async fn apply_setting(
    connection: &Connection,
    database: &Database,
    pragma: &str,
) -> Result<Option<Vec<RowResult>>, StorageFailure> {
    match query(connection, pragma, []).await {
        Ok(rows) => Ok(Some(rows)),
        Err(error) if is_locked(&error) => Err(error.into()),
        Err(error) => {
            crate::telemetry::warn("sqlite.setting_refused")
                .with("db.namespace", database.label)
                .with("db.query.text", pragma)
                .cause(format!("{error:?}"))
                .emit();
            Ok(None)
        }
    }
}

/// What the database file records about itself, read in one statement.
struct FileState {
    user_version: u32,
    journal_mode: String,
}

impl FileState {
    async fn read(connection: &Connection) -> Result<Self, StorageFailure> {
        let rows = query(
            connection,
            "SELECT (SELECT user_version FROM pragma_user_version),
                (SELECT journal_mode FROM pragma_journal_mode)",
            [],
        )
        .await?;
        let row = rows.first().ok_or_else(|| {
            StorageFailure::Broken("reading the schema version returned no row".into())
        })?;
        Ok(Self {
            user_version: column(row, 0)?,
            journal_mode: column::<&str>(row, 1)?.to_ascii_lowercase(),
        })
    }
}

/// Switches the file to the database's journal mode, outside any transaction (SQLite refuses it
/// inside one). A database that keeps another mode keeps working and says so in the log: an
/// in-memory database has no journal file, and a remote libSQL database manages its own log.
async fn set_journal_mode(
    connection: &Connection,
    database: &Database,
) -> Result<(), StorageFailure> {
    let wanted = database.journal_mode.name();
    let pragma = format!("PRAGMA journal_mode = {wanted}");
    let Some(rows) = apply_setting(connection, database, &pragma).await? else {
        return Ok(());
    };
    let now: Option<&str> = rows.first().and_then(|row| row.get(0));
    if !now.is_some_and(|mode| mode.eq_ignore_ascii_case(wanted)) {
        crate::telemetry::warn("sqlite.journal_mode_kept")
            .with("db.namespace", database.label)
            .with("sqlite.journal_mode.wanted", wanted)
            .with("sqlite.journal_mode.kept", now.unwrap_or_default())
            .emit();
    }
    Ok(())
}

/// Brings the schema up to the last migration, in one transaction. `BEGIN IMMEDIATE` takes the
/// write lock first, so two instances starting together apply each migration once: the second
/// re-reads `user_version` inside its transaction and finds nothing left to do.
async fn migrate(connection: &Connection, migrations: &[Migration]) -> Result<(), StorageFailure> {
    query(connection, "BEGIN IMMEDIATE", []).await?;
    match apply_pending(connection, migrations).await {
        Ok(()) => Ok(query(connection, "COMMIT", []).await.map(drop)?),
        Err(failure) => {
            if let Err(error) = query(connection, "ROLLBACK", []).await {
                crate::telemetry::error("sqlite.migration_rollback_failed")
                    .cause(format!("{error:?}"))
                    .emit();
            }
            Err(failure)
        }
    }
}

async fn apply_pending(
    connection: &Connection,
    migrations: &[Migration],
) -> Result<(), StorageFailure> {
    let current = user_version(connection).await?;
    for migration in migrations.iter().filter(|m| m.version > current) {
        for statement in migration.statements {
            query(connection, statement, []).await.map_err(|error| {
                StorageFailure::Broken(format!(
                    "migration {} ({}): {error:?}",
                    migration.version, migration.name
                ))
            })?;
        }
        // PRAGMA takes no parameters; the version is our own integer.
        let pragma = format!("PRAGMA user_version = {}", migration.version);
        query(connection, &pragma, []).await?;
    }
    Ok(())
}

async fn user_version(connection: &Connection) -> Result<u32, StorageFailure> {
    let rows = query(connection, "PRAGMA user_version", []).await?;
    rows.first()
        .and_then(|row| row.get::<u32>(0))
        .ok_or_else(|| StorageFailure::Broken("PRAGMA user_version returned no integer".into()))
}

/// Typed column access that turns a missing or mistyped column into a [`StorageFailure`]
/// instead of a panic.
pub fn column<'a, T: TryFrom<&'a Value>>(
    row: &'a RowResult,
    index: usize,
) -> Result<T, StorageFailure> {
    row.get(index).ok_or_else(|| {
        StorageFailure::Broken(format!(
            "column {index} is missing or has an unexpected type"
        ))
    })
}

/// The rows of a page that the statement returned as one JSON array in one row
/// (`SELECT json_group_array(json_array(a, b, ...)) FROM (... LIMIT n)`), each as `T` (a
/// tuple of the columns). Under Spin every row of a result crosses from the host to the
/// component as its own stream element; a page read as one row crosses once, which makes a
/// page of 500 several times cheaper to read.
pub fn json_rows<T: serde::de::DeserializeOwned>(
    rows: &[RowResult],
) -> Result<Vec<T>, StorageFailure> {
    let Some(row) = rows.first() else {
        return Ok(Vec::new());
    };
    let text: &str = column(row, 0)?;
    serde_json::from_str(text)
        .map_err(|error| StorageFailure::Broken(format!("a page of rows is not JSON: {error}")))
}

/// Checks that migrations are numbered 1, 2, 3... so a gap or a reordering is caught by a unit
/// test rather than by a production database.
pub fn versions_are_consecutive(migrations: &[Migration]) -> bool {
    migrations
        .iter()
        .enumerate()
        .all(|(index, migration)| migration.version as usize == index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_class::{Classify, ErrorClass};

    fn io(message: &str) -> Error {
        Error::Io(message.to_owned())
    }

    #[test]
    fn a_libsql_server_that_cannot_be_reached_is_busy_not_broken() {
        let refused =
            io("Hrana: `http error: `connection error: Connection refused (os error 111)``");
        let cut = io(
            "Hrana: `cursor error: `cursor error: `error reading a body from connection: \
             unexpected EOF during chunk size line```",
        );
        for error in [refused, cut] {
            assert!(is_unreachable(&error), "{error:?} is a transport failure");
            assert_eq!(
                StorageFailure::from(error).class(),
                ErrorClass::Busy,
                "answered 503 with Retry-After"
            );
        }
    }

    #[test]
    fn a_statement_the_libsql_server_interrupted_is_tried_again_like_a_locked_one() {
        let interrupted = io(
            "Hrana: `cursor error: `error at step 0: (error code: SQLITE_INTERRUPT) `SQLite \
             error: interrupted```",
        );
        assert!(is_locked(&interrupted), "rolled back, so safe to run again");
        assert_eq!(StorageFailure::from(interrupted).class(), ErrorClass::Busy);
    }

    #[test]
    fn a_statements_own_error_on_libsql_stays_broken() {
        let stale =
            io("Hrana: `cursor error: `error at step 1: SQLite error: stale fencing token``");
        assert!(
            !is_unreachable(&stale),
            "a trigger's RAISE is the statement's own error"
        );
        assert_eq!(StorageFailure::from(stale).class(), ErrorClass::Internal);
    }
}
