// SPDX-License-Identifier: GPL-2.0

//! [`RunShared`]: everything about one run that outlives its threads (state,
//! [`Counter`]s, violations, the verdict).

use super::{
    desc::{Need, ScenarioDesc},
    params::Params,
};
use crate::checkers::{self, Violation};
use crate::ffi;
use core::fmt::Write;
use kernel::{
    fmt, new_mutex,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc, Mutex,
    },
    time::{Instant, Monotonic},
};

/// Violations kept per run; later ones are only counted.
const MAX_VIOLATIONS: usize = 16;

/// State of a run, as `status` shows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub(crate) enum RunState {
    Running = 1,
    Passed = 2,
    Failed = 3,
    Stopped = 4,
    Error = 5,
    /// The machine lacks a precondition (NUMA nodes, THPs): not a verdict.
    Skipped = 6,
}

impl RunState {
    fn from_u32(v: u32) -> Self {
        match v {
            2 => Self::Passed,
            3 => Self::Failed,
            4 => Self::Stopped,
            5 => Self::Error,
            6 => Self::Skipped,
            _ => Self::Running,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Stopped => "stopped",
            Self::Error => "error",
            Self::Skipped => "skipped",
        }
    }
}

/// Named event counters a run exposes in `status` (like locktorture's stats).
#[derive(Clone, Copy)]
#[repr(usize)]
pub(crate) enum Counter {
    /// Worker loop iterations (all roles).
    Iterations,
    /// Folios migrated successfully.
    Migrated,
    /// Folios a migration attempt left behind.
    MigrateFailed,
    /// Folios that could not be isolated from the LRU.
    IsolateFailed,
    /// Invariant checks performed.
    Checks,
    /// Pages whose data pattern was verified.
    PagesVerified,
    /// CPU shuffles of the worker set.
    Shuffles,
    /// Extra references (GUP get/pin) taken on test folios.
    Refs,
    /// Aligned rounds whose two critical sections overlapped in time.
    Overlaps,
    /// Aligned rounds run.
    Rounds,
    /// Park points that waited out their whole timeout.
    Timeouts,
    /// Probe walks that visited the destination vma first (conclusive).
    Probes,
    /// Threads that entered the park point (the window held open).
    ParkEntries,
    /// Folios taken off the LRU by a scenario's isolator.
    Isolated,
    /// Worker naps the watchdog woke because they overran their end by
    /// [`super::worker::OVERSLEPT_MS`]: a lost timer interrupt.
    NapKicks,
}

const COUNTERS: usize = 15;

const COUNTER_NAMES: [&str; COUNTERS] = [
    "iterations",
    "migrated",
    "migrate_failed",
    "isolate_failed",
    "checks",
    "pages_verified",
    "shuffles",
    "refs",
    "overlaps",
    "rounds",
    "park_timeouts",
    "probes",
    "park_entries",
    "isolated",
    "nap_kicks",
];

impl Counter {
    /// The counter's name in `status` and `result`.
    pub(crate) fn name(self) -> &'static str {
        COUNTER_NAMES[self as usize]
    }
}

/// Everything about one run that outlives its threads.
#[pin_data]
pub(crate) struct RunShared {
    pub(crate) desc: &'static ScenarioDesc,
    pub(crate) params: Params,
    pub(crate) seed: u64,
    pub(super) state: Atomic<u32>,
    pub(super) stop_requested: Atomic<bool>,
    /// The run-wide stop (torture_must_stop): the run is ending.
    pub(super) ending: Atomic<bool>,
    pub(super) failed: Atomic<bool>,
    pub(super) started: Instant<Monotonic>,
    pub(super) elapsed_ms: Atomic<u64>,
    /// Run time (ms) when the workers were released (`NOT_YET` before).
    pub(super) released_ms: Atomic<u64>,
    /// Run time (ms) of the first violation (`NOT_YET` if none).
    first_violation_ms: Atomic<u64>,
    pub(super) started_workers: Atomic<u32>,
    pub(super) go: Atomic<bool>,
    counters: [Atomic<u64>; COUNTERS],
    nr_violations: Atomic<u64>,
    #[pin]
    violations: Mutex<KVec<Violation>>,
    #[pin]
    pub(super) result: Mutex<Option<CString>>,
    /// Why the run was skipped (a missing machine precondition).
    #[pin]
    pub(super) skip: Mutex<Option<&'static str>>,
    /// Roles of the workers the watchdog found stuck.
    #[pin]
    pub(super) stuck: Mutex<KVec<&'static str>>,
    /// The scenario's own `key: value` lines (its per-op counts), shown by
    /// `status` and `result`.
    #[pin]
    extra: Mutex<Text>,
    /// What the scenario attached to explain a failure (its op log),
    /// shown by `result`.
    #[pin]
    attached: Mutex<Text>,
    /// Stuck workers given up on that have not returned yet (each pins
    /// the module).
    pub(super) orphans: Atomic<u32>,
}

impl RunShared {
    /// A run of `desc` with `params`, not started yet.
    pub(crate) fn new(desc: &'static ScenarioDesc, params: Params) -> Result<Arc<Self>> {
        let seed = match params.get("seed") {
            Some(0) | None => ffi::random_u64() | 1,
            Some(s) => s,
        };
        Arc::pin_init(
            pin_init!(Self {
                desc,
                params,
                seed,
                state: Atomic::new(RunState::Running as u32),
                stop_requested: Atomic::new(false),
                ending: Atomic::new(false),
                failed: Atomic::new(false),
                started: Instant::now(),
                elapsed_ms: Atomic::new(0),
                released_ms: Atomic::new(NOT_YET),
                first_violation_ms: Atomic::new(NOT_YET),
                started_workers: Atomic::new(0),
                go: Atomic::new(false),
                counters: [const { Atomic::new(0) }; COUNTERS],
                nr_violations: Atomic::new(0),
                violations <- new_mutex!(KVec::new()),
                result <- new_mutex!(None),
                skip <- new_mutex!(None),
                stuck <- new_mutex!(KVec::new()),
                extra <- new_mutex!(Text::new()),
                attached <- new_mutex!(Text::new()),
                orphans: Atomic::new(0),
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn state(&self) -> RunState {
        RunState::from_u32(self.state.load(Acquire))
    }

    /// Asks the run to stop early (debugfs `stop`).
    pub(crate) fn request_stop(&self) {
        self.stop_requested.store(true, Release);
    }

    /// True once workers should stop: stop requested, a violation seen, or
    /// the thread itself is being stopped.
    pub(crate) fn should_stop(&self) -> bool {
        self.stop_requested.load(Acquire)
            || self.ending.load(Acquire)
            || self.failed.load(Acquire)
            || ffi::kthread_should_stop()
    }

    /// Sets a counter that mirrors a total kept elsewhere.
    pub(crate) fn set_count(&self, c: Counter, v: u64) {
        self.counters[c as usize].store(v, Relaxed);
    }

    /// Scenario setup: the migration scenarios move folios between NUMA
    /// nodes 0 and 1, so both must be online (`ENODEV` and a message if not).
    pub(crate) fn require_two_nodes(&self) -> Result {
        if ffi::node_online(0) && ffi::node_online(1) {
            return Ok(());
        }
        Err(self.skip("needs NUMA nodes 0 and 1 online"))
    }

    /// The machine lacks a precondition of the scenario: the run ends
    /// `skipped` with `reason` (return the error this gives from `setup`).
    pub(crate) fn skip(&self, reason: &'static str) -> Error {
        pr_warn!("{}: skipped: {}\n", self.desc.name, reason);
        *self.skip.lock() = Some(reason);
        ENODEV
    }

    /// The first declared need this run fell short of: (need, count).
    /// The first declared need this run fell short of: (need, count, what
    /// a run of this length needs).
    pub(super) fn shortfall(&self) -> Option<(&'static Need, u64, u64)> {
        self.desc.coverage.iter().find_map(|n| {
            if let Some((p, v)) = n.unless {
                if self.params.get(p) == Some(v) {
                    return None;
                }
            }
            let got = self.counters[n.counter as usize].load(Relaxed);
            let min = n.min_for(self.params.duration);
            (got < min).then_some((n, got, min))
        })
    }

    /// Stuck workers given up on that have not returned yet.
    pub(crate) fn orphans(&self) -> u32 {
        self.orphans.load(Relaxed)
    }

    /// Adds `n` to a counter.
    pub(crate) fn count(&self, c: Counter, n: u64) {
        self.counters[c as usize].add(n, Relaxed);
    }

    /// Records an invariant violation; the run will end as failed.
    pub(crate) fn violation(&self, v: Violation) {
        pr_err!(
            "violation in {} (seed {}): {}\n",
            self.desc.name,
            self.seed,
            v
        );
        self.nr_violations.add(1, Relaxed);
        // Only the first one sets it: a failed exchange is the expected case.
        let _ = self
            .first_violation_ms
            .cmpxchg(NOT_YET, self.now_ms(), Relaxed);
        {
            let mut list = self.violations.lock();
            if list.len() < MAX_VIOLATIONS {
                // On allocation failure the violation is still counted.
                let _ = list.push(v, GFP_KERNEL);
            }
        }
        self.failed.store(true, Release);
    }

    /// Violations recorded so far.
    pub(crate) fn violations_seen(&self) -> u64 {
        self.nr_violations.load(Relaxed)
    }

    /// Replaces the scenario's own `key: value` status lines.
    pub(crate) fn set_extra(&self, f: impl FnOnce(&mut Text)) {
        let mut t = Text::new();
        f(&mut t);
        *self.extra.lock() = t;
    }

    /// Appends lines to what `result` shows after the violations (e.g. the
    /// operations that led to one).
    pub(crate) fn attach(&self, f: impl FnOnce(&mut Text)) {
        f(&mut self.attached.lock());
    }

    /// Milliseconds since the run started (not frozen).
    pub(super) fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Milliseconds since the run started (frozen once it ended).
    pub(crate) fn elapsed_ms(&self) -> u64 {
        match self.state() {
            RunState::Running => self.started.elapsed().as_millis() as u64,
            _ => self.elapsed_ms.load(Acquire),
        }
    }

    /// `status`: `key: value` lines.
    pub(crate) fn write_status(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "state: {}", self.state().name())?;
        writeln!(f, "scenario: {}", self.desc.name)?;
        writeln!(f, "seed: {}", self.seed)?;
        writeln!(f, "elapsed_ms: {}", self.elapsed_ms())?;
        writeln!(f, "workers: {}", self.started_workers.load(Relaxed))?;
        for (i, name) in COUNTER_NAMES.iter().enumerate() {
            writeln!(f, "{}: {}", name, self.counters[i].load(Relaxed))?;
        }
        f.write_str(self.extra.lock().as_str())?;
        writeln!(f, "violations: {}", self.nr_violations.load(Relaxed))?;
        self.write_stuck(f)
    }

    /// The stuck workers and whether they still pin the module.
    fn write_stuck(&self, f: &mut impl Write) -> core::fmt::Result {
        let stuck = self.stuck.lock();
        if stuck.is_empty() {
            return Ok(());
        }
        write!(f, "stuck:")?;
        for role in stuck.iter() {
            write!(f, " mmt_{role}")?;
        }
        writeln!(f)?;
        match self.orphans.load(Relaxed) {
            0 => Ok(()),
            n => writeln!(
                f,
                "pinned: {n} stuck worker(s) still in the kernel; mmtorture cannot be unloaded until they return"
            ),
        }
    }

    /// `result`: the KTAP report of the finished run, if any.
    pub(crate) fn write_result(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.result.lock() {
            Some(text) => f.write_str(text.to_str().unwrap_or("")),
            None => writeln!(f, "# run in progress"),
        }
    }

    /// Builds the KTAP verdict for a finished run.
    pub(super) fn build_result(&self, state: RunState, error: Option<Error>) -> Result<CString> {
        let mut out = Text::new();
        let name = self.desc.name;
        let _ = writeln!(out, "KTAP version 1");
        let _ = writeln!(out, "1..1");
        let _ = writeln!(
            out,
            "# scenario={} seed={} elapsed_ms={}",
            name,
            self.seed,
            self.elapsed_ms()
        );
        // Where the time went: setup (until the workers are released), the
        // race until the first violation, and what followed it (the end of
        // the round, the final checks, teardown) until elapsed_ms.
        let _ = write!(out, "# timing: setup_ms=");
        let _ = write_ms(&mut out, self.released_ms.load(Relaxed));
        let _ = write!(out, " detected_ms=");
        let _ = write_ms(&mut out, self.first_violation_ms.load(Relaxed));
        let _ = writeln!(out);
        let _ = write!(out, "# reproduce: run {name}");
        let _ = self.params.write_args(&mut out, self.seed);
        let _ = writeln!(out);
        for (i, cname) in COUNTER_NAMES.iter().enumerate() {
            let _ = writeln!(out, "# {}: {}", cname, self.counters[i].load(Relaxed));
        }
        for line in self.extra.lock().as_str().lines() {
            let _ = writeln!(out, "# {line}");
        }
        let total = self.nr_violations.load(Relaxed);
        for v in self.violations.lock().iter() {
            let _ = writeln!(out, "# violation: {v}");
        }
        if total as usize > MAX_VIOLATIONS {
            let _ = writeln!(
                out,
                "# ... {} more violations not kept",
                total as usize - MAX_VIOLATIONS
            );
        }
        for line in self.attached.lock().as_str().lines() {
            let _ = writeln!(out, "# {line}");
        }
        let _ = self.write_stuck(&mut out);
        let skip = *self.skip.lock();
        if let (Some(e), None) = (error, skip) {
            let _ = writeln!(out, "# error: run aborted with errno {}", e.to_errno());
        }
        let short = match state {
            RunState::Failed if self.nr_violations.load(Relaxed) == 0 => self.shortfall(),
            _ => None,
        };
        if let Some((n, got, min)) = short {
            let _ = writeln!(out, "# no-coverage: {} {} < {}", n.counter.name(), got, min);
        }
        let _ = match (state, short) {
            (RunState::Passed, _) => writeln!(out, "ok 1 {name}"),
            (RunState::Stopped, _) => {
                writeln!(out, "ok 1 {name} # SKIP stopped before its duration")
            }
            (RunState::Skipped, _) => {
                writeln!(out, "ok 1 {name} # SKIP {}", skip.unwrap_or("precondition"))
            }
            (_, Some((n, got, min))) => writeln!(
                out,
                "not ok 1 {name} # no-coverage: {} {} < {}",
                n.counter.name(),
                got,
                min
            ),
            _ => writeln!(out, "not ok 1 {name}"),
        };
        out.into_cstring()
    }
}

impl checkers::Sink for RunShared {
    fn violation(&self, v: Violation) {
        RunShared::violation(self, v);
    }

    fn tally(&self, t: checkers::Tally, n: u64) {
        let c = match t {
            checkers::Tally::Check => Counter::Checks,
            checkers::Tally::IsolateFailed => Counter::IsolateFailed,
        };
        self.count(c, n);
    }
}

/// A run time that has not happened (yet): `released_ms` before the workers
/// start, `first_violation_ms` of a run without one.
pub(super) const NOT_YET: u64 = u64::MAX;

/// Writes a run time in ms, or `-` for [`NOT_YET`].
fn write_ms(out: &mut impl Write, ms: u64) -> core::fmt::Result {
    match ms {
        NOT_YET => out.write_str("-"),
        ms => write!(out, "{ms}"),
    }
}

/// A growable text buffer for `core::fmt::Write` (a KVec under the hood).
pub(crate) struct Text(KVec<u8>);

impl Text {
    pub(crate) fn new() -> Self {
        Self(KVec::new())
    }

    /// The text so far (empty if it is not UTF-8).
    pub(crate) fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    fn into_cstring(self) -> Result<CString> {
        let s = core::str::from_utf8(&self.0).map_err(|_| EINVAL)?;
        CString::try_from_fmt(fmt!("{s}"))
    }
}

impl Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
}
