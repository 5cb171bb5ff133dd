//! The event log as the consumer and the producers need it ([`EventLog`]), on Redis through
//! Spin's outbound Redis ([`RedisLog`]). The consumer's rules are tested against an in-memory
//! log; the Redis commands are tested end to end against a real server.

use super::stream::{
    self, APPEND_ALL, CONSUMER, DEAD_LETTERS, Entry, FIELD, GROUP, Malformed, Pending, Position,
    Read, STREAM, WAKE_CHANNEL,
};
use spin_sdk::redis::{Connection, Error as RedisError, RedisParameter, RedisResult};
use std::fmt;

/// The log could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFailure {
    /// The server is unreachable, not allowed, or refused a command.
    Unavailable(String),
    /// A reply did not have its command's shape.
    Malformed(Malformed),
}

impl LogFailure {
    /// Whether the server's refusal names this error code (`BUSYGROUP`, `NOGROUP`).
    fn is_code(&self, code: &str) -> bool {
        matches!(self, LogFailure::Unavailable(message) if message.contains(code))
    }
}

impl fmt::Display for LogFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogFailure::Unavailable(message) => write!(f, "event log: {message}"),
            LogFailure::Malformed(malformed) => write!(f, "event log: {malformed}"),
        }
    }
}

impl From<RedisError> for LogFailure {
    fn from(error: RedisError) -> Self {
        Self::Unavailable(match error {
            RedisError::InvalidAddress => "the address is invalid or not allowed".to_owned(),
            RedisError::TooManyConnections => "too many connections".to_owned(),
            RedisError::TypeError => "a value had the wrong type".to_owned(),
            RedisError::Other(message) => message,
        })
    }
}

impl From<Malformed> for LogFailure {
    fn from(malformed: Malformed) -> Self {
        Self::Malformed(malformed)
    }
}

/// What the consumer does with the log.
#[allow(async_fn_in_trait)]
pub trait EventLog {
    /// Creates the consumer group (and the stream) if they do not exist.
    async fn ensure_group(&self) -> Result<(), LogFailure>;
    /// Up to `count` entries never delivered to the group; see [`Read`] for entries of
    /// another shape.
    async fn read_new(&self, count: usize) -> Result<Read, LogFailure>;
    /// Up to `count` entries pending for at least `min_idle_ms`, oldest first.
    async fn abandoned(&self, min_idle_ms: u64, count: usize) -> Result<Vec<Pending>, LogFailure>;
    /// Takes over one abandoned entry; `None` if it is gone or another consumer took it.
    async fn claim(
        &self,
        position: Position,
        min_idle_ms: u64,
    ) -> Result<Option<Entry>, LogFailure>;
    /// Keeps an entry that will never apply, with why, in the dead-letter stream.
    async fn dead_letter(&self, entry: &Entry, reason: &str) -> Result<(), LogFailure>;
    /// Marks entries done and removes them, so the stream holds only work not yet done.
    async fn acknowledge(&self, positions: &[Position]) -> Result<(), LogFailure>;
    /// Asks for another round of the consumer.
    async fn wake(&self) -> Result<(), LogFailure>;
}

/// The log on a Redis server.
pub struct RedisLog {
    connection: Connection,
}

fn text(value: &str) -> RedisParameter {
    RedisParameter::Binary(value.as_bytes().to_vec())
}

fn number(value: u64) -> RedisParameter {
    RedisParameter::Int64(i64::try_from(value).unwrap_or(i64::MAX))
}

impl RedisLog {
    pub async fn open(address: &str) -> Result<Self, LogFailure> {
        Ok(Self {
            connection: Connection::open(address).await?,
        })
    }

    async fn run(
        &self,
        command: &str,
        arguments: Vec<RedisParameter>,
    ) -> Result<Vec<RedisResult>, LogFailure> {
        Ok(self.connection.execute(command, arguments).await?)
    }

    /// Appends `payloads` to the stream as one step, then wakes the consumer; returns the
    /// entries' ids.
    pub async fn publish(&self, payloads: Vec<Vec<u8>>) -> Result<Vec<Position>, LogFailure> {
        let mut arguments = vec![text(APPEND_ALL), number(1), text(STREAM)];
        arguments.extend(payloads.into_iter().map(RedisParameter::Binary));
        let reply = self.run("EVAL", arguments).await?;
        let positions = reply
            .iter()
            .map(|id| match id {
                RedisResult::Binary(bytes) => Position::parse(bytes),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(Malformed("the appended ids"))?;
        self.wake().await?;
        Ok(positions)
    }

    /// Entries in the stream not yet applied (undelivered or pending), and in the dead-letter
    /// stream: the pipeline's lag and its failures.
    pub async fn depths(&self) -> Result<Depths, LogFailure> {
        let waiting = stream::parse_integer(&self.run("XLEN", vec![text(STREAM)]).await?)?;
        let dead = stream::parse_integer(&self.run("XLEN", vec![text(DEAD_LETTERS)]).await?)?;
        let in_flight = match self.run("XPENDING", vec![text(STREAM), text(GROUP)]).await {
            Ok(reply) => stream::parse_pending_count(&reply)?,
            // No group yet: nothing was ever delivered.
            Err(failure) if failure.is_code("NOGROUP") => 0,
            Err(failure) => return Err(failure),
        };
        Ok(Depths {
            waiting,
            in_flight,
            dead,
        })
    }
}

/// The pipeline's depths, for the health report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depths {
    /// Entries in the stream: accepted and not yet applied (the lag).
    pub waiting: u64,
    /// Of those, delivered to a consumer and not yet acknowledged.
    pub in_flight: u64,
    /// Entries in the dead-letter stream.
    pub dead: u64,
}

impl EventLog for RedisLog {
    async fn ensure_group(&self) -> Result<(), LogFailure> {
        let arguments = vec![
            text("CREATE"),
            text(STREAM),
            text(GROUP),
            text("0"),
            text("MKSTREAM"),
        ];
        match self.run("XGROUP", arguments).await {
            Ok(_) => Ok(()),
            Err(failure) if failure.is_code("BUSYGROUP") => Ok(()),
            Err(failure) => Err(failure),
        }
    }

    async fn read_new(&self, count: usize) -> Result<Read, LogFailure> {
        let arguments = vec![
            text("GROUP"),
            text(GROUP),
            text(CONSUMER),
            text("COUNT"),
            number(count as u64),
            text("STREAMS"),
            text(STREAM),
            text(">"),
        ];
        Ok(stream::parse_read(
            &self.run("XREADGROUP", arguments).await?,
        ))
    }

    async fn abandoned(&self, min_idle_ms: u64, count: usize) -> Result<Vec<Pending>, LogFailure> {
        let arguments = vec![
            text(STREAM),
            text(GROUP),
            text("IDLE"),
            number(min_idle_ms),
            text("-"),
            text("+"),
            number(count as u64),
        ];
        Ok(stream::parse_pending(
            &self.run("XPENDING", arguments).await?,
        )?)
    }

    async fn claim(
        &self,
        position: Position,
        min_idle_ms: u64,
    ) -> Result<Option<Entry>, LogFailure> {
        let arguments = vec![
            text(STREAM),
            text(GROUP),
            text(CONSUMER),
            number(min_idle_ms),
            text(&position.to_string()),
        ];
        Ok(stream::parse_claimed(
            &self.run("XCLAIM", arguments).await?,
        )?)
    }

    async fn dead_letter(&self, entry: &Entry, reason: &str) -> Result<(), LogFailure> {
        let arguments = vec![
            text(DEAD_LETTERS),
            text("*"),
            text(FIELD),
            RedisParameter::Binary(entry.original()),
            text("reason"),
            text(reason),
            text("entry"),
            text(&entry.position.to_string()),
        ];
        self.run("XADD", arguments).await.map(drop)
    }

    async fn acknowledge(&self, positions: &[Position]) -> Result<(), LogFailure> {
        if positions.is_empty() {
            return Ok(());
        }
        let ids: Vec<RedisParameter> = positions.iter().map(|p| text(&p.to_string())).collect();
        let mut ack = vec![text(STREAM), text(GROUP)];
        ack.extend(ids.iter().cloned());
        self.run("XACK", ack).await?;
        let mut delete = vec![text(STREAM)];
        delete.extend(ids);
        self.run("XDEL", delete).await.map(drop)
    }

    async fn wake(&self) -> Result<(), LogFailure> {
        Ok(self.connection.publish(WAKE_CHANNEL, b"wake").await?)
    }
}
