//! The instance-memory level: views this instance composed or read from the store, each with
//! until when it is served from memory and the version the store holds (as far as this
//! instance knows), the last probe of the upstreams' health (what the gRPC health service answers from), and the
//! circuit breakers' shared state as last read or written.
//!
//! Spin reuses an instance for many requests (up to 128 by default, `docs/spin-facts.md`,
//! "Instances and state"), each instance is single-threaded, and its memory dies with it, so
//! a bounded map behind an `Rc<RefCell<_>>` is all it takes. The entry point keeps one per
//! instance; unit tests make their own.

use super::entry::CachedView;
use crate::model::MovieId;
use crate::reliability::breaker::Breakers;
use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::Shared;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// Entries kept per instance. A view is about 0.5 KiB, so the level stays under a megabyte.
pub const CAPACITY: usize = 1_024;

#[derive(Clone, Default)]
pub struct MemoryCache {
    views: Rc<RefCell<HashMap<MovieId, Held>>>,
    fills: Rc<RefCell<HashMap<MovieId, Fill>>>,
    upstream_health: Rc<Cell<Option<UpstreamHealth>>>,
    breakers: Rc<Cell<Option<KnownBreakers>>>,
}

/// A view held in memory, until when it may be served from memory, and the version of it
/// the store holds as far as this instance knows (the one it read there or wrote there last),
/// if it knows.
#[derive(Clone)]
struct Held {
    view: Rc<CachedView>,
    fresh_until_ms: u64,
    stored: Option<Rc<CachedView>>,
}

/// A view as memory holds it: the view, and until when (ms since the epoch) it is served
/// from memory without asking the store.
#[derive(Clone)]
pub struct Remembered {
    pub view: Rc<CachedView>,
    pub fresh_until_ms: u64,
}

impl Remembered {
    /// Whether it is served from memory at `now`. A composition time ahead of the clock (a
    /// clock that stepped back) is never fresh.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        self.view.composed_at_ms <= now_ms && now_ms < self.fresh_until_ms
    }
}

/// A fill of a movie's view under way in this instance (a store read, a composition, or both),
/// which other requests for the movie can wait for ([`Fill::finished`]).
#[derive(Clone)]
pub struct Fill(Shared<oneshot::Receiver<()>>);

impl Fill {
    /// Completes when the fill has ended, however it ended.
    pub async fn finished(self) {
        // The sender is only ever dropped, never used: either way the wait is over.
        let _ = self.0.await;
    }
}

/// A fill registered as under way until dropped ([`MemoryCache::filling`]).
pub struct Filling {
    fills: Rc<RefCell<HashMap<MovieId, Fill>>>,
    /// The movie and the end of its fill's wait, when this fill is the one registered.
    registered: Option<(MovieId, oneshot::Sender<()>)>,
}

impl Drop for Filling {
    fn drop(&mut self) {
        if let Some((id, _)) = &self.registered {
            self.fills.borrow_mut().remove(id);
        }
        // The sender is dropped after this, which ends every wait on the fill.
    }
}

/// The breakers' shared state as this instance last read or wrote it, and when (ms since the
/// epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownBreakers {
    pub breakers: Breakers,
    pub known_at_ms: u64,
}

/// Whether metadata and rating reported themselves healthy, and when they were asked (ms
/// since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamHealth {
    pub metadata: bool,
    pub rating: bool,
    pub probed_at_ms: u64,
}

impl MemoryCache {
    pub fn get(&self, id: &MovieId) -> Option<Remembered> {
        self.views.borrow().get(id).map(|held| Remembered {
            view: Rc::clone(&held.view),
            fresh_until_ms: held.fresh_until_ms,
        })
    }

    /// This instance's fill of `id`'s view under way, if there is one.
    pub fn fill(&self, id: &MovieId) -> Option<Fill> {
        self.fills.borrow().get(id).cloned()
    }

    /// Registers a fill of `id`'s view as under way until the returned guard is dropped,
    /// unless one already is (then the guard registers nothing).
    pub fn filling(&self, id: &MovieId) -> Filling {
        let mut fills = self.fills.borrow_mut();
        let registered = (!fills.contains_key(id)).then(|| {
            let (done, finished) = oneshot::channel();
            fills.insert(id.clone(), Fill(finished.shared()));
            (id.clone(), done)
        });
        Filling {
            fills: Rc::clone(&self.fills),
            registered,
        }
    }

    /// The version of `id`'s view the store holds, as far as this instance knows.
    pub fn stored(&self, id: &MovieId) -> Option<Rc<CachedView>> {
        self.views
            .borrow()
            .get(id)
            .and_then(|held| held.stored.clone())
    }

    /// The last probe of the upstreams, if one was made.
    pub fn upstream_health(&self) -> Option<UpstreamHealth> {
        self.upstream_health.get()
    }

    pub fn remember_upstream_health(&self, health: UpstreamHealth) {
        self.upstream_health.set(Some(health));
    }

    /// The breakers as last read from or written to the store, if they were.
    pub fn breakers(&self) -> Option<KnownBreakers> {
        self.breakers.get()
    }

    pub fn remember_breakers(&self, breakers: Breakers, known_at_ms: u64) {
        self.breakers.set(Some(KnownBreakers {
            breakers,
            known_at_ms,
        }));
    }

    /// Keeps `remembered`, with `stored`, the version the store holds if known, first making
    /// room if the level is full: entries that are no longer usable (`usable` says false) go,
    /// and if none did, an arbitrary one.
    pub fn put(
        &self,
        remembered: Remembered,
        stored: Option<Rc<CachedView>>,
        usable: impl Fn(&CachedView) -> bool,
    ) {
        let Remembered {
            view,
            fresh_until_ms,
        } = remembered;
        let mut entries = self.views.borrow_mut();
        if entries.len() >= CAPACITY && !entries.contains_key(&view.details.id) {
            entries.retain(|_, held| usable(&held.view));
            if entries.len() >= CAPACITY {
                let victim = entries.keys().next().cloned();
                if let Some(victim) = victim {
                    entries.remove(&victim);
                }
            }
        }
        let held = Held {
            view,
            fresh_until_ms,
            stored,
        };
        entries.insert(held.view.details.id.clone(), held);
    }

    pub fn remove(&self, id: &MovieId) {
        self.views.borrow_mut().remove(id);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.views.borrow().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MovieDetails, MovieMetadata};

    fn view(n: usize, composed_at_ms: u64) -> Remembered {
        let id = format!("m{n}");
        let view = Rc::new(CachedView {
            details: MovieDetails {
                id: MovieId::parse(&id).unwrap(),
                metadata: MovieMetadata {
                    id,
                    title: String::new(),
                    description: String::new(),
                    director: String::new(),
                },
                rating: None,
            },
            composed_at_ms,
            metadata_tag: None,
            rating_tag: None,
        });
        Remembered {
            view,
            fresh_until_ms: composed_at_ms,
        }
    }

    #[test]
    fn the_level_never_holds_more_than_its_capacity() {
        let cache = MemoryCache::default();
        for n in 0..CAPACITY + 10 {
            cache.put(view(n, 0), None, |_| true);
        }
        assert_eq!(cache.len(), CAPACITY);
    }

    #[test]
    fn a_full_level_drops_unusable_entries_first() {
        let cache = MemoryCache::default();
        for n in 0..CAPACITY {
            cache.put(view(n, if n == 0 { 1 } else { 0 }), None, |_| true);
        }
        cache.put(view(CAPACITY, 1), None, |entry| entry.composed_at_ms == 1);
        assert_eq!(cache.len(), 2, "only the usable entries are left");
    }
}
