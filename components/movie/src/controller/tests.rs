use super::*;
use crate::cache::memory::MemoryCache;
use crate::fakes::{Fakes, SETTINGS, metadata};
use crate::model::RatingSummary;
use crate::reliability::breaker::{self, Breaker, Breakers};
use crate::reliability::retry::RetryPolicy;
use futures::executor::block_on;
use service_kit::rate_limit::{Admission, ClientKey, OverQuota, RatePolicy, Unmetered};
use std::cell::Cell;

fn id(raw: &str) -> MovieId {
    MovieId::parse(raw).unwrap()
}

type Controller<'a> = MovieController<&'a Fakes>;

fn view(controller: &Controller<'_>) -> Result<Served, MovieError> {
    block_on(controller.view(&id("m1"), Freshness::CachedAllowed, &Unmetered))
}

fn must_compose(controller: &Controller<'_>) -> Result<Served, MovieError> {
    block_on(controller.view(&id("m1"), Freshness::MustCompose, &Unmetered))
}

fn outcome(controller: &Controller<'_>) -> CacheOutcome {
    view(controller).expect("a view").outcome
}

fn calls(fakes: &Fakes) -> (u32, u32) {
    (
        fakes.metadata_script.calls.get(),
        fakes.rating_script.calls.get(),
    )
}

#[test]
fn details_combine_metadata_and_rating() {
    let fakes = Fakes::with_movie();
    fakes.rate(4.5, 2);
    let served = view(&fakes.controller()).unwrap();
    assert_eq!(served.view.details.metadata, metadata("m1"));
    assert_eq!(
        served.view.details.rating,
        Some(RatingSummary {
            average: 4.5,
            count: 2
        })
    );
}

#[test]
fn both_upstreams_are_asked_concurrently() {
    let fakes = Fakes::with_movie();
    view(&fakes.controller()).unwrap();
    assert_eq!(fakes.max_in_flight.get(), 2);
}

#[test]
fn an_unrated_movie_has_no_rating_rather_than_an_error() {
    let fakes = Fakes::with_movie();
    let served = view(&fakes.controller()).unwrap();
    assert_eq!(
        (served.view.details.rating, served.rating_unavailable),
        (None, false)
    );
}

#[test]
fn missing_metadata_is_not_found_even_when_rating_fails() {
    let fakes = Fakes::default();
    *fakes.rating_script.failing.borrow_mut() = Some(GatewayError::Status(500));
    let result = view(&fakes.controller());
    assert!(matches!(result, Err(MovieError::NotFound(_))), "{result:?}");
}

#[test]
fn a_failing_rating_upstream_gives_a_view_without_rating_that_is_not_cached() {
    let fakes = Fakes::with_movie();
    fakes.rate(4.0, 1);
    *fakes.rating_script.failing.borrow_mut() = Some(GatewayError::Status(500));
    let served = view(&fakes.controller()).unwrap();
    assert_eq!(
        (
            served.view.details.rating,
            served.rating_unavailable,
            served.stored
        ),
        (None, true, false),
        "rating, degraded, stored"
    );
}

#[test]
fn failing_metadata_with_nothing_cached_is_unavailable_naming_it() {
    let fakes = Fakes::with_movie();
    *fakes.metadata_script.failing.borrow_mut() = Some(GatewayError::Transport("refused".into()));
    let result = view(&fakes.controller());
    assert!(
        matches!(
            result,
            Err(MovieError::Unavailable {
                service: "metadata",
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn slow_metadata_with_nothing_cached_times_out_naming_it() {
    let fakes = Fakes::with_movie();
    fakes.metadata_script.latency.set(Duration::from_secs(10));
    let result = view(&fakes.controller());
    assert!(
        matches!(
            result,
            Err(MovieError::TimedOut {
                service: "metadata"
            })
        ),
        "{result:?}"
    );
}

#[test]
fn garbage_from_metadata_is_a_bad_gateway() {
    let fakes = Fakes::with_movie();
    *fakes.metadata_script.failing.borrow_mut() = Some(GatewayError::Malformed("html".into()));
    let result = view(&fakes.controller());
    assert!(
        matches!(
            result,
            Err(MovieError::Upstream {
                service: "metadata",
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn a_second_view_is_a_memory_hit_without_any_store_or_upstream_call() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    let (gets, sets, before) = (
        fakes.store_gets.get(),
        fakes.store_sets.get(),
        calls(&fakes),
    );
    assert_eq!(outcome(&controller), CacheOutcome::MemoryHit);
    assert_eq!(
        (
            fakes.store_gets.get(),
            fakes.store_sets.get(),
            calls(&fakes)
        ),
        (gets, sets, before),
        "store reads, store writes and upstream calls of a memory hit"
    );
}

#[test]
fn another_instance_gets_a_store_hit_with_one_store_read_and_no_upstream_call() {
    let fakes = Fakes::with_movie();
    view(&fakes.controller()).unwrap();
    let (gets, before) = (fakes.store_gets.get(), calls(&fakes));
    let other_instance = fakes.controller();
    assert_eq!(outcome(&other_instance), CacheOutcome::StoreHit);
    assert_eq!(
        (fakes.store_gets.get() - gets, calls(&fakes)),
        (1, before),
        "store reads and upstream calls of a store hit"
    );
}

#[test]
fn a_memory_entry_past_its_ttl_is_served_from_the_store_while_that_is_fresh() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    fakes.advance(SETTINGS.memory.fresh);
    assert_eq!(outcome(&controller), CacheOutcome::StoreHit);
}

#[test]
fn a_view_read_from_the_store_is_then_served_from_memory() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    fakes.advance(SETTINGS.memory.fresh);
    assert_eq!(
        outcome(&controller),
        CacheOutcome::StoreHit,
        "once memory TTL is over"
    );
    let gets = fakes.store_gets.get();
    assert_eq!(
        (outcome(&controller), fakes.store_gets.get() - gets),
        (CacheOutcome::MemoryHit, 0),
        "outcome and store reads of the next view"
    );
}

#[test]
fn a_view_read_from_the_store_leaves_memory_when_the_store_would_stop_serving_it() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    fakes.advance(SETTINGS.memory.fresh);
    view(&controller).unwrap();
    fakes.advance(SETTINGS.store.fresh - SETTINGS.memory.fresh);
    assert_eq!(
        (outcome(&controller), calls(&fakes)),
        (CacheOutcome::Refreshed, (2, 2)),
        "outcome and upstream calls once the view is as old as the store's fresh TTL"
    );
}

#[test]
fn a_view_is_not_served_from_memory_after_the_clock_steps_back() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    fakes.now_ms.set(fakes.now_ms.get() - 1);
    assert_ne!(outcome(&controller), CacheOutcome::MemoryHit);
}

/// Two views of `m1` with `freshness` on two controllers sharing one instance's memory,
/// the second asked while the first is composing.
fn two_views_at_once(
    fakes: &Fakes,
    freshness: (Freshness, Freshness),
) -> (Result<Served, MovieError>, Result<Served, MovieError>) {
    two_views_at_once_with(fakes, SETTINGS, freshness)
}

fn two_views_at_once_with(
    fakes: &Fakes,
    settings: Settings,
    freshness: (Freshness, Freshness),
) -> (Result<Served, MovieError>, Result<Served, MovieError>) {
    let memory = MemoryCache::default();
    let first = fakes.controller_with(memory.clone(), settings);
    let second = fakes.controller_with(memory, settings);
    let movie = id("m1");
    block_on(async {
        futures::join!(
            first.view(&movie, freshness.0, &Unmetered),
            second.view(&movie, freshness.1, &Unmetered)
        )
    })
}

#[test]
fn a_view_asked_while_the_instance_composes_the_movie_is_served_from_memory_once_filled() {
    let fakes = Fakes::with_movie();
    let cached = Freshness::CachedAllowed;
    let (first, second) = two_views_at_once(&fakes, (cached, cached));
    assert_eq!(
        (
            first.expect("the first view").outcome,
            second.expect("the second view").outcome,
            calls(&fakes)
        ),
        (CacheOutcome::Miss, CacheOutcome::MemoryHit, (1, 1)),
        "outcomes and upstream calls of two views at once"
    );
}

#[test]
fn a_view_that_waited_for_a_failed_fill_asks_the_upstreams_within_what_is_left_of_its_budget() {
    let fakes = Fakes::with_movie();
    fakes.metadata_script.latency.set(Duration::from_secs(10));
    let settings = Settings {
        budget: Duration::from_millis(300),
        ..SETTINGS
    };
    let cached = Freshness::CachedAllowed;
    let (_, waited) = two_views_at_once_with(&fakes, settings, (cached, cached));
    assert!(waited.is_err(), "the view that waited: {waited:?}");
    assert_eq!(
        fakes.metadata_script.timeouts.borrow().clone(),
        [Duration::from_millis(250), Duration::from_millis(50)],
        "metadata deadlines: the attempt timeout, then the 300 ms budget's 50 ms left"
    );
}

#[test]
fn a_view_asked_while_the_instance_reads_the_store_is_served_from_memory_once_filled() {
    let fakes = Fakes::with_movie();
    view(&fakes.controller()).unwrap();
    let (gets, before) = (fakes.store_gets.get(), calls(&fakes));
    let cached = Freshness::CachedAllowed;
    let (first, second) = two_views_at_once(&fakes, (cached, cached));
    assert_eq!(
        (
            first.expect("the first view").outcome,
            second.expect("the second view").outcome,
            fakes.store_gets.get() - gets,
            calls(&fakes)
        ),
        (CacheOutcome::StoreHit, CacheOutcome::MemoryHit, 1, before),
        "outcomes, store reads and upstream calls of two views at once on a new instance"
    );
}

#[test]
fn a_no_cache_view_does_not_wait_for_a_fill_under_way() {
    let fakes = Fakes::with_movie();
    let modes = (Freshness::CachedAllowed, Freshness::MustCompose);
    let (_, second) = two_views_at_once(&fakes, modes);
    assert_eq!(
        (second.expect("the no-cache view").outcome, calls(&fakes)),
        (CacheOutcome::Bypassed, (2, 2)),
        "outcome of the no-cache view and upstream calls"
    );
}

#[test]
fn a_view_waiting_for_a_fill_that_fails_composes_on_its_own() {
    let fakes = Fakes::with_movie();
    let garbage = GatewayError::Malformed("garbage".into());
    fakes
        .metadata_script
        .failures
        .borrow_mut()
        .push_back(garbage);
    let cached = Freshness::CachedAllowed;
    let (first, second) = two_views_at_once(&fakes, (cached, cached));
    assert!(first.is_err(), "the first view: {first:?}");
    assert_eq!(
        second.expect("the waiting view").outcome,
        CacheOutcome::Miss,
        "the waiting view, once the composition failed"
    );
}

#[test]
fn no_cache_composes_afresh() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    let served = must_compose(&controller).unwrap();
    assert_eq!(
        (served.outcome, calls(&fakes)),
        (CacheOutcome::Bypassed, (2, 2)),
        "outcome and upstream calls after a no-cache view"
    );
}

#[test]
fn an_unchanged_view_composed_again_soon_is_not_written_again() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    let sets = fakes.store_sets.get();
    let served = must_compose(&controller).unwrap();
    assert_eq!(
        (served.stored, fakes.store_sets.get() - sets),
        (false, 0),
        "stored, store writes of a no-cache view right after the first"
    );
}

#[test]
fn a_changed_view_is_written_at_once() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    fakes.rate(5.0, 1);
    assert!(must_compose(&controller).unwrap().stored);
}

#[test]
fn an_unchanged_view_is_rewritten_once_half_its_freshness_is_gone() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    fakes.advance(SETTINGS.store.fresh / 2);
    assert!(must_compose(&controller).unwrap().stored);
}

#[test]
fn a_stale_entry_is_revalidated_with_conditional_requests() {
    let fakes = Fakes::with_movie();
    fakes.rate(4.0, 1);
    let controller = fakes.controller();
    view(&controller).unwrap();
    fakes.advance(SETTINGS.store.fresh);
    let served = view(&controller).unwrap();
    assert_eq!(
        (
            served.outcome,
            fakes.metadata_script.not_modified.get(),
            fakes.rating_script.not_modified.get()
        ),
        (CacheOutcome::Refreshed, 1, 1),
        "outcome and 304s of a revalidation"
    );
}

#[test]
fn a_revalidation_picks_up_a_changed_rating() {
    let fakes = Fakes::with_movie();
    fakes.rate(4.0, 1);
    let controller = fakes.controller();
    view(&controller).unwrap();
    fakes.rate(2.0, 2);
    fakes.advance(SETTINGS.store.fresh);
    let served = view(&controller).unwrap();
    assert_eq!(served.view.details.rating.map(|r| r.count), Some(2));
}

#[test]
fn a_refreshed_view_is_fresh_again() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    fakes.advance(SETTINGS.store.fresh);
    view(&controller).unwrap();
    assert_eq!(outcome(&controller), CacheOutcome::MemoryHit);
}

#[test]
fn failing_metadata_serves_the_stale_view() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    fakes.advance(SETTINGS.store.fresh * 10);
    *fakes.metadata_script.failing.borrow_mut() = Some(GatewayError::Status(503));
    let served = view(&controller).unwrap();
    assert_eq!(
        (
            served.outcome,
            served.age >= SETTINGS.store.fresh * 10,
            served.fresh_for
        ),
        (CacheOutcome::StaleServed, true, Duration::ZERO),
        "outcome, age of at least 20 s, freshness left"
    );
}

#[test]
fn a_view_past_its_stale_window_is_not_served_during_an_outage() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    fakes.advance(SETTINGS.store.fresh + SETTINGS.store.stale);
    *fakes.metadata_script.failing.borrow_mut() = Some(GatewayError::Status(503));
    assert!(matches!(
        view(&controller),
        Err(MovieError::Unavailable { .. })
    ));
}

#[test]
fn a_corrupt_store_entry_is_a_miss() {
    let fakes = Fakes::with_movie();
    let key = crate::cache::entry::key(&id("m1"));
    fakes
        .store
        .borrow_mut()
        .insert(key, b"{\"format\": 1, oops".to_vec());
    assert_eq!(outcome(&fakes.controller()), CacheOutcome::Miss);
}

#[test]
fn a_failing_store_still_serves_the_view() {
    let fakes = Fakes::with_movie();
    fakes.store_failing.set(true);
    let served = view(&fakes.controller()).unwrap();
    assert_eq!((served.outcome, served.stored), (CacheOutcome::Miss, false));
}

#[test]
fn a_deleted_movie_is_not_found_and_leaves_the_cache() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    fakes.metadata.borrow_mut().clear();
    assert!(matches!(
        must_compose(&controller),
        Err(MovieError::NotFound(_))
    ));
    assert!(
        matches!(view(&controller), Err(MovieError::NotFound(_))),
        "a later view is not served from the cache"
    );
}

#[test]
fn a_503_is_retried_until_it_succeeds() {
    let fakes = Fakes::with_movie();
    fakes
        .rating_script
        .failures
        .borrow_mut()
        .extend([GatewayError::Status(503), GatewayError::Status(503)]);
    let served = view(&fakes.controller()).unwrap();
    assert_eq!(
        (fakes.rating_script.calls.get(), served.rating_unavailable),
        (3, false),
        "rating calls and degradation after two 503s"
    );
}

#[test]
fn backoffs_stay_within_their_ceilings() {
    let fakes = Fakes::with_movie();
    *fakes.rating_script.failing.borrow_mut() = Some(GatewayError::Transport("reset".into()));
    view(&fakes.controller()).unwrap();
    let slept = fakes.slept.borrow().clone();
    assert_eq!(slept.len(), 2, "two backoffs for three attempts: {slept:?}");
    for (retry, wait) in slept.iter().enumerate() {
        assert!(
            *wait <= SETTINGS.retry.backoff_base * 2u32.pow(retry as u32),
            "{slept:?}"
        );
    }
}

#[test]
fn a_malformed_answer_is_not_retried() {
    let fakes = Fakes::with_movie();
    *fakes.rating_script.failing.borrow_mut() = Some(GatewayError::Malformed("garbage".into()));
    view(&fakes.controller()).unwrap();
    assert_eq!(fakes.rating_script.calls.get(), 1);
}

#[test]
fn a_timeout_is_not_retried() {
    let fakes = Fakes::with_movie();
    fakes.rating_script.latency.set(Duration::from_secs(10));
    view(&fakes.controller()).unwrap();
    assert_eq!(fakes.rating_script.calls.get(), 1);
}

#[test]
fn retries_never_run_past_the_budget() {
    let fakes = Fakes::with_movie();
    let settings = Settings {
        retry: RetryPolicy {
            attempts: 100,
            ..SETTINGS.retry
        },
        ..SETTINGS
    };
    *fakes.rating_script.failing.borrow_mut() = Some(GatewayError::Transport("reset".into()));
    fakes.rating_script.latency.set(Duration::from_millis(100));
    let started = fakes.now_ms.get();
    block_on(
        fakes
            .controller_with(MemoryCache::default(), settings)
            .view(&id("m1"), Freshness::CachedAllowed, &Unmetered),
    )
    .unwrap();
    let spent = Duration::from_millis(fakes.now_ms.get() - started);
    assert!(
        spent <= SETTINGS.budget && fakes.rating_script.calls.get() < 100,
        "{spent:?} spent in {} calls",
        fakes.rating_script.calls.get()
    );
}

#[test]
fn each_attempt_gets_at_most_the_attempt_timeout() {
    let fakes = Fakes::with_movie();
    view(&fakes.controller()).unwrap();
    assert_eq!(
        fakes.metadata_script.timeouts.borrow().as_slice(),
        [SETTINGS.retry.attempt_timeout]
    );
}

/// Fails `views` views of m1 because metadata is down, composing each afresh.
fn fail_views(fakes: &Fakes, views: u32) {
    *fakes.metadata_script.failing.borrow_mut() = Some(GatewayError::Status(500));
    for _ in 0..views {
        let _ = must_compose(&fakes.controller());
    }
}

#[test]
fn repeated_failures_open_the_breaker_and_views_skip_the_upstream() {
    let fakes = Fakes::with_movie();
    fail_views(&fakes, SETTINGS.breaker.failures);
    let before = fakes.metadata_script.calls.get();
    let result = must_compose(&fakes.controller());
    assert_eq!(
        fakes.metadata_script.calls.get(),
        before,
        "metadata calls while the breaker is open"
    );
    assert!(
        matches!(
            result,
            Err(MovieError::Unavailable {
                service: "metadata",
                retry_after_s: 5,
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn the_breaker_closes_after_the_cooldown_when_the_probe_succeeds() {
    let fakes = Fakes::with_movie();
    fail_views(&fakes, SETTINGS.breaker.failures);
    fakes.advance(SETTINGS.breaker.cooldown);
    *fakes.metadata_script.failing.borrow_mut() = None;
    must_compose(&fakes.controller()).unwrap();
    let stored = fakes.store.borrow().get(breaker::KEY).cloned().unwrap();
    assert_eq!(Breakers::decode(&stored).metadata, Breaker::default());
}

#[test]
fn a_healthy_view_does_not_write_the_breakers() {
    let fakes = Fakes::with_movie();
    view(&fakes.controller()).unwrap();
    assert!(!fakes.store.borrow().contains_key(breaker::KEY));
}

#[test]
fn a_hit_does_not_read_the_breakers() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    view(&controller).unwrap();
    let gets = fakes.store_gets.get();
    view(&controller).unwrap();
    fakes.advance(SETTINGS.memory.fresh);
    view(&controller).unwrap();
    assert_eq!(
        fakes.store_gets.get() - gets,
        1,
        "only the store hit's read"
    );
}

#[test]
fn an_instance_reads_the_breakers_once_per_memo_period() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    must_compose(&controller).unwrap();
    let gets = fakes.store_gets.get();
    must_compose(&controller).unwrap();
    must_compose(&controller).unwrap();
    assert_eq!(
        fakes.store_gets.get() - gets,
        0,
        "store reads of two composed views within the memo, the entry held in memory"
    );
    fakes.advance(Duration::from_millis(guarded::BREAKERS_MEMO_MS));
    let gets = fakes.store_gets.get();
    must_compose(&controller).unwrap();
    assert_eq!(
        fakes.store_gets.get() - gets,
        1,
        "store reads once the memo is over: the breakers"
    );
}

#[test]
fn a_composed_view_revalidates_the_instances_own_entry_and_does_not_rewrite_it() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    must_compose(&controller).unwrap();
    let (gets, sets) = (fakes.store_gets.get(), fakes.store_sets.get());
    let served = must_compose(&controller).unwrap();
    assert_eq!(
        (fakes.store_gets.get() - gets, fakes.store_sets.get() - sets),
        (0, 0),
        "store reads and writes of an unchanged view composed again"
    );
    assert!(!served.stored, "the unchanged view is not written again");
    assert_eq!(
        fakes.metadata_script.not_modified.get(),
        1,
        "metadata answered 304 to the validator of the instance's entry"
    );
}

#[test]
fn views_composed_again_and_again_rewrite_the_store_once_its_version_is_half_its_ttl_old() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    must_compose(&controller).unwrap();
    let sets = fakes.store_sets.get();
    let step = SETTINGS.store.fresh / 8;
    for _ in 0..3 {
        fakes.advance(step);
        must_compose(&controller).unwrap();
    }
    assert_eq!(
        fakes.store_sets.get() - sets,
        0,
        "writes while the stored version is younger than half the store's fresh TTL"
    );
    fakes.advance(step);
    let served = must_compose(&controller).unwrap();
    assert!(
        served.stored && fakes.store_sets.get() - sets == 1,
        "the view written again once the stored version is half the TTL old, although the \
         instance's memory was refreshed at every view"
    );
}

#[test]
fn a_composed_view_of_an_instance_without_the_entry_reads_the_store() {
    let fakes = Fakes::with_movie();
    must_compose(&fakes.controller()).unwrap();
    let gets = fakes.store_gets.get();
    must_compose(&fakes.controller()).unwrap();
    assert_eq!(
        fakes.store_gets.get() - gets,
        2,
        "a fresh instance reads the entry (for its validators) and the breakers"
    );
}

#[test]
fn a_failure_is_recorded_against_the_breakers_as_stored_now() {
    let fakes = Fakes::with_movie();
    let instance = fakes.controller();
    must_compose(&instance).unwrap();
    // Meanwhile other instances open metadata's breaker.
    fail_views(&fakes, SETTINGS.breaker.failures);
    let opened = Breakers::decode(&fakes.store.borrow()[breaker::KEY]).metadata;
    assert!(
        !opened.allows(fakes.now_ms.get()),
        "the breaker other instances opened"
    );
    // This instance still decides from its memo (closed), asks metadata, and fails.
    let _ = must_compose(&instance);
    let stored = Breakers::decode(&fakes.store.borrow()[breaker::KEY]).metadata;
    assert!(
        !stored.allows(fakes.now_ms.get()),
        "a failure seen through a closed memo left the breaker {stored:?}, not open"
    );
}

#[test]
fn an_instance_sees_another_instances_open_breaker_once_its_memo_is_over() {
    let fakes = Fakes::with_movie();
    let instance = fakes.controller();
    must_compose(&instance).unwrap();
    fail_views(&fakes, SETTINGS.breaker.failures);
    fakes.advance(Duration::from_millis(guarded::BREAKERS_MEMO_MS));
    let calls = fakes.metadata_script.calls.get();
    let result = must_compose(&instance);
    assert_eq!(
        fakes.metadata_script.calls.get(),
        calls,
        "metadata asked after the memo, its breaker open"
    );
    assert!(
        matches!(
            result.as_ref().map(|served| served.outcome),
            Ok(CacheOutcome::StaleServed)
        ),
        "the stale view stands in for metadata: {result:?}"
    );
}

#[test]
fn errors_are_classified_for_the_edge() {
    let upstream = MovieError::Upstream {
        service: "rating",
        source: GatewayError::Status(404),
    };
    assert_eq!(upstream.class(), ErrorClass::Upstream("rating"));
    assert_eq!(MovieError::NotFound(id("m1")).class(), ErrorClass::NotFound);
    assert_eq!(
        MovieError::TimedOut {
            service: "metadata"
        }
        .class(),
        ErrorClass::TimedOut("metadata")
    );
}

/// A client's quota as the edge's meter would enforce it: `quota` admissions, then refusals;
/// counts how often the controller asked.
struct Quota {
    left: Cell<u32>,
    asked: Cell<u32>,
}

impl Quota {
    fn of(quota: u32) -> Self {
        Self {
            left: Cell::new(quota),
            asked: Cell::new(0),
        }
    }
}

impl Admission for Quota {
    async fn admit(&self) -> Result<(), OverQuota> {
        self.asked.set(self.asked.get() + 1);
        if self.left.get() == 0 {
            let policy = RatePolicy {
                quota: self.asked.get() - 1,
                window_s: 60,
            };
            return Err(OverQuota {
                client: ClientKey::subject("c"),
                decision: policy.decide(self.asked.get(), 0),
            });
        }
        self.left.set(self.left.get() - 1);
        Ok(())
    }
}

fn view_within(
    controller: &Controller<'_>,
    freshness: Freshness,
    quota: &Quota,
) -> Result<Served, MovieError> {
    block_on(controller.view(&id("m1"), freshness, quota))
}

#[test]
fn composed_views_over_the_quota_are_refused_without_asking_the_upstreams() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    let quota = Quota::of(2);
    view_within(&controller, Freshness::MustCompose, &quota).unwrap();
    view_within(&controller, Freshness::MustCompose, &quota).unwrap();
    let result = view_within(&controller, Freshness::MustCompose, &quota);
    assert!(
        matches!(result, Err(MovieError::OverQuota(_))),
        "{result:?}"
    );
    assert_eq!(calls(&fakes), (2, 2), "upstream calls of the refused view");
}

#[test]
fn cache_hits_are_not_counted() {
    let fakes = Fakes::with_movie();
    let controller = fakes.controller();
    let quota = Quota::of(1);
    view_within(&controller, Freshness::CachedAllowed, &quota).unwrap();
    for _ in 0..5 {
        let served = view_within(&controller, Freshness::CachedAllowed, &quota).unwrap();
        assert_eq!(
            served.outcome,
            CacheOutcome::MemoryHit,
            "a hit after the quota is used up"
        );
    }
    assert_eq!(
        quota.asked.get(),
        1,
        "admissions asked for one miss and five hits"
    );
}
