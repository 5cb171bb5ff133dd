//! A deadline the guest enforces itself.
//!
//! Spin applies `wasi:http` request options (connect, first-byte and between-bytes timeouts)
//! only to calls that go over the network; a service-chained call (`*.spin.internal`) is
//! awaited in-process with no connect or first-byte timeout at all. So every upstream call
//! also races a timer of its own (`docs/spin-facts.md`, "Outbound HTTP and service chaining"):
//! movie's upstream calls and every service's fetch of the token signing keys.

use futures::future::{Either, select};
use std::future::Future;
use std::pin::pin;

/// The timer fired first; the work was dropped unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// `work`'s output, or [`Elapsed`] if `timer` completes first. Dropping the unfinished work
/// drops its outbound request, which cancels it in the host.
pub async fn within<T>(
    timer: impl Future<Output = ()>,
    work: impl Future<Output = T>,
) -> Result<T, Elapsed> {
    match select(pin!(work), pin!(timer)).await {
        Either::Left((output, _)) => Ok(output),
        Either::Right(((), _)) => Err(Elapsed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::future::{pending, ready};

    #[test]
    fn work_that_finishes_first_wins() {
        assert_eq!(block_on(within(pending(), ready(7))), Ok(7));
    }

    #[test]
    fn a_timer_that_fires_first_abandons_the_work() {
        assert_eq!(block_on(within(ready(()), pending::<u8>())), Err(Elapsed));
    }
}
