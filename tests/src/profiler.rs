//! Where a component spends its CPU, with wasmtime's guest profiler: the host's `pprof`.
//!
//! A profiled app runs on an engine with epoch interruption. A ticker thread advances the
//! epoch every interval; at each tick, each instance of the profiled component that was
//! running Wasm records its stack (the other components just carry on). Samples count CPU spent in
//! the guest's own code; host calls (SQLite, key-value, outbound HTTP) are outside them. All instances share one
//! profile, so a load run gives one call tree. The profile is in the Firefox Profiler's
//! format (<https://profiler.firefox.com>); [`frame_shares`] reads the busiest functions out of
//! it for a terminal
//! ([`frame_shares`]).

use anyhow::{Context, anyhow};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wasmtime::component::Component;
use wasmtime::{Engine, GuestProfiler, Store, UpdateDeadline};

/// Which component to profile, and how often to sample it.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    pub component: String,
    pub interval: Duration,
}

/// The profile being recorded, shared by every instance of the profiled component.
pub struct Profile {
    profiler: Mutex<Option<GuestProfiler>>,
    interval: Duration,
    /// When the profile started; ticks and entries into Wasm are stated relative to it.
    origin: Instant,
    /// Nanoseconds from `origin` to the latest epoch tick.
    last_tick: AtomicU64,
}

impl Profile {
    pub fn new(
        engine: &Engine,
        id: &str,
        component: &Component,
        interval: Duration,
    ) -> anyhow::Result<Arc<Self>> {
        let profiler = GuestProfiler::new_component(engine, id, interval, component.clone(), [])
            .map_err(|error| anyhow!("profiling {id}: {error:?}"))?;
        Ok(Arc::new(Self {
            profiler: Mutex::new(Some(profiler)),
            interval,
            origin: Instant::now(),
            last_tick: AtomicU64::new(0),
        }))
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Writes the profile (Firefox Profiler JSON) and stops recording.
    pub fn finish(&self, output: impl std::io::Write) -> anyhow::Result<()> {
        let profiler = self
            .profiler
            .lock()
            .map_err(|_| anyhow!("the profile's lock is poisoned"))?
            .take()
            .context("the profile was already written")?;
        profiler
            .finish(output)
            .map_err(|error| anyhow!("writing the profile: {error:?}"))
    }
}

/// What a store of a profiled app does at each epoch tick.
#[derive(Clone)]
pub enum Sampling {
    /// This component is not profiled: carry on.
    Skip,
    /// Record the instance's stack into the shared profile.
    Record(Arc<Profile>),
}

impl Sampling {
    /// Sets `store` up for the profiled engine. An instance reaches its epoch check at the
    /// first function entry or loop header after a tick, within microseconds if it was
    /// running; an instance that sat suspended through the tick (waiting on a host call, or
    /// between async callbacks) reaches it whenever it resumes, and sampling it then would
    /// pile samples onto the resumption point. wasmtime's call hooks do not fire for
    /// component calls, so the tell is time: only a check within a twentieth of the interval
    /// after the tick counts as running at the tick.
    pub fn arm<T: 'static>(&self, store: &mut Store<T>) {
        store.set_epoch_deadline(1);
        let Sampling::Record(profile) = self else {
            store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Continue(1)));
            return;
        };
        let profile = Arc::clone(profile);
        let window = u64::try_from(profile.interval.as_nanos() / 20).unwrap_or(u64::MAX);
        store.epoch_deadline_callback(move |context| {
            let since_tick = profile
                .now_ns()
                .saturating_sub(profile.last_tick.load(Ordering::Relaxed));
            if since_tick <= window
                && let Ok(mut profiler) = profile.profiler.lock()
                && let Some(profiler) = profiler.as_mut()
            {
                profiler.sample(&context, profile.interval);
            }
            Ok(UpdateDeadline::Continue(1))
        });
    }
}

/// Advances an engine's epoch every interval until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Ticks `engine` every `profile.interval`, noting each tick's time in the profile.
    pub fn start(engine: Engine, profile: Arc<Profile>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(profile.interval);
                profile.last_tick.store(profile.now_ns(), Ordering::Relaxed);
                engine.increment_epoch();
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A function's share of the samples: alone on top of the stack (`self`) and anywhere on it
/// (`total`).
#[derive(Debug, Clone, PartialEq)]
pub struct FrameShare {
    pub function: String,
    pub self_share: f64,
    pub total_share: f64,
}

/// Every function of a profile in the Firefox Profiler's processed format, with its share of
/// the samples on top of the stack and anywhere on it, busiest on top first.
pub fn frame_shares(profile: &serde_json::Value) -> anyhow::Result<Vec<FrameShare>> {
    let thread = profile["threads"]
        .get(0)
        .context("the profile has no thread")?;
    let strings = thread["stringArray"]
        .as_array()
        .or_else(|| profile["shared"]["stringArray"].as_array())
        .context("the profile has no string table")?;
    let column = |table: &str, name: &str| -> anyhow::Result<Vec<Option<usize>>> {
        let values = thread[table][name]
            .as_array()
            .with_context(|| format!("the profile has no {table}.{name}"))?;
        Ok(values
            .iter()
            .map(|v| v.as_u64().and_then(|n| usize::try_from(n).ok()))
            .collect())
    };
    let (stack_frame, stack_prefix) = (
        column("stackTable", "frame")?,
        column("stackTable", "prefix")?,
    );
    let frame_func = column("frameTable", "func")?;
    let func_name = column("funcTable", "name")?;
    let samples = column("samples", "stack")?;
    let name_of = |frame: usize| -> String {
        frame_func
            .get(frame)
            .copied()
            .flatten()
            .and_then(|func| func_name.get(func).copied().flatten())
            .and_then(|name| strings.get(name))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("<unknown>")
            .to_owned()
    };
    let mut self_counts: HashMap<String, usize> = HashMap::new();
    let mut total_counts: HashMap<String, usize> = HashMap::new();
    let mut counted = 0usize;
    for stack in samples.into_iter().flatten() {
        counted += 1;
        let mut seen = Vec::new();
        let mut current = Some(stack);
        let mut leaf = true;
        while let Some(index) = current {
            let name = stack_frame.get(index).copied().flatten().map(name_of);
            if let Some(name) = name {
                if leaf {
                    *self_counts.entry(name.clone()).or_default() += 1;
                    leaf = false;
                }
                if !seen.contains(&name) {
                    *total_counts.entry(name.clone()).or_default() += 1;
                    seen.push(name);
                }
            }
            current = stack_prefix.get(index).copied().flatten();
        }
    }
    if counted == 0 {
        return Ok(Vec::new());
    }
    let share = |n: usize| n as f64 / counted as f64;
    let mut frames: Vec<FrameShare> = total_counts
        .iter()
        .map(|(function, n)| FrameShare {
            function: function.clone(),
            self_share: share(self_counts.get(function).copied().unwrap_or(0)),
            total_share: share(*n),
        })
        .collect();
    frames.sort_by(|a, b| {
        b.self_share
            .total_cmp(&a.self_share)
            .then(a.function.cmp(&b.function))
    });
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Two functions, `main` calling `work`: three samples in `work`, one in `main` alone.
    fn profile() -> serde_json::Value {
        json!({"threads": [{
            "stringArray": ["main", "work"],
            "funcTable": {"name": [0, 1]},
            "frameTable": {"func": [0, 1]},
            "stackTable": {"frame": [0, 1], "prefix": [null, 0]},
            "samples": {"stack": [1, 1, 0, 1]},
        }]})
    }

    #[test]
    fn self_counts_the_top_of_the_stack_and_total_every_frame_under_it() {
        let frames = frame_shares(&profile()).unwrap();
        let share = |name: &str| {
            let frame = frames.iter().find(|f| f.function == name).unwrap();
            (frame.self_share, frame.total_share)
        };
        assert_eq!(share("work"), (0.75, 0.75));
        assert_eq!(share("main"), (0.25, 1.0));
        assert_eq!(frames[0].function, "work", "busiest on top first");
    }

    #[test]
    fn a_profile_without_samples_has_no_frames() {
        let mut empty = profile();
        empty["threads"][0]["samples"]["stack"] = json!([]);
        assert!(frame_shares(&empty).unwrap().is_empty());
    }
}
