//! Group commit: the writes an instance's concurrent requests make to one table go to the store
//! together, as one statement, instead of one statement each.
//!
//! Why: on a libSQL server each statement is a network round trip and a commit on the server,
//! and the server's own rate of single-row upserts is the ceiling of a write route (rating's
//! upsert straight to `sqld`: about 600 per second on 16 connections of a 2-core machine, while
//! one statement of 16 rows ran about 500 times a second). On a local file, one commit for many
//! rows also saves the log appends of all but one.
//!
//! How: a write joins the instance's queue. If no batch is in flight, it leads: it takes the
//! queue's front (up to [`MAX_BATCH`] writes, no two with the same key, so each row's outcome is
//! its own), runs them as one statement, hands every write of the batch its outcome, and passes
//! the lead to the write now at the front of the queue, if any. Writes that arrive while a batch
//! is in flight wait for the next one, so a lone write goes out at once, alone, and batches grow
//! only as writes overlap. A failed statement fails every write of its batch with the same
//! failure: the statement is atomic, so none of them was applied.
//!
//! A request that goes away (its future dropped) never strands the others: a waiting write
//! leaves the queue and passes on the lead it held; a leader dropped while its batch is in
//! flight puts the batch's other writes back at the front of the queue for the next leader.
//! Those may then be written twice, which an idempotent upsert allows.

use crate::StorageFailure;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// The most writes in one statement: 32 rows of a handful of parameters each stay far below
/// SQLite's limit on bound parameters, and a batch that fails takes at most this many with it.
pub const MAX_BATCH: usize = 32;

/// One instance's queue of writes of one kind. Instances are single-threaded: keep it in a
/// `thread_local!`.
pub struct GroupCommit<T, O> {
    state: RefCell<State<T, O>>,
}

struct State<T, O> {
    queue: VecDeque<Rc<Write<T, O>>>,
    /// Whether some write holds the lead (waiting to start, or with its batch in flight).
    led: bool,
}

struct Write<T, O> {
    item: T,
    slot: RefCell<Slot<O>>,
}

enum Slot<O> {
    Waiting(Option<Waker>),
    /// Given the lead, not yet taken up by its future.
    Lead(Option<Waker>),
    Leading,
    Done(Option<Result<O, StorageFailure>>),
}

impl<T, O> Default for GroupCommit<T, O> {
    fn default() -> Self {
        Self {
            state: RefCell::new(State {
                queue: VecDeque::new(),
                led: false,
            }),
        }
    }
}

impl<T, O> GroupCommit<T, O> {
    /// Writes `item` together with whatever overlaps it, and returns its own outcome. `key`
    /// names the row an item writes (no two in one batch); `run` writes a batch as one
    /// statement and returns each item's outcome in the batch's order.
    pub async fn submit<K, F>(
        &self,
        item: T,
        key: impl Fn(&T) -> K,
        run: impl Fn(Vec<T>) -> F,
    ) -> Result<O, StorageFailure>
    where
        T: Clone,
        K: PartialEq,
        F: Future<Output = Result<Vec<O>, StorageFailure>>,
    {
        let write = Rc::new(Write {
            item,
            slot: RefCell::new(Slot::Waiting(None)),
        });
        {
            let mut state = self.state.borrow_mut();
            state.queue.push_back(Rc::clone(&write));
            if !state.led {
                state.led = true;
                *write.slot.borrow_mut() = Slot::Lead(None);
            }
        }
        let mut waiting = Waiting {
            commit: self,
            write: &write,
            finished: false,
        };
        loop {
            match (&mut waiting).await {
                Turn::Done(outcome) => {
                    waiting.finished = true;
                    return outcome;
                }
                Turn::Lead => {
                    // The queue's front holds the leader's own write, so the batch does too.
                    let batch = self.take_batch(&key);
                    let statement = run(batch.iter().map(|w| w.item.clone()).collect());
                    self.land(&batch, statement).await;
                }
            }
        }
    }

    /// Waits for `statement`, the batch's writes, hands each write its outcome and passes
    /// the lead on.
    async fn land(
        &self,
        batch: &[Rc<Write<T, O>>],
        statement: impl Future<Output = Result<Vec<O>, StorageFailure>>,
    ) {
        let mut flight = Flight {
            commit: self,
            batch,
            landed: false,
        };
        let outcome = statement.await;
        flight.landed = true;
        let outcomes: Vec<Result<O, StorageFailure>> = match outcome {
            Ok(outputs) if outputs.len() == batch.len() => outputs.into_iter().map(Ok).collect(),
            Ok(outputs) => {
                let failure = StorageFailure::Broken(format!(
                    "a batch of {} writes returned {} outcomes",
                    batch.len(),
                    outputs.len()
                ));
                batch.iter().map(|_| Err(failure.clone())).collect()
            }
            Err(failure) => batch.iter().map(|_| Err(failure.clone())).collect(),
        };
        for (write, outcome) in batch.iter().zip(outcomes) {
            write.finish(outcome);
        }
        self.pass_lead();
    }

    /// The queue's front writes, up to [`MAX_BATCH`], skipping any whose key is already in the
    /// batch (they stay queued, in order, for the next one).
    fn take_batch<K: PartialEq>(&self, key: &impl Fn(&T) -> K) -> Vec<Rc<Write<T, O>>> {
        let mut state = self.state.borrow_mut();
        let mut batch: Vec<Rc<Write<T, O>>> = Vec::new();
        let mut keys: Vec<K> = Vec::new();
        let mut left = VecDeque::new();
        while let Some(write) = state.queue.pop_front() {
            let write_key = key(&write.item);
            if batch.len() < MAX_BATCH && !keys.contains(&write_key) {
                keys.push(write_key);
                batch.push(write);
            } else {
                left.push_back(write);
            }
        }
        state.queue = left;
        batch
    }

    /// Gives the lead to the write at the queue's front, or lets the next write lead at once.
    fn pass_lead(&self) {
        let mut state = self.state.borrow_mut();
        match state.queue.front() {
            Some(next) => next.lead(),
            None => state.led = false,
        }
    }
}

impl<T, O> Write<T, O> {
    fn lead(&self) {
        let mut slot = self.slot.borrow_mut();
        if let Slot::Waiting(waker) = &mut *slot {
            let waker = waker.take();
            *slot = Slot::Lead(None);
            drop(slot);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    fn finish(&self, outcome: Result<O, StorageFailure>) {
        let previous = std::mem::replace(&mut *self.slot.borrow_mut(), Slot::Done(Some(outcome)));
        if let Slot::Waiting(Some(waker)) | Slot::Lead(Some(waker)) = previous {
            waker.wake();
        }
    }
}

enum Turn<O> {
    Done(Result<O, StorageFailure>),
    Lead,
}

/// A write's wait for its outcome or for the lead; leaving early gives both up cleanly.
struct Waiting<'a, T, O> {
    commit: &'a GroupCommit<T, O>,
    write: &'a Rc<Write<T, O>>,
    finished: bool,
}

impl<T, O> Future for &mut Waiting<'_, T, O> {
    type Output = Turn<O>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Turn<O>> {
        let mut slot = self.write.slot.borrow_mut();
        match &mut *slot {
            Slot::Done(outcome) => match outcome.take() {
                Some(outcome) => Poll::Ready(Turn::Done(outcome)),
                None => Poll::Pending,
            },
            Slot::Lead(_) => {
                *slot = Slot::Leading;
                Poll::Ready(Turn::Lead)
            }
            Slot::Waiting(waker) => {
                *waker = Some(context.waker().clone());
                Poll::Pending
            }
            // Only the leader's own loop sees this, between its batch and its outcome.
            Slot::Leading => Poll::Pending,
        }
    }
}

impl<T, O> Drop for Waiting<'_, T, O> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let held_lead = {
            let mut state = self.commit.state.borrow_mut();
            state.queue.retain(|w| !Rc::ptr_eq(w, self.write));
            matches!(*self.write.slot.borrow(), Slot::Lead(_) | Slot::Leading)
        };
        if held_lead {
            self.commit.pass_lead();
        }
    }
}

/// A batch in flight; dropped before it landed (its leader went away), it puts the batch's
/// other writes back at the queue's front, unanswered, for the next leader.
struct Flight<'a, T, O> {
    commit: &'a GroupCommit<T, O>,
    batch: &'a [Rc<Write<T, O>>],
    landed: bool,
}

impl<T, O> Drop for Flight<'_, T, O> {
    fn drop(&mut self) {
        if self.landed {
            return;
        }
        let mut state = self.commit.state.borrow_mut();
        for write in self.batch.iter().skip(1).rev() {
            let mut slot = write.slot.borrow_mut();
            if let Slot::Lead(waker) = &mut *slot {
                *slot = Slot::Waiting(waker.take());
            }
            drop(slot);
            state.queue.push_front(Rc::clone(write));
        }
        // The leader's `Waiting` drops next and passes the lead on from its slot (`Leading`).
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::LocalPool;
    use futures::task::LocalSpawnExt;
    use std::cell::Cell;

    /// A store whose statements finish when the test says: each batch run is recorded, then
    /// waits for `release`.
    #[derive(Default)]
    struct Store {
        batches: RefCell<Vec<Vec<u32>>>,
        open: Cell<bool>,
        fail: Cell<bool>,
        parked: RefCell<Vec<Waker>>,
    }

    impl Store {
        async fn run(&self, items: Vec<u32>) -> Result<Vec<u32>, StorageFailure> {
            self.batches.borrow_mut().push(items.clone());
            Gate(self).await;
            if self.fail.get() {
                return Err(StorageFailure::Busy("locked".into()));
            }
            Ok(items.iter().map(|i| i * 10).collect())
        }

        /// Lets every statement in flight, and every later one, finish.
        fn release(&self) {
            self.open.set(true);
            for waker in self.parked.borrow_mut().drain(..) {
                waker.wake();
            }
        }
    }

    /// Pending until the store is opened.
    struct Gate<'a>(&'a Store);

    impl Future for Gate<'_> {
        type Output = ();
        fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
            if self.0.open.get() {
                Poll::Ready(())
            } else {
                self.0.parked.borrow_mut().push(context.waker().clone());
                Poll::Pending
            }
        }
    }

    type Outcomes = Rc<RefCell<Vec<(u32, Result<u32, String>)>>>;

    /// One instance's queue, a store that holds statements until released, and the writes'
    /// outcomes, driven by a single-threaded executor as an instance is.
    #[derive(Default)]
    struct Instance {
        pool: LocalPool,
        commit: Rc<GroupCommit<u32, u32>>,
        store: Rc<Store>,
        outcomes: Outcomes,
    }

    impl Instance {
        /// Starts a write of each item (key: the item modulo 100) and runs until all wait.
        fn write(&mut self, items: &[u32]) {
            for &item in items {
                let (commit, store, outcomes) = (
                    Rc::clone(&self.commit),
                    Rc::clone(&self.store),
                    Rc::clone(&self.outcomes),
                );
                self.pool
                    .spawner()
                    .spawn_local(async move {
                        let outcome = commit
                            .submit(item, |i| *i % 100, |batch| store.run(batch))
                            .await;
                        outcomes
                            .borrow_mut()
                            .push((item, outcome.map_err(|e| e.to_string())));
                    })
                    .expect("spawned");
            }
            self.pool.run_until_stalled();
        }

        /// A write polled by hand once (so the test may drop it), pending.
        fn write_by_hand(
            &self,
            item: u32,
        ) -> Pin<Box<dyn Future<Output = Result<u32, StorageFailure>>>> {
            let (commit, store) = (Rc::clone(&self.commit), Rc::clone(&self.store));
            let mut write: Pin<Box<dyn Future<Output = _>>> =
                Box::pin(
                    async move { commit.submit(item, |i| *i, |batch| store.run(batch)).await },
                );
            let waker = futures::task::noop_waker();
            assert!(
                write
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending(),
                "write {item} waits"
            );
            write
        }

        /// Lets the store answer, and runs every write to its end.
        fn release(&mut self) {
            self.store.release();
            self.pool.run();
        }

        fn batches(&self) -> Vec<Vec<u32>> {
            self.store.batches.borrow().clone()
        }
    }

    #[test]
    fn a_lone_write_goes_out_alone_and_writes_that_overlap_it_go_out_together_next() {
        let mut instance = Instance::default();
        instance.write(&[1]);
        instance.write(&[2, 3, 4]);
        instance.release();
        assert_eq!(instance.batches(), [vec![1], vec![2, 3, 4]], "batches sent");
        let mut got = instance.outcomes.borrow().clone();
        got.sort();
        assert_eq!(
            got,
            [(1, Ok(10)), (2, Ok(20)), (3, Ok(30)), (4, Ok(40))],
            "each write gets its own outcome"
        );
    }

    #[test]
    fn two_writes_of_one_key_never_share_a_batch() {
        let mut instance = Instance::default();
        instance.write(&[1]);
        instance.write(&[102, 3, 202]);
        instance.release();
        assert_eq!(
            instance.batches(),
            [vec![1], vec![102, 3], vec![202]],
            "202 shares key 2 with 102, so it waits for the next batch"
        );
        assert_eq!(instance.outcomes.borrow().len(), 4, "every write answered");
    }

    #[test]
    fn a_failed_statement_fails_every_write_of_its_batch_and_only_those() {
        let mut instance = Instance::default();
        instance.write(&[1, 2, 3]);
        instance.store.fail.set(true);
        instance.release();
        let failed = instance
            .outcomes
            .borrow()
            .iter()
            .filter(|(_, o)| o.is_err())
            .count();
        assert_eq!(
            failed, 3,
            "the lone first batch and the next one both failed"
        );
        instance.store.fail.set(false);
        instance.write(&[4]);
        assert_eq!(
            instance.outcomes.borrow().last(),
            Some(&(4, Ok(40))),
            "the queue keeps working after a failure"
        );
    }

    #[test]
    fn a_leader_that_goes_away_mid_flight_leaves_its_batch_to_the_next_leader() {
        let mut instance = Instance::default();
        let leader = instance.write_by_hand(1);
        instance.write(&[2, 3]);
        drop(leader);
        instance.release();
        assert_eq!(
            instance.batches(),
            [vec![1], vec![2, 3]],
            "the waiting writes went out without the dropped one"
        );
        assert_eq!(
            instance.outcomes.borrow().len(),
            2,
            "both waiting writes answered"
        );
    }

    #[test]
    fn a_waiting_write_that_goes_away_is_not_written_and_strands_no_one() {
        let mut instance = Instance::default();
        instance.write(&[1]);
        let waiting = instance.write_by_hand(2);
        instance.write(&[3]);
        drop(waiting);
        instance.release();
        assert_eq!(
            instance.batches(),
            [vec![1], vec![3]],
            "2 left before its turn"
        );
        assert_eq!(instance.outcomes.borrow().len(), 2, "1 and 3 answered");
    }
}
