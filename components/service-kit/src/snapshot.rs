//! Reading a whole table from one consistent view, a page at a time (an export): the pages
//! follow the table's key, each starting after the last key of the one before, so a page is
//! one indexed range read however far into the table it is.

use crate::storage::StorageFailure;
use futures::Stream;

/// One consistent view of a table (a read transaction, or a copy), read in key order.
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Snapshot {
    type Item;
    /// What orders the items, and where a page starts.
    type Key;

    /// Up to `limit` items in key order, starting after `after` (from the first when `None`).
    async fn page_after(
        &self,
        after: Option<&Self::Key>,
        limit: usize,
    ) -> Result<Vec<Self::Item>, StorageFailure>;

    /// The key of `item`.
    fn key(item: &Self::Item) -> Self::Key;
}

/// Every item of `snapshot`, `page` at a time: each page is read only once the one before
/// has been taken, so no more than one is held. A page shorter than `page` is the last; a
/// failure ends the stream.
pub fn pages<S: Snapshot + 'static>(
    snapshot: S,
    page: usize,
) -> impl Stream<Item = Result<Vec<S::Item>, StorageFailure>> + 'static {
    let page = page.max(1);
    futures::stream::try_unfold(
        (snapshot, None::<S::Key>, false),
        move |(snapshot, after, done)| async move {
            if done {
                return Ok(None);
            }
            let items = snapshot.page_after(after.as_ref(), page).await?;
            let Some(last) = items.last().map(S::key) else {
                return Ok(None);
            };
            let done = items.len() < page;
            Ok(Some((items, (snapshot, Some(last), done))))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use futures::executor::block_on;
    use std::cell::Cell;
    use std::rc::Rc;

    /// The numbers below `len`, counting the reads made.
    struct Numbers {
        len: u32,
        reads: Rc<Cell<usize>>,
    }

    impl Snapshot for Numbers {
        type Item = u32;
        type Key = u32;

        async fn page_after(
            &self,
            after: Option<&u32>,
            limit: usize,
        ) -> Result<Vec<u32>, StorageFailure> {
            self.reads.set(self.reads.get() + 1);
            let start = after.map_or(0, |after| after + 1);
            Ok((start..self.len).take(limit).collect())
        }

        fn key(item: &u32) -> u32 {
            *item
        }
    }

    fn read(len: u32, page: usize) -> Vec<Vec<u32>> {
        let reads = Rc::default();
        let stream = pages(Numbers { len, reads }, page);
        block_on(stream.map(|page| page.unwrap()).collect())
    }

    #[test]
    fn pages_cover_every_item_once_in_order() {
        assert_eq!(read(7, 3), [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
    }

    #[test]
    fn an_empty_table_has_no_page() {
        assert!(read(0, 3).is_empty());
    }

    #[test]
    fn a_table_ending_on_a_full_page_ends_after_one_more_read() {
        assert_eq!(read(6, 3), [vec![0, 1, 2], vec![3, 4, 5]]);
    }

    #[test]
    fn a_short_page_ends_the_stream_without_another_read() {
        let reads = Rc::new(Cell::new(0));
        let numbers = Numbers {
            len: 4,
            reads: Rc::clone(&reads),
        };
        let _: Vec<_> = block_on(pages(numbers, 3).collect());
        assert_eq!(reads.get(), 2, "reads for 4 items in pages of 3");
    }
}
