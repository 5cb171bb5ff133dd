//! Business rules of the rating service, independent of HTTP and of SQLite (storage is the
//! [`RatingRepository`] it declares). It does open the event log, [`RedisLog`], to publish
//! events and to report the pipeline: the next step is a port for it like the repository.

use crate::events::batch::Progress;
use crate::events::event::RatingEvent;
use crate::events::log::{Depths, RedisLog};
use crate::model::{AggregatedRating, Rating, RecordKey, UserId};
use futures::Stream;
use service_kit::auth::{Principal, scopes};
use service_kit::deadline::within;
use service_kit::lease::{Fence, FenceError, Leases};
use service_kit::snapshot::Snapshot;
use service_kit::{Classify, ErrorClass, StorageFailure, Stored};
use spin_sdk::time::sleep;
use std::rc::Rc;
use std::time::Duration;

/// What one chunk did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Records looked at: those with ratings, an aggregate, or both.
    pub records: usize,
    /// Aggregates written (wrong or missing) or deleted (no ratings left).
    pub repaired: usize,
    /// The chunk's last record, the next chunk's start.
    pub last: Option<RecordKey>,
    /// The lease's new expiry, by the database's clock.
    pub lease_expires_at_ms: i64,
}

/// What the controller needs from storage, declared by its consumer.
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
/// It also counts the service's rate-limited requests, in the same storage.
pub trait RatingRepository {
    /// Stores the user's rating of the record, replacing theirs if any, and keeps the record's
    /// aggregate current in the same atomic write.
    async fn put(&self, rating: &Rating) -> Result<Stored, StorageFailure>;
    /// Removes the user's rating (if any) and updates the aggregate atomically.
    async fn delete(&self, record: &RecordKey, user: &UserId) -> Result<(), StorageFailure>;
    /// The record's aggregate, read in O(1) in the number of ratings.
    async fn aggregate(
        &self,
        record: &RecordKey,
    ) -> Result<Option<AggregatedRating>, StorageFailure>;
    async fn ping(&self) -> Result<(), StorageFailure>;
    /// The last event the ingestion consumer applied, if any.
    async fn last_applied(&self) -> Result<Option<Progress>, StorageFailure>;

    /// The service's leases, kept in the same database as the work they fence.
    type Leases: Leases;
    fn leases(&self) -> &Self::Leases;

    /// Every rating as it is now, to be read page by page while writes go on (the export).
    type Snapshot: Snapshot<Item = Rating, Key = (RecordKey, UserId)> + 'static;
    async fn snapshot(&self) -> Result<Self::Snapshot, StorageFailure>;

    /// Recomputes the aggregates of the first `limit` records after `after` from their
    /// ratings and repairs those that differ, committing only if `fence` is still the lease's
    /// current token, together with the checkpoint and a renewal for `ttl`.
    async fn reconcile_chunk(
        &self,
        fence: &Fence,
        after: Option<&RecordKey>,
        limit: usize,
        ttl: Duration,
    ) -> Result<Chunk, FenceError>;
}

/// Ratings read per page of an export: one statement each.
pub const EXPORT_PAGE: usize = 500;

/// How long a request waits for the event log (connecting, then publishing).
pub const EVENT_LOG_TIMEOUT: Duration = Duration::from_millis(1_000);

/// How long the health report waits for the event log: well within the 250 ms movie gives a
/// whole health check of rating, so an unreachable log never makes rating look down.
pub const PIPELINE_PROBE_TIMEOUT: Duration = Duration::from_millis(100);

/// What the health report says about the event pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineState {
    pub depths: Result<Depths, String>,
    pub last_applied: Result<Option<Progress>, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RatingError {
    /// The event log cannot take events now; nothing was published.
    #[error("the event log is unavailable: {0}")]
    EventsUnavailable(String),
    #[error("{0} has no ratings")]
    NotRated(RecordKey),
    #[error("only a token of {0} or one granting ratings:admin may change {0}'s ratings")]
    NotTheirs(UserId),
    #[error(transparent)]
    Storage(#[from] StorageFailure),
}

impl Classify for RatingError {
    fn class(&self) -> ErrorClass {
        match self {
            RatingError::NotRated(_) => ErrorClass::NotFound,
            RatingError::NotTheirs(_) => ErrorClass::Forbidden(scopes::RATINGS_ADMIN),
            RatingError::Storage(failure) => failure.class(),
            RatingError::EventsUnavailable(_) => ErrorClass::Unavailable {
                service: "event log",
                retry_after_s: 5,
            },
        }
    }
}

/// A user rates only as themselves: the caller's subject must be the rating's user,
/// unless the caller may act for anyone (`ratings:admin`).
pub fn may_act_for(caller: &Principal, user: &UserId) -> Result<(), RatingError> {
    if caller.subject == user.as_str() || caller.has(scopes::RATINGS_ADMIN) {
        Ok(())
    } else {
        Err(RatingError::NotTheirs(user.clone()))
    }
}

pub struct RatingController<R> {
    pub(crate) repository: R,
    /// The event log's address, where `POST /ratings/events` publishes.
    pub events: Option<Rc<str>>,
}

impl<R: RatingRepository> RatingController<R> {
    /// A controller without an event log (see [`Self::with_events`]).
    pub fn new(repository: R) -> Self {
        Self {
            repository,
            events: None,
        }
    }

    pub fn with_events(self, address: &str) -> Self {
        Self {
            events: Some(Rc::from(address)),
            ..self
        }
    }

    /// The event log, opened within [`EVENT_LOG_TIMEOUT`].
    async fn event_log(&self) -> Result<RedisLog, RatingError> {
        let address = self
            .events
            .as_deref()
            .ok_or_else(|| RatingError::EventsUnavailable("no event log is configured".into()))?;
        within(sleep(EVENT_LOG_TIMEOUT), RedisLog::open(address))
            .await
            .map_err(|_| RatingError::EventsUnavailable("connecting timed out".into()))?
            .map_err(|failure| RatingError::EventsUnavailable(failure.to_string()))
    }

    /// Appends the events to the log as one step and wakes the consumer: all are accepted or
    /// none.
    pub async fn publish_events(&self, events: &[RatingEvent]) -> Result<usize, RatingError> {
        let log = self.event_log().await?;
        let payloads = events.iter().map(RatingEvent::to_payload).collect();
        within(sleep(EVENT_LOG_TIMEOUT), log.publish(payloads))
            .await
            .map_err(|_| RatingError::EventsUnavailable("publishing timed out".into()))?
            .map(|positions| positions.len())
            .map_err(|failure| RatingError::EventsUnavailable(failure.to_string()))
    }

    /// The event pipeline's state for the health report: the log's depths if it answers within
    /// [`PIPELINE_PROBE_TIMEOUT`], and the last event applied.
    pub async fn pipeline(&self) -> PipelineState {
        let probe = async {
            let address = self
                .events
                .as_deref()
                .ok_or_else(|| "no event log is configured".to_owned())?;
            let log = RedisLog::open(address)
                .await
                .map_err(|failure| failure.to_string())?;
            log.depths().await.map_err(|failure| failure.to_string())
        };
        let depths = within(sleep(PIPELINE_PROBE_TIMEOUT), probe)
            .await
            .unwrap_or_else(|_| Err("the event log did not answer in time".to_owned()));
        let last_applied = self.repository.last_applied().await;
        PipelineState {
            depths,
            last_applied: last_applied.map_err(|failure| failure.to_string()),
        }
    }

    /// One rating per user and record: a second rating by the same user replaces the first,
    /// so repeating a PUT never changes the aggregate twice.
    pub async fn put(&self, rating: &Rating) -> Result<Stored, RatingError> {
        Ok(self.repository.put(rating).await?)
    }

    pub async fn delete(&self, record: &RecordKey, user: &UserId) -> Result<(), RatingError> {
        Ok(self.repository.delete(record, user).await?)
    }

    pub async fn aggregate(&self, record: &RecordKey) -> Result<AggregatedRating, RatingError> {
        self.repository
            .aggregate(record)
            .await?
            .ok_or_else(|| RatingError::NotRated(record.clone()))
    }

    /// Every rating in record and user order, [`EXPORT_PAGE`] at a time, all from one snapshot
    /// taken now (see the metadata service's export). Storage failing before the first page is
    /// an error here; after it, an error item that ends the stream.
    pub async fn export(
        &self,
    ) -> Result<impl Stream<Item = Result<Vec<Rating>, StorageFailure>> + 'static, RatingError>
    {
        let snapshot = self.repository.snapshot().await?;
        Ok(service_kit::snapshot::pages(snapshot, EXPORT_PAGE))
    }

    pub async fn health(&self) -> Result<(), RatingError> {
        Ok(self.repository.ping().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RatingValue, RecordId, RecordType};
    use crate::repository::memory::InMemoryRatingRepository;
    use futures::executor::block_on;

    fn record(id: &str) -> RecordKey {
        RecordKey {
            record_type: RecordType::parse("movie").unwrap(),
            record_id: RecordId::parse(id).unwrap(),
        }
    }

    fn rating(id: &str, user: &str, value: i64) -> Rating {
        Rating {
            record: record(id),
            user: UserId::parse(user).unwrap(),
            value: RatingValue::parse(value).unwrap(),
        }
    }

    fn controller() -> RatingController<InMemoryRatingRepository> {
        RatingController::new(InMemoryRatingRepository::default())
    }

    #[test]
    fn the_aggregate_is_the_mean_of_all_users_ratings() {
        let c = controller();
        for (user, value) in [("u1", 5), ("u2", 4), ("u3", 3)] {
            assert_eq!(
                block_on(c.put(&rating("m1", user, value))).unwrap(),
                Stored::Created
            );
        }
        let aggregate = block_on(c.aggregate(&record("m1"))).unwrap();
        assert_eq!((aggregate.average(), aggregate.count()), (4.0, 3));
    }

    #[test]
    fn a_users_second_rating_replaces_the_first() {
        let c = controller();
        block_on(c.put(&rating("m1", "u1", 1))).unwrap();
        block_on(c.put(&rating("m1", "u2", 5))).unwrap();
        assert_eq!(
            block_on(c.put(&rating("m1", "u1", 3))).unwrap(),
            Stored::Replaced
        );
        let aggregate = block_on(c.aggregate(&record("m1"))).unwrap();
        assert_eq!((aggregate.average(), aggregate.count()), (4.0, 2));
    }

    #[test]
    fn ratings_of_other_records_do_not_mix() {
        let c = controller();
        block_on(c.put(&rating("m1", "u1", 1))).unwrap();
        block_on(c.put(&rating("m2", "u1", 5))).unwrap();
        assert_eq!(block_on(c.aggregate(&record("m1"))).unwrap().average(), 1.0);
    }

    #[test]
    fn a_record_without_ratings_is_not_rated() {
        let c = controller();
        assert!(matches!(
            block_on(c.aggregate(&record("m1"))),
            Err(RatingError::NotRated(..))
        ));
        block_on(c.put(&rating("m1", "u1", 2))).unwrap();
        block_on(c.delete(&record("m1"), &UserId::parse("u1").unwrap())).unwrap();
        assert!(matches!(
            block_on(c.aggregate(&record("m1"))),
            Err(RatingError::NotRated(..))
        ));
    }
}
