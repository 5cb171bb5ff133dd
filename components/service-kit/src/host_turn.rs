//! Keeping a response in one write around a host call that Spin runs on its scheduler's own
//! thread.
//!
//! Spin 4.1 runs each call to its `spin` key-value store (SQLite files, what `spin up` uses by
//! default) and each read of its environment-variable provider inside tokio's
//! `block_in_place`: the worker thread hands its scheduler core, and the tasks queued on it,
//! to another thread while the call blocks, and may go on running the component without a
//! core. A task it wakes then runs at once on another thread. That includes the host's HTTP
//! connection task when a response is ready, which writes the head before the component's
//! body has reached it. The body then waits for the client's acknowledgement of the head,
//! which a keep-alive client delays by up to 40 ms, since Spin's listener does not set
//! `TCP_NODELAY` (`docs/spin-facts.md`, "Responses and latency").
//!
//! [`blocking`] wraps such a call in both of the things that keep each response whole:
//! - [`after_blocking_call`]: after the call, the host gets its turn, and its executor resumes
//!   the component on a thread that owns a core, so this request's own response is not split;
//! - [`before_blocking_call`]: before the call, the component waits until the host has taken
//!   every sized response the instance has handed over (an instance serves up to 16 requests
//!   at once), so that the call cannot split another request's response either.
//!
//! Calls that do not block the host's thread (SQLite, outbound HTTP, Redis, a Redis-backed
//! key-value store) need neither: the host awaits them like any task.

use std::cell::Cell;
use std::future::Future;

thread_local! {
    /// Sized responses of this instance that the host has not yet taken in full.
    static UNSENT: Cell<usize> = const { Cell::new(0) };
}

/// A sized response on its way to the host ([`crate::edge::body::Body::handed_over`]): counted
/// from when the component hands it over until its body is dropped, which the SDK does once
/// the host has read the last byte.
#[derive(Debug)]
pub struct Unsent(());

impl Unsent {
    pub fn new() -> Self {
        UNSENT.with(|count| count.set(count.get() + 1));
        Self(())
    }
}

impl Default for Unsent {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Unsent {
    fn drop(&mut self) {
        UNSENT.with(|count| count.set(count.get().saturating_sub(1)));
    }
}

/// `call`, a host call that blocks the host's thread, made so that no response of this
/// instance is split by it: after [`before_blocking_call`], followed by
/// [`after_blocking_call`].
pub async fn blocking<T>(call: impl Future<Output = T>) -> T {
    before_blocking_call().await;
    let output = call.await;
    after_blocking_call().await;
    output
}

/// How many sized responses of this instance the host has not yet taken in full.
pub fn unsent_responses() -> usize {
    UNSENT.with(Cell::get)
}

/// Waits until the host has taken every sized response of this instance, for at most
/// [`MAX_WAIT`] turns of the host: a client that does not read must not hold back another
/// request for long. Under Spin 4.1, with 16 keep-alive clients, store hits split 37 of 1,600
/// responses without this wait and 1 with it.
pub async fn before_blocking_call() {
    for _ in 0..MAX_WAIT {
        if unsent_responses() == 0 {
            return;
        }
        spin_sdk::wit_bindgen::yield_async().await;
    }
}

/// The most turns [`before_blocking_call`] waits; each is a few microseconds when the host
/// has nothing else to do.
pub const MAX_WAIT: usize = 16;

/// Yields to the host twice. One yield is not always seen by the host: when another event is
/// already pending, wit-bindgen's executor delivers it and polls the component again instead
/// of returning to the host. Two were always enough where one was not: with one client, 200
/// sequential responses that touched the store split 37 to 104 times with no yield, up to 104
/// with one and never with two. Each costs a turn of the host's executor (about 2 us under
/// Spin 4.1), never a host call.
pub async fn after_blocking_call() {
    for _ in 0..YIELDS {
        spin_sdk::wit_bindgen::yield_async().await;
    }
}

const YIELDS: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::{Context, Waker};

    /// How many times `future` returns to its caller (the host) before it completes.
    fn turns(future: impl Future<Output = ()>, limit: usize) -> usize {
        let mut future = pin!(future);
        let mut context = Context::from_waker(Waker::noop());
        let mut pending = 0;
        while future.as_mut().poll(&mut context).is_pending() {
            pending += 1;
            assert!(pending <= limit, "still pending after {pending} turns");
        }
        pending
    }

    #[test]
    fn after_a_blocking_call_the_host_gets_two_turns() {
        assert_eq!(turns(after_blocking_call(), YIELDS), 2);
    }

    #[test]
    fn a_blocking_call_gives_its_output_after_the_hosts_two_turns() {
        let mut future = pin!(blocking(std::future::ready(7)));
        let mut context = Context::from_waker(Waker::noop());
        let mut turns = 0;
        let output = loop {
            match future.as_mut().poll(&mut context) {
                std::task::Poll::Ready(output) => break output,
                std::task::Poll::Pending => turns += 1,
            }
            assert!(turns <= YIELDS, "still pending after {turns} turns");
        };
        assert_eq!(
            (output, turns),
            (7, YIELDS),
            "(output, turns handed to the host)"
        );
    }

    #[test]
    fn with_no_response_unsent_a_blocking_call_waits_for_nothing() {
        assert_eq!(turns(before_blocking_call(), MAX_WAIT), 0);
    }

    #[test]
    fn a_blocking_call_waits_until_the_host_has_taken_the_unsent_response() {
        let mut unsent = Some(Unsent::new());
        let mut future = pin!(before_blocking_call());
        let mut context = Context::from_waker(Waker::noop());
        assert!(
            future.as_mut().poll(&mut context).is_pending(),
            "a call started while a response is unsent"
        );
        assert!(
            future.as_mut().poll(&mut context).is_pending(),
            "the host's next turn, the response still unsent"
        );
        unsent.take();
        assert!(
            future.as_mut().poll(&mut context).is_ready(),
            "the call once the host has taken the response"
        );
    }

    #[test]
    fn a_response_never_taken_holds_a_blocking_call_back_for_a_bounded_time() {
        let _never_taken = Unsent::new();
        assert_eq!(turns(before_blocking_call(), MAX_WAIT), MAX_WAIT);
    }

    #[test]
    fn each_unsent_response_is_counted_until_it_is_dropped() {
        let first = Unsent::new();
        let second = Unsent::new();
        assert_eq!(unsent_responses(), 2, "two handed over");
        drop(first);
        assert_eq!(unsent_responses(), 1, "one taken");
        drop(second);
        assert_eq!(unsent_responses(), 0, "both taken");
    }
}
