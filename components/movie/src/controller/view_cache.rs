//! The view cache's policy for the controller: a view served from either level with its age
//! and freshness, the store's entry read (a failing store is a miss), a composed view kept in
//! both levels (without rewriting an unchanged one), a vanished movie forgotten.

use super::guarded::millis;
use super::ports::{CacheStore, Ports};
use super::{MovieController, Served};
use crate::cache::CacheOutcome;
use crate::cache::Ttl;
use crate::cache::entry::{self, CachedView};
use crate::cache::memory::Remembered;
use crate::clock::Clock;
use crate::model::MovieId;
use std::rc::Rc;
use std::time::Duration;

impl<P: Ports> MovieController<P> {
    pub(super) fn served(&self, view: Rc<CachedView>, outcome: CacheOutcome, now: u64) -> Served {
        let age = view.age(now);
        let fresh_for = match outcome {
            CacheOutcome::StaleServed => Duration::ZERO,
            _ => self.settings.store.fresh.saturating_sub(age),
        };
        Served {
            view,
            outcome,
            stored: false,
            rating_unavailable: false,
            age,
            fresh_for,
        }
    }

    /// The store's entry for `id`, if it has a readable one. A store that fails is a miss.
    pub(super) async fn stored_view(&self, id: &MovieId) -> Option<CachedView> {
        match self.ports.cache().get(&entry::key(id)).await {
            Ok(bytes) => bytes.and_then(|bytes| CachedView::decode(id, &bytes)),
            Err(error) => {
                service_kit::telemetry::warn("cache.read_failed")
                    .with("movie.id", id.as_str())
                    .cause(&error)
                    .emit();
                None
            }
        }
    }

    /// Keeps `view`, which this instance composed, in memory with the version the store holds
    /// (`stored`) if known: served from memory while younger than the memory level's fresh TTL.
    pub(super) fn remember(&self, view: Rc<CachedView>, stored: Option<Rc<CachedView>>) {
        let fresh_until_ms = view
            .composed_at_ms
            .saturating_add(millis(self.settings.memory.fresh));
        self.put_in_memory(
            Remembered {
                view,
                fresh_until_ms,
            },
            stored,
        );
    }

    /// Keeps `entry`, just read fresh from the store at `now`, in memory: served from there
    /// for the memory level's fresh TTL from now, as a view this instance composed would be,
    /// but never past the store level's own freshness. Its age still counts from its
    /// composition, so a write shows in every view as soon as it did before (README,
    /// "Reliability"), and a hot movie costs an instance one store read per memory TTL
    /// instead of one per view once its entry is older than that.
    pub(super) fn remember_read(&self, entry: Rc<CachedView>, now: u64) {
        let fresh_until_ms = now.saturating_add(millis(self.settings.memory.fresh)).min(
            entry
                .composed_at_ms
                .saturating_add(millis(self.settings.store.fresh)),
        );
        let stored = Some(Rc::clone(&entry));
        self.put_in_memory(
            Remembered {
                view: entry,
                fresh_until_ms,
            },
            stored,
        );
    }

    fn put_in_memory(&self, remembered: Remembered, stored: Option<Rc<CachedView>>) {
        let now = self.ports.clock().now_ms();
        let ttl: Ttl = self.settings.memory;
        self.memory
            .put(remembered, stored, |entry| ttl.is_usable(entry.age(now)));
    }

    /// Keeps a composed view in both levels; whether it was written to the store. A store
    /// write is skipped when the store already holds the same view written less than half its
    /// fresh TTL ago: Spin's `spin` key-value backend syncs every write to disk under one lock
    /// for the whole app, so clients that always send `no-cache` must not cost a write each.
    pub(super) async fn keep(
        &self,
        view: &Rc<CachedView>,
        in_store: Option<Rc<CachedView>>,
    ) -> bool {
        let young =
            |stored: &CachedView| stored.age(view.composed_at_ms) < self.settings.store.fresh / 2;
        if let Some(stored) = in_store.filter(|stored| stored.same_view(view) && young(stored)) {
            self.remember(Rc::clone(view), Some(stored));
            return false;
        }
        // Until the write succeeds, what the store holds is not known.
        self.remember(Rc::clone(view), None);
        let key = entry::key(&view.details.id);
        match self.ports.cache().set(&key, &view.encode()).await {
            Ok(()) => {
                self.remember(Rc::clone(view), Some(Rc::clone(view)));
                true
            }
            Err(error) => {
                service_kit::telemetry::warn("cache.write_failed")
                    .with("movie.id", view.details.id.as_str())
                    .cause(&error)
                    .emit();
                false
            }
        }
    }

    /// Drops a movie that no longer exists from both levels.
    pub(super) async fn forget(&self, id: &MovieId) {
        self.memory.remove(id);
        if let Err(error) = self.ports.cache().delete(&entry::key(id)).await {
            service_kit::telemetry::warn("cache.delete_failed")
                .with("movie.id", id.as_str())
                .cause(&error)
                .emit();
        }
    }
}
