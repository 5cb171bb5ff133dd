//! Reconciliation: every record's aggregate (`rating_totals`) recomputed from its individual
//! ratings, and drift repaired. The triggers keep the aggregates exact on every write; drift
//! comes from outside them (a restored backup, a hand edit, a bug), and this job is how an
//! operator knows it is gone.
//!
//! One run at a time, under the `rating.reconcile` lease: a second start is refused with who
//! holds it until when. A run works in chunks of records in key order. Each chunk is one
//! transaction that repairs the chunk, records the checkpoint (the chunk's last record) and
//! renews the lease, committed only if the lease's fencing token is still ours. A run stops
//! when its time budget is spent (and answers "partial") or when the records end; a run cut
//! off by anything leaves the checkpoint of its last committed chunk, where the next run
//! resumes once the lease is free or expired.

use crate::controller::{RatingController, RatingRepository};
use crate::model::{RecordId, RecordKey, RecordType};
use http::StatusCode;
use serde::Serialize;
use service_kit::Invalid;
use service_kit::instance::Stopwatch;
use service_kit::lease::{Acquisition, Fence, FenceError, Leases};
use service_kit::{Problem, StorageFailure};
use std::time::Duration;

/// The lease every run takes.
pub const LEASE: &str = "rating.reconcile";

/// How a run works: records per chunk, how long it may run before it stops with a
/// checkpoint, and the lease's time to live (renewed by every chunk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    pub chunk: usize,
    pub budget: Duration,
    pub lease_ttl: Duration,
}

impl Default for RunLimits {
    /// 500 records a chunk (a few milliseconds of the write lock); 10 s a run, well within
    /// any gateway's request timeout; a 30 s lease, three times the longest a run holds it
    /// between renewals.
    fn default() -> Self {
        Self {
            chunk: 500,
            budget: Duration::from_secs(10),
            lease_ttl: Duration::from_secs(30),
        }
    }
}

impl RunLimits {
    pub const CHUNK: (usize, usize) = (1, 5000);
    pub const BUDGET_MS: (u64, u64) = (100, 60_000);
    pub const LEASE_MS: (u64, u64) = (1_000, 600_000);

    pub fn parse_chunk(raw: &str) -> Result<usize, Invalid> {
        let (low, high) = Self::CHUNK;
        raw.parse::<usize>()
            .ok()
            .filter(|n| (low..=high).contains(n))
            .ok_or_else(|| Invalid::new(format!("must be an integer from {low} to {high}")))
    }

    pub fn parse_budget(raw: &str) -> Result<Duration, Invalid> {
        parse_millis(raw, Self::BUDGET_MS)
    }

    pub fn parse_lease(raw: &str) -> Result<Duration, Invalid> {
        parse_millis(raw, Self::LEASE_MS)
    }
}

fn parse_millis(raw: &str, (low, high): (u64, u64)) -> Result<Duration, Invalid> {
    raw.parse::<u64>()
        .ok()
        .filter(|n| (low..=high).contains(n))
        .map(Duration::from_millis)
        .ok_or_else(|| Invalid::new(format!("must be an integer from {low} to {high}")))
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every record was reconciled; the next run starts over.
    Complete,
    /// The budget ran out; the next run resumes from the checkpoint.
    Partial,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Complete => "complete",
            RunStatus::Partial => "partial",
        }
    }
}

/// A run's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub status: RunStatus,
    pub holder: String,
    pub fencing_token: i64,
    /// The checkpoint this run started from, when an earlier run left one.
    pub resumed_from: Option<String>,
    /// Where the next run starts (`partial` only).
    pub checkpoint: Option<String>,
    pub records: u64,
    pub repaired: u64,
    pub chunks: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Another run holds the lease.
    #[error("a reconciliation run ({holder}) holds the lease")]
    Held { holder: String, expires_at_ms: i64 },
    /// This run's lease was taken over while it worked: it stopped, its last chunk undone.
    #[error("this run's lease was taken over by a newer run; it stopped without writing")]
    Superseded,
    #[error(transparent)]
    Storage(#[from] StorageFailure),
}

impl From<FenceError> for ReconcileError {
    fn from(error: FenceError) -> Self {
        match error {
            FenceError::Superseded(_) => Self::Superseded,
            FenceError::Storage(failure) => Self::Storage(failure),
        }
    }
}

/// 409 for a run that cannot go on (naming the holder and when its lease expires, with
/// `Retry-After`); storage fails as everywhere.
impl From<ReconcileError> for Problem {
    fn from(error: ReconcileError) -> Self {
        match error {
            ReconcileError::Held {
                holder,
                expires_at_ms,
            } => {
                let now = i64::try_from(service_kit::instance::now_ms()).unwrap_or(i64::MAX);
                let wait_s = (expires_at_ms.saturating_sub(now) + 999) / 1000;
                let expires_at = service_kit::instance::rfc3339(expires_at_ms);
                Problem::new(
                    StatusCode::CONFLICT,
                    format!("a reconciliation run holds the lease until {expires_at}"),
                )
                .with_member("holder", holder)
                .with_member("expiresAt", expires_at)
                .with_retry_after(u32::try_from(wait_s.max(1)).unwrap_or(u32::MAX))
            }
            ReconcileError::Superseded => Problem::new(StatusCode::CONFLICT, error.to_string()),
            ReconcileError::Storage(failure) => failure.into(),
        }
    }
}

/// A record as a checkpoint: `type/id` (neither may contain `/`).
pub fn checkpoint(record: &RecordKey) -> String {
    format!("{}/{}", record.record_type, record.record_id)
}

/// The record a checkpoint names, if it names one.
pub fn parse_checkpoint(text: &str) -> Option<RecordKey> {
    let (record_type, record_id) = text.split_once('/')?;
    Some(RecordKey {
        record_type: RecordType::parse(record_type).ok()?,
        record_id: RecordId::parse(record_id).ok()?,
    })
}

impl<R: RatingRepository> RatingController<R> {
    /// Runs reconciliation as `holder` within `limits`, resuming from the checkpoint an
    /// earlier run left.
    pub async fn reconcile(
        &self,
        holder: &str,
        limits: RunLimits,
    ) -> Result<RunReport, ReconcileError> {
        let clock = Stopwatch::start();
        let (fence, resumed_from) = match self
            .repository
            .leases()
            .acquire(LEASE, holder, limits.lease_ttl)
            .await?
        {
            Acquisition::Held {
                holder,
                expires_at_ms,
            } => {
                return Err(ReconcileError::Held {
                    holder,
                    expires_at_ms,
                });
            }
            Acquisition::Granted {
                fence, checkpoint, ..
            } => (fence, checkpoint),
        };
        let mut report = RunReport {
            status: RunStatus::Partial,
            holder: holder.to_owned(),
            fencing_token: fence.token,
            resumed_from: resumed_from.clone(),
            checkpoint: None,
            records: 0,
            repaired: 0,
            chunks: 0,
        };
        let mut after = resumed_from.as_deref().and_then(parse_checkpoint);
        let outcome = loop {
            let chunk = match self
                .repository
                .reconcile_chunk(&fence, after.as_ref(), limits.chunk, limits.lease_ttl)
                .await
            {
                Ok(chunk) => chunk,
                Err(error) => break Err(ReconcileError::from(error)),
            };
            report.chunks += 1;
            report.records += chunk.records as u64;
            report.repaired += chunk.repaired as u64;
            if chunk.records < limits.chunk {
                report.status = RunStatus::Complete;
                break Ok(None);
            }
            after = chunk.last;
            if clock.elapsed() >= limits.budget {
                break Ok(after.as_ref().map(checkpoint));
            }
        };
        self.end_run(&fence, outcome, after.as_ref(), report).await
    }

    /// Releases the lease: with the checkpoint to resume from, or none once complete. A
    /// failed run still releases what it can, so the next need not wait for the TTL.
    async fn end_run(
        &self,
        fence: &Fence,
        outcome: Result<Option<String>, ReconcileError>,
        last_committed: Option<&RecordKey>,
        report: RunReport,
    ) -> Result<RunReport, ReconcileError> {
        match outcome {
            Ok(next) => {
                self.repository
                    .leases()
                    .release(fence, next.as_deref())
                    .await?;
                Ok(RunReport {
                    checkpoint: next,
                    ..report
                })
            }
            Err(ReconcileError::Superseded) => Err(ReconcileError::Superseded),
            Err(error) => {
                let resume = last_committed.map(checkpoint);
                if let Err(release) = self
                    .repository
                    .leases()
                    .release(fence, resume.as_deref())
                    .await
                {
                    service_kit::telemetry::warn("reconcile.release_failed")
                        .cause(release)
                        .emit();
                }
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Rating, RatingValue, UserId};
    use crate::repository::memory::InMemoryRatingRepository as Memory;
    use futures::executor::block_on;

    fn record(id: &str) -> RecordKey {
        RecordKey {
            record_type: RecordType::parse("movie").unwrap(),
            record_id: RecordId::parse(id).unwrap(),
        }
    }

    /// A controller whose records `r0`..`r{n-1}` each have one rating of 4.
    fn rated(n: usize) -> RatingController<Memory> {
        let c = RatingController::new(Memory::default());
        for i in 0..n {
            let rating = Rating {
                record: record(&format!("r{i}")),
                user: UserId::parse("u").unwrap(),
                value: RatingValue::parse(4).unwrap(),
            };
            block_on(c.put(&rating)).unwrap();
        }
        c
    }

    fn limits(chunk: usize, budget_ms: u64) -> RunLimits {
        RunLimits {
            chunk,
            budget: Duration::from_millis(budget_ms),
            lease_ttl: Duration::from_secs(30),
        }
    }

    fn average(c: &RatingController<Memory>, id: &str) -> f64 {
        block_on(c.aggregate(&record(id))).unwrap().average()
    }

    #[test]
    fn a_run_repairs_every_drifted_aggregate_and_completes() {
        let c = rated(7);
        c.repository.drift(&record("r2"), 10, 1);
        c.repository.drift(&record("r6"), 1, 1);
        let report = block_on(c.reconcile("run-a", limits(3, 60_000))).unwrap();
        assert_eq!(
            (
                report.status,
                report.records,
                report.repaired,
                report.chunks
            ),
            (RunStatus::Complete, 7, 2, 3)
        );
        assert_eq!((average(&c, "r2"), average(&c, "r6")), (4.0, 4.0));
    }

    #[test]
    fn a_second_start_while_a_run_holds_the_lease_is_refused_naming_the_holder() {
        let c = rated(1);
        block_on(
            c.repository
                .leases
                .acquire(LEASE, "run-a", Duration::from_secs(30)),
        )
        .unwrap();
        let refused = block_on(c.reconcile("run-b", limits(3, 60_000)));
        assert!(
            matches!(&refused, Err(ReconcileError::Held { holder, expires_at_ms: 30_000 }) if holder == "run-a"),
            "{refused:?}"
        );
    }

    #[test]
    fn a_run_out_of_budget_leaves_a_checkpoint_the_next_run_resumes_from() {
        let c = rated(5);
        c.repository.drift(&record("r4"), 1, 1);
        let first = block_on(c.reconcile("run-a", limits(2, 0))).unwrap();
        assert_eq!(
            (first.status, first.checkpoint.as_deref(), first.chunks),
            (RunStatus::Partial, Some("movie/r1"), 1)
        );
        let second = block_on(c.reconcile("run-b", limits(2, 60_000))).unwrap();
        assert_eq!(
            (
                second.status,
                second.resumed_from.as_deref(),
                second.records,
                second.repaired
            ),
            (RunStatus::Complete, Some("movie/r1"), 3, 1)
        );
        assert!(second.fencing_token > first.fencing_token, "tokens grow");
    }

    #[test]
    fn a_completed_run_leaves_no_checkpoint_so_the_next_starts_over() {
        let c = rated(2);
        block_on(c.reconcile("run-a", limits(5, 60_000))).unwrap();
        let next = block_on(c.reconcile("run-b", limits(5, 60_000))).unwrap();
        assert_eq!((next.resumed_from, next.records), (None, 2));
    }

    #[test]
    fn a_chunk_under_a_stale_fence_repairs_nothing() {
        let c = rated(2);
        c.repository.drift(&record("r0"), 1, 1);
        let ttl = Duration::from_millis(100);
        let stale = match block_on(c.repository.leases.acquire(LEASE, "run-a", ttl)).unwrap() {
            Acquisition::Granted { fence, .. } => fence,
            held => panic!("{held:?}"),
        };
        c.repository.leases.now_ms.set(1_000);
        block_on(c.repository.leases.acquire(LEASE, "run-b", ttl)).unwrap();
        let refused = block_on(c.repository.reconcile_chunk(&stale, None, 10, ttl));
        assert!(
            matches!(refused, Err(FenceError::Superseded(LEASE))),
            "{refused:?}"
        );
        assert_eq!(
            average(&c, "r0"),
            1.0,
            "the drift the stale run would have repaired"
        );
    }

    #[test]
    fn checkpoints_name_a_record_and_anything_else_starts_over() {
        assert_eq!(
            parse_checkpoint(&checkpoint(&record("m.1"))),
            Some(record("m.1"))
        );
        assert_eq!(parse_checkpoint("no slash"), None);
        assert_eq!(parse_checkpoint("Movie/m1"), None, "an invalid record type");
    }

    #[test]
    fn run_limits_are_bounded() {
        assert!(RunLimits::parse_chunk("0").is_err());
        assert!(RunLimits::parse_chunk("5001").is_err());
        assert_eq!(RunLimits::parse_chunk("500").ok(), Some(500));
        assert!(RunLimits::parse_lease("999").is_err());
        assert!(RunLimits::parse_budget("abc").is_err());
    }
}
