//! Handing a request's task back to the host after a host call that Spin runs on its
//! scheduler's own thread, so that the response still leaves in one write.
//!
//! Spin 4.1 runs each call to its `spin` key-value store (SQLite files, what `spin up` uses by
//! default) and each read of its environment-variable provider inside tokio's
//! `block_in_place`: the worker thread hands its scheduler core to another thread while the
//! call blocks and, when the core is gone, goes on running the component without one.
//! Whatever the component then wakes runs at once on another thread, and that includes the
//! host's HTTP connection task when the response is ready: it writes the head before the
//! component has written the body. The body then waits for the client's acknowledgement of
//! the head, which a keep-alive client delays by up to 40 ms, since Spin's listener does not
//! set `TCP_NODELAY` (`docs/spin-facts.md`, "Responses and latency").
//!
//! Yielding to the host right after such a call makes the host's executor resume the
//! component on a thread that owns a core. Under Spin 4.1, 200 sequential views of each kind
//! on one keep-alive connection split 37 to 104 responses without it and none with it
//! (`docs/performance.md`). A call that does not block the host's thread (SQLite, outbound
//! HTTP, Redis) needs nothing: the host awaits it and resumes the component like any task.

/// Yields to the host twice. One yield is not always seen by the host: when another event is
/// already pending, wit-bindgen's executor delivers it and polls the component again instead
/// of returning to the host. Two were always enough where one was not; each costs a turn of
/// the host's executor (microseconds), never a host call.
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

    #[test]
    fn it_gives_the_host_two_turns_before_it_completes() {
        let mut future = pin!(after_blocking_call());
        let mut context = Context::from_waker(Waker::noop());
        let mut pending = 0;
        while future.as_mut().poll(&mut context).is_pending() {
            pending += 1;
            assert!(pending <= YIELDS, "still pending after {pending} turns");
        }
        assert_eq!(pending, 2, "turns handed to the host before completing");
    }
}
