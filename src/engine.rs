// SPDX-License-Identifier: GPL-2.0

//! The run engine: parameters, the run lifecycle, worker kthreads.
//!
//! Lifecycle of one run (all on the runner kthread, see [`Runner`]):
//! parse → create the test mm → `Scenario::setup` → start one worker per role
//! (pinned to the chosen CPUs, released together by a start barrier) → wait
//! for the duration, a `stop`, rmmod, or the first violation, shuffling worker
//! CPUs periodically → stop and join the workers → `Scenario::finish` (mm still
//! attached) → drop the mm → `Scenario::after_teardown` → verdict (KTAP).
//!
//! Ownership: a run's [`RunShared`] is an `Arc` held by the module state (for
//! `status`/`result`), the runner and every worker. Workers are joined
//! (`kthread_stop`) before the runner tears the mm down, and the runner is
//! joined before the module state lets go of a run.

#![deny(unsafe_code)]

use crate::checkers::{self, Violation};
use crate::ffi::{self, FolioRef, Kthread, MmUse, ThreadMain};
use core::fmt::Write;
use kernel::{
    fmt,
    mm::MmWithUser,
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    str::CString,
    sync::{
        aref::ARef,
        atomic::{Acquire, Atomic, Full, Relaxed, Release},
        Arc, Mutex,
    },
    time::{delay::fsleep, Delta, Instant, Monotonic},
};

/// One entry of the scenario table (`scenarios::SCENARIOS`): what a
/// scenario is called, takes, runs and must prove.
pub(crate) struct ScenarioDesc {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    /// Scenario-specific parameters (the common ones are in the engine).
    pub(crate) params: &'static [ParamSpec],
    /// Worker roles, one kthread each.
    pub(crate) roles: &'static [&'static str],
    /// Coverage evidence: what a passing run must have done (else it fails
    /// with `no-coverage`).
    pub(crate) coverage: &'static [Need],
    /// Runs the scenario to completion on the runner thread.
    pub(crate) execute: fn(&Arc<RunShared>) -> Result,
}

/// Violations kept per run; later ones are only counted.
const MAX_VIOLATIONS: usize = 16;

/// A parameter a scenario accepts: `key=value` on the `run` line.
pub(crate) struct ParamSpec {
    pub(crate) name: &'static str,
    pub(crate) default: u64,
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) help: &'static str,
}

/// Parameters every scenario accepts (besides `cpus=`).
pub(crate) const COMMON_PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "duration",
        default: 5,
        min: 1,
        max: 3600,
        help: "seconds",
    },
    ParamSpec {
        name: "pages",
        default: 64,
        min: 1,
        max: 65536,
        help: "test pages",
    },
    ParamSpec {
        name: "seed",
        default: 0,
        min: 0,
        max: u64::MAX,
        help: "0 = random",
    },
    ParamSpec {
        name: "shuffle_ms",
        default: 200,
        min: 0,
        max: 60000,
        help: "CPU shuffle period, 0 = off",
    },
    ParamSpec {
        name: "stall_s",
        default: 10,
        min: 1,
        max: 600,
        help: "a worker without progress this long is stuck",
    },
];

/// Rate limit of the warnings about rejected input (as printk_ratelimited:
/// at most `BURST` per `INTERVAL_MS`; the suppressed ones are counted and
/// said once the next window opens). A flood of bad writes must not flood
/// the console (under TCG the console is the bottleneck).
pub(crate) struct WarnLimit {
    window_ms: Atomic<u64>,
    printed: Atomic<u32>,
    suppressed: Atomic<u32>,
}

impl WarnLimit {
    const INTERVAL_MS: u64 = 5000;
    const BURST: u32 = 10;

    const fn new() -> Self {
        Self {
            window_ms: Atomic::new(0),
            printed: Atomic::new(0),
            suppressed: Atomic::new(0),
        }
    }

    /// May a warning be printed now?
    pub(crate) fn allow(&self) -> bool {
        let now = ffi::now_ms();
        let start = self.window_ms.load(Relaxed);
        if now.saturating_sub(start) >= Self::INTERVAL_MS
            && self.window_ms.cmpxchg(start, now, Full).is_ok()
        {
            self.printed.store(0, Relaxed);
            let n = self.suppressed.xchg(0, Relaxed);
            if n > 0 {
                pr_warn!("{} warnings about rejected control writes suppressed\n", n);
            }
        }
        if self.printed.fetch_add(1, Relaxed) < Self::BURST {
            return true;
        }
        self.suppressed.add(1, Relaxed);
        false
    }
}

/// The rate limit of every warning about rejected input.
pub(crate) static WARN_LIMIT: WarnLimit = WarnLimit::new();

/// `pr_warn!` for rejected input, rate-limited by [`WARN_LIMIT`].
#[macro_export]
macro_rules! input_warn {
    ($($arg:tt)*) => {
        if $crate::engine::WARN_LIMIT.allow() {
            ::kernel::prelude::pr_warn!($($arg)*);
        }
    };
}

/// A scenario's own parameters as a typed struct (see
/// [`scenario_params!`](crate::scenario_params)): reading a parameter the
/// scenario does not declare, or a misspelt one, is a compile error.
pub(crate) trait ScenarioParams: Sized + Send + Sync + 'static {
    /// The declared parameters, in field order.
    const SPECS: &'static [ParamSpec];
    /// Builds the struct from values in [`Self::SPECS`] order.
    fn from_values(values: &[u64]) -> Self;
}

/// Declares a scenario's parameters: a struct with one `u64` field per
/// parameter, and its [`ScenarioParams`] table (name = field name).
///
/// ```ignore
/// scenario_params! {
///     /// Parameters of `x`.
///     pub(crate) struct XParams {
///         /// held this long
///         hold_us: 500, 0..=1_000_000, "max isolation hold";
///     }
/// }
/// ```
#[macro_export]
macro_rules! scenario_params {
    ($(#[$m:meta])* $vis:vis struct $name:ident {
        $($(#[$fm:meta])* $field:ident: $default:expr, $min:literal..=$max:expr, $help:literal;)*
    }) => {
        $(#[$m])*
        $vis struct $name {
            $($(#[$fm])* pub(crate) $field: u64,)*
        }
        impl $crate::engine::ScenarioParams for $name {
            const SPECS: &'static [$crate::engine::ParamSpec] = &[$(
                $crate::engine::ParamSpec {
                    name: ::core::stringify!($field),
                    default: $default,
                    min: $min,
                    max: $max,
                    help: $help,
                },
            )*];
            #[allow(unused_variables, unused_mut)]
            fn from_values(values: &[u64]) -> Self {
                let mut it = values.iter().copied();
                Self { $($field: it.next().unwrap_or($default),)* }
            }
        }
    };
}

/// A scenario without parameters of its own.
pub(crate) struct NoParams;

impl ScenarioParams for NoParams {
    const SPECS: &'static [ParamSpec] = &[];
    fn from_values(_values: &[u64]) -> Self {
        Self
    }
}

/// The parsed parameters of one run: the common ones as fields, the
/// scenario's own through [`Params::own`].
pub(crate) struct Params {
    values: KVec<(&'static str, u64)>,
    /// Run length (s).
    pub(crate) duration: u64,
    /// Test pages.
    pub(crate) pages: usize,
    /// CPU shuffle period (ms), 0 = off.
    pub(crate) shuffle_ms: u64,
    /// A worker without progress this long (s) is stuck.
    pub(crate) stall_s: u64,
    /// CPUs workers run on (worker i starts on `cpus[i % len]`).
    pub(crate) cpus: KVec<u32>,
}

impl Params {
    /// Value of parameter `name` (one of the scenario's or the common ones).
    fn get(&self, name: &str) -> Option<u64> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// The scenario's own parameters, typed. `P` must be the scenario's
    /// own [`ScenarioParams`] (the table is built from it, so it is).
    pub(crate) fn own<P: ScenarioParams>(&self) -> Result<P> {
        let own = self.values.get(COMMON_PARAMS.len()..).unwrap_or(&[]);
        let same =
            own.len() == P::SPECS.len() && own.iter().zip(P::SPECS).all(|((n, _), s)| *n == s.name);
        if !same {
            pr_err!("parameters read through a type that is not the scenario's own\n");
            return Err(EINVAL);
        }
        let mut values = KVec::with_capacity(own.len(), GFP_KERNEL)?;
        for (_, v) in own {
            values.push(*v, GFP_KERNEL)?;
        }
        Ok(P::from_values(&values))
    }

    /// Parses `key=value` words for `desc`. A bad word is reported with
    /// pr_warn (naming it and what is accepted) and gives `EINVAL`.
    pub(crate) fn parse<'a>(
        desc: &ScenarioDesc,
        words: impl Iterator<Item = &'a str>,
    ) -> Result<Self> {
        let name = desc.name;
        let mut values = KVec::new();
        for spec in all_params(desc) {
            values.push((spec.name, spec.default), GFP_KERNEL)?;
        }
        let mut cpus = KVec::new();
        let mut seen: KVec<&str> = KVec::new();
        for word in words {
            let Some((key, val)) = word.split_once('=') else {
                crate::input_warn!("run {}: '{}' is not key=value\n", name, word);
                return Err(EINVAL);
            };
            if seen.contains(&key) {
                crate::input_warn!("run {}: parameter '{}' given twice\n", name, key);
                return Err(EINVAL);
            }
            seen.push(key, GFP_KERNEL)?;
            if key == "cpus" {
                if !parse_cpu_list(val, &mut cpus)? {
                    crate::input_warn!("run {}: cpus='{}' is not a list of distinct online CPUs (e.g. 0-3 or 0,2)\n", name, val);
                    return Err(EINVAL);
                }
                continue;
            }
            let Some(spec) = all_params(desc).find(|s| s.name == key) else {
                crate::input_warn!(
                    "run {}: unknown parameter '{}' (see scenarios)\n",
                    name,
                    key
                );
                return Err(EINVAL);
            };
            let Some(v) = parse_u64(val) else {
                crate::input_warn!("run {}: {}='{}' is not a number\n", name, key, val);
                return Err(EINVAL);
            };
            if v < spec.min || v > spec.max {
                crate::input_warn!(
                    "run {}: {}={} is out of range {}..={} ({})\n",
                    name,
                    key,
                    v,
                    spec.min,
                    spec.max,
                    spec.help
                );
                return Err(EINVAL);
            }
            if let Some(slot) = values.iter_mut().find(|(n, _)| *n == key) {
                slot.1 = v;
            }
        }
        if cpus.is_empty() {
            for cpu in 0..ffi::num_online_cpus() {
                cpus.push(cpu, GFP_KERNEL)?;
            }
        }
        let common = |n: &str| values.iter().find(|(k, _)| *k == n).map_or(0, |(_, v)| *v);
        Ok(Self {
            duration: common("duration"),
            pages: common("pages") as usize,
            shuffle_ms: common("shuffle_ms"),
            stall_s: common("stall_s"),
            values,
            cpus,
        })
    }

    /// Writes the `key=value ...` words that reproduce these parameters.
    pub(crate) fn write_args(&self, f: &mut impl Write, seed: u64) -> core::fmt::Result {
        for (name, v) in self.values.iter() {
            let v = if *name == "seed" { seed } else { *v };
            write!(f, " {name}={v}")?;
        }
        write!(f, " cpus=")?;
        for (i, c) in self.cpus.iter().enumerate() {
            write!(f, "{}{c}", if i > 0 { "," } else { "" })?;
        }
        Ok(())
    }
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn declares(specs: &[ParamSpec], name: &str) -> bool {
    let mut i = 0;
    while i < specs.len() {
        if str_eq(specs[i].name, name) {
            return true;
        }
        i += 1;
    }
    false
}

/// Compile-time check of a scenario table (`const _: () = check_table(..)`):
/// every coverage waiver names a parameter its scenario declares.
pub(crate) const fn check_table(table: &[ScenarioDesc]) {
    let mut i = 0;
    while i < table.len() {
        let mut j = 0;
        while j < table[i].coverage.len() {
            if let Some((name, _)) = table[i].coverage[j].unless {
                if !declares(table[i].params, name) && !declares(COMMON_PARAMS, name) {
                    panic!(
                        "a coverage need is waived by a parameter its scenario does not declare"
                    );
                }
            }
            j += 1;
        }
        i += 1;
    }
}

/// The common parameters followed by `desc`'s own.
pub(crate) fn all_params(desc: &ScenarioDesc) -> impl Iterator<Item = &ParamSpec> {
    Iterator::chain(COMMON_PARAMS.iter(), desc.params.iter())
}

fn parse_u64(s: &str) -> Option<u64> {
    if let Some(hex) = s.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// `0-3`, `1,3`, `0,2-3`: online CPUs only, no duplicates. Ok(false) if
/// the list is malformed.
fn parse_cpu_list(s: &str, out: &mut KVec<u32>) -> Result<bool> {
    for part in s.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (Ok(lo), Ok(hi)) = (lo.parse::<u32>(), hi.parse::<u32>()) else {
            return Ok(false);
        };
        if lo > hi || hi >= 4096 {
            return Ok(false);
        }
        for cpu in lo..=hi {
            if !ffi::cpu_online(cpu) || out.contains(&cpu) {
                return Ok(false);
            }
            out.push(cpu, GFP_KERNEL)?;
        }
    }
    Ok(true)
}

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
}

const COUNTERS: usize = 14;

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
];

impl Counter {
    /// The counter's name in `status` and `result`.
    pub(crate) fn name(self) -> &'static str {
        COUNTER_NAMES[self as usize]
    }
}

/// Coverage evidence a scenario declares (in the scenario table): a run that
/// ends without `counter >= min` did not prove its race ran and fails with
/// `no-coverage`, as rcutorture treats a writer that made no progress. The
/// need is waived when parameter `unless.0` equals `unless.1` (e.g. no park
/// entries are needed with `park=0`).
pub(crate) struct Need {
    pub(crate) counter: Counter,
    pub(crate) min: u64,
    pub(crate) unless: Option<(&'static str, u64)>,
}

/// A need that always applies.
pub(crate) const fn need(counter: Counter, min: u64) -> Need {
    Need {
        counter,
        min,
        unless: None,
    }
}

/// A need waived when parameter `param` is `value`.
pub(crate) const fn need_unless(
    counter: Counter,
    min: u64,
    param: &'static str,
    value: u64,
) -> Need {
    Need {
        counter,
        min,
        unless: Some((param, value)),
    }
}

/// Everything about one run that outlives its threads.
#[pin_data]
pub(crate) struct RunShared {
    pub(crate) desc: &'static ScenarioDesc,
    pub(crate) params: Params,
    pub(crate) seed: u64,
    state: Atomic<u32>,
    stop_requested: Atomic<bool>,
    /// The run-wide stop (torture_must_stop): the run is ending.
    ending: Atomic<bool>,
    failed: Atomic<bool>,
    started: Instant<Monotonic>,
    elapsed_ms: Atomic<u64>,
    started_workers: Atomic<u32>,
    go: Atomic<bool>,
    counters: [Atomic<u64>; COUNTERS],
    nr_violations: Atomic<u64>,
    #[pin]
    violations: Mutex<KVec<Violation>>,
    #[pin]
    result: Mutex<Option<CString>>,
    /// Why the run was skipped (a missing machine precondition).
    #[pin]
    skip: Mutex<Option<&'static str>>,
    /// Roles of the workers the watchdog found stuck.
    #[pin]
    stuck: Mutex<KVec<&'static str>>,
    /// Stuck workers given up on that have not returned yet (each pins
    /// the module).
    orphans: Atomic<u32>,
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
                started_workers: Atomic::new(0),
                go: Atomic::new(false),
                counters: [const { Atomic::new(0) }; COUNTERS],
                nr_violations: Atomic::new(0),
                violations <- new_mutex!(KVec::new()),
                result <- new_mutex!(None),
                skip <- new_mutex!(None),
                stuck <- new_mutex!(KVec::new()),
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
    fn shortfall(&self) -> Option<(&'static Need, u64)> {
        self.desc.coverage.iter().find_map(|n| {
            if let Some((p, v)) = n.unless {
                if self.params.get(p) == Some(v) {
                    return None;
                }
            }
            let got = self.counters[n.counter as usize].load(Relaxed);
            (got < n.min).then_some((n, got))
        })
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
        {
            let mut list = self.violations.lock();
            if list.len() < MAX_VIOLATIONS {
                // On allocation failure the violation is still counted.
                let _ = list.push(v, GFP_KERNEL);
            }
        }
        self.failed.store(true, Release);
    }

    /// Milliseconds since the run started (not frozen).
    fn now_ms(&self) -> u64 {
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
    fn build_result(&self, state: RunState, error: Option<Error>) -> Result<CString> {
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
        let _ = write!(out, "# reproduce: run {name}");
        let _ = self.params.write_args(&mut out, self.seed);
        let _ = writeln!(out);
        for (i, cname) in COUNTER_NAMES.iter().enumerate() {
            let _ = writeln!(out, "# {}: {}", cname, self.counters[i].load(Relaxed));
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
        let _ = self.write_stuck(&mut out);
        let skip = *self.skip.lock();
        if let (Some(e), None) = (error, skip) {
            let _ = writeln!(out, "# error: run aborted with errno {}", e.to_errno());
        }
        let short = match state {
            RunState::Failed if self.nr_violations.load(Relaxed) == 0 => self.shortfall(),
            _ => None,
        };
        if let Some((n, got)) = short {
            let _ = writeln!(
                out,
                "# no-coverage: {} {} < {}",
                n.counter.name(),
                got,
                n.min
            );
        }
        let _ = match (state, short) {
            (RunState::Passed, _) => writeln!(out, "ok 1 {name}"),
            (RunState::Stopped, _) => {
                writeln!(out, "ok 1 {name} # SKIP stopped before its duration")
            }
            (RunState::Skipped, _) => {
                writeln!(out, "ok 1 {name} # SKIP {}", skip.unwrap_or("precondition"))
            }
            (_, Some((n, got))) => writeln!(
                out,
                "not ok 1 {name} # no-coverage: {} {} < {}",
                n.counter.name(),
                got,
                n.min
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

/// A growable text buffer for `core::fmt::Write` (a KVec under the hood).
pub(crate) struct Text(KVec<u8>);

impl Text {
    pub(crate) fn new() -> Self {
        Self(KVec::new())
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

/// What a scenario is: the per-run state built by `setup`, shared by workers.
pub(crate) trait Scenario: Send + Sync + Sized + 'static {
    /// Worker roles; one worker kthread runs each role.
    const ROLES: &'static [&'static str];

    /// The scenario's own parameters (`run.params.own::<Self::Params>()`).
    type Params: ScenarioParams;

    /// Builds the scenario's state in the test mm (attached to the runner).
    fn setup(run: &RunShared, mm: &MmUse<'_>) -> Result<Self>;

    /// One iteration of `w.role` on a worker (mm attached). Violations go to
    /// `w.run.violation()`; an `Err` aborts the run as an error.
    fn step(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result;

    /// Final checks once the workers are stopped (mm still attached).
    /// Returns folios (with a reference) that the mm teardown must release:
    /// the engine checks each is unmapped and otherwise unreferenced after it.
    fn finish(&self, run: &RunShared, mm: &MmUse<'_>) -> Result<KVec<FolioRef>>;

    /// Checks after the test mm has been torn down (workers are gone).
    fn after_teardown(&self, _run: &RunShared) -> Result {
        Ok(())
    }
}

/// `a % n`, or 0 for `n == 0`: never the remainder-by-zero panic path
/// (which objtool 7.3 does not know as noreturn).
pub(crate) fn wrap(a: u64, n: u64) -> u64 {
    a.checked_rem(n).unwrap_or(0)
}

/// The `i`-th CPU of the list, cycling.
fn nth_cpu(cpus: &[u32], i: usize) -> i32 {
    cpus.get(wrap(i as u64, cpus.len() as u64) as usize)
        .map_or(-1, |&c| c as i32)
}

/// Seeded xorshift64* (a run with the same seed makes the same choices).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        Self((seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (0 if `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        wrap(self.next(), n)
    }
}

/// What a worker's `step` sees.
pub(crate) struct WorkerCtx<'a> {
    pub(crate) run: &'a RunShared,
    pub(crate) role: usize,
    pub(crate) rng: Rng,
    pub(crate) iteration: u64,
    /// One page of scratch space.
    pub(crate) buf: KVec<u8>,
    /// This worker's progress stamp, read by the runner's watchdog.
    beat: &'a Atomic<u64>,
}

impl WorkerCtx<'_> {
    /// Records progress: the worker is back in module code (not stuck in
    /// the kernel under test). Every wait loop of a worker calls it.
    pub(crate) fn alive(&self) {
        self.beat.store(self.run.now_ms(), Relaxed);
    }

    /// [`RunShared::should_stop`] for a worker, recording progress.
    pub(crate) fn should_stop(&self) -> bool {
        self.alive();
        self.run.should_stop()
    }
}

/// Aligns the critical sections of two workers racing each other, round by
/// round, as LTP's fuzzy sync (tst_fuzzy_sync.h) does: both sides meet at a
/// barrier, the side whose section is on average shorter waits a random
/// delay within the difference of the moving averages (so the shorter window
/// lands anywhere inside the longer one), and every round whose two sections
/// overlapped in time is counted in `Counter::Overlaps`.
pub(crate) struct Aligner {
    reached: [Atomic<u64>; 2],
    start_ns: [Atomic<u64>; 2],
    end_ns: [Atomic<u64>; 2],
    /// Moving average of each side's section length (ns), 1/8 weight.
    avg_ns: [Atomic<u64>; 2],
    /// Who finished its section of the current round first.
    done: [Atomic<u64>; 2],
    /// Rounds each side has finished.
    ended: [Atomic<u64>; 2],
    epoch: Instant<Monotonic>,
}

impl Aligner {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            reached: [const { Atomic::new(0) }; 2],
            start_ns: [const { Atomic::new(0) }; 2],
            end_ns: [const { Atomic::new(0) }; 2],
            avg_ns: [const { Atomic::new(0) }; 2],
            done: [const { Atomic::new(0) }; 2],
            ended: [const { Atomic::new(0) }; 2],
        }
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Side `side` (0 or 1) enters its critical section of the next round.
    /// Returns false if the run is stopping (the other side may be gone).
    pub(crate) fn start(&self, side: usize, w: &mut WorkerCtx<'_>) -> bool {
        let (me, other) = (side & 1, (side & 1) ^ 1);
        // Full ordering: what this side published before the barrier is seen
        // by the other side after it.
        let round = self.reached[me].fetch_add(1, Full) + 1;
        while self.reached[other].load(Acquire) < round {
            if w.should_stop() {
                return false;
            }
            ffi::cond_resched();
        }
        let (mine, theirs) = (
            self.avg_ns[me].load(Relaxed),
            self.avg_ns[other].load(Relaxed),
        );
        if mine < theirs {
            let delay_ns = w.rng.below(theirs - mine + 1);
            let until = self.now_ns() + delay_ns;
            while self.now_ns() < until {
                core::hint::spin_loop();
            }
        }
        self.start_ns[me].store(self.now_ns(), Release);
        true
    }

    /// Side `side` leaves its critical section of the current round.
    pub(crate) fn end(&self, side: usize, run: &RunShared) {
        let me = side & 1;
        let end = self.now_ns();
        let len = end.saturating_sub(self.start_ns[me].load(Relaxed));
        let avg = self.avg_ns[me].load(Relaxed);
        self.avg_ns[me].store(
            if avg == 0 {
                len
            } else {
                avg - avg / 8 + len / 8
            },
            Relaxed,
        );
        self.end_ns[me].store(end, Release);
        let round = self.reached[me].load(Relaxed);
        self.ended[me].store(round, Release);
        // The second side to finish this round judges the overlap.
        if self.done[round as usize & 1].fetch_add(1, Relaxed) % 2 == 1 {
            let (s0, e0) = (self.start_ns[0].load(Acquire), self.end_ns[0].load(Acquire));
            let (s1, e1) = (self.start_ns[1].load(Acquire), self.end_ns[1].load(Acquire));
            run.count(Counter::Rounds, 1);
            if s0 < e1 && s1 < e0 {
                run.count(Counter::Overlaps, 1);
            }
        }
    }
}

impl Aligner {
    /// Waits until the other side has finished the round this side is in
    /// (so a check after the race sees both sides' effects). False if the
    /// run is stopping.
    pub(crate) fn wait_other(&self, side: usize, w: &WorkerCtx<'_>) -> bool {
        let (me, other) = (side & 1, (side & 1) ^ 1);
        let round = self.reached[me].load(Relaxed);
        while self.ended[other].load(Acquire) < round {
            if w.should_stop() {
                return false;
            }
            ffi::cond_resched();
        }
        true
    }
}

impl WorkerCtx<'_> {
    /// Waits until the role that drives the rounds has published this
    /// worker's current round in `published` (a count of published rounds).
    /// False if the run is stopping.
    pub(crate) fn wait_published(&self, published: &Atomic<u64>) -> bool {
        while published.load(Acquire) <= self.iteration {
            if self.should_stop() {
                return false;
            }
            ffi::cond_resched();
        }
        true
    }
}

/// A started worker: its thread (joined on drop) and its shared state.
type WorkerHandle<S> = (Kthread<Worker<S>>, Arc<Worker<S>>);

/// Phases of a worker thread (`Worker::phase`). The worker moves NEW →
/// RUNNING → DONE; the runner may move RUNNING → ORPHANED when it gives up
/// on a stuck worker. Whoever's cmpxchg wins decides: a DONE worker is
/// joined, an ORPHANED one exits on its own when (if) it returns.
const NEW: u32 = 0;
const RUNNING: u32 = 1;
const DONE: u32 = 2;
const ORPHANED: u32 = 3;

/// A worker thread: runs `S::step` for its role until the run stops.
struct Worker<S: Scenario> {
    run: Arc<RunShared>,
    scenario: Arc<S>,
    mm: ARef<MmWithUser>,
    role: usize,
    aborted: Atomic<i32>,
    phase: Atomic<u32>,
    /// Run time (ms) of the worker's last progress.
    beat: Atomic<u64>,
}

impl<S: Scenario> Worker<S> {
    /// The worker's loop. Returns true if the runner gave up on it meanwhile.
    fn work(&self) -> bool {
        let run = &*self.run;
        if self.phase.cmpxchg(NEW, RUNNING, Full).is_err() {
            return false;
        }
        self.beat.store(run.now_ms(), Relaxed);
        let mm = MmUse::new(&self.mm);
        run.started_workers.add(1, Relaxed);
        // Start barrier: every worker begins its loop at the same moment.
        while !run.go.load(Acquire) && !run.should_stop() {
            self.beat.store(run.now_ms(), Relaxed);
            fsleep(Delta::from_millis(1));
        }
        let buf = match KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL) {
            Ok(b) => b,
            Err(e) => {
                self.aborted.store(Error::from(e).to_errno(), Release);
                run.request_stop();
                KVec::new()
            }
        };
        let mut ctx = WorkerCtx {
            run,
            role: self.role,
            rng: Rng::new(run.seed, self.role as u64 + 1),
            iteration: 0,
            buf,
            beat: &self.beat,
        };
        while !ctx.should_stop() {
            if let Err(e) = self.scenario.step(&mut ctx, &mm) {
                self.aborted.store(e.to_errno(), Release);
                run.request_stop();
                break;
            }
            ctx.iteration += 1;
            run.count(Counter::Iterations, 1);
            ffi::cond_resched();
        }
        drop(ctx);
        drop(mm);
        self.phase.cmpxchg(RUNNING, DONE, Full).is_err()
    }
}

impl<S: Scenario> ThreadMain for Worker<S> {
    fn thread_main(this: Arc<Self>) {
        if this.work() {
            // The runner gave up on this thread and holds a module reference
            // for it: say so, drop everything, and release that reference.
            pr_info!(
                "{}: stuck worker mmt_{} returned; its module reference is released\n",
                this.run.desc.name,
                S::ROLES[this.role]
            );
            this.run.orphans.fetch_sub(1, Relaxed);
            drop(this);
            ffi::exit_orphaned();
        }
        // Stay until kthread_stop(): the runner joins every worker.
        while !ffi::kthread_should_stop() {
            fsleep(Delta::from_millis(10));
        }
    }
}

/// The runner thread of one run.
pub(crate) struct Runner {
    run: Arc<RunShared>,
}

impl ThreadMain for Runner {
    fn thread_main(this: Arc<Self>) {
        let run = &this.run;
        let res = (run.desc.execute)(run);
        let state = match &res {
            Err(_) if run.skip.lock().is_some() => RunState::Skipped,
            Err(_) => RunState::Error,
            Ok(()) if run.failed.load(Acquire) => RunState::Failed,
            Ok(()) if run.stop_requested.load(Acquire) => RunState::Stopped,
            Ok(()) if run.shortfall().is_some() => RunState::Failed,
            Ok(()) => RunState::Passed,
        };
        run.elapsed_ms
            .store(run.started.elapsed().as_millis() as u64, Release);
        match run.build_result(state, res.err()) {
            Ok(text) => *run.result.lock() = Some(text),
            Err(_) => pr_err!("cannot allocate the result of {}\n", run.desc.name),
        }
        pr_info!(
            "{} finished: {} (seed {}, {} ms)\n",
            run.desc.name,
            state.name(),
            run.seed,
            run.elapsed_ms()
        );
        run.state.store(state as u32, Release);
    }
}

impl Runner {
    /// Starts the runner kthread of `run`.
    pub(crate) fn start(run: Arc<RunShared>) -> Result<Kthread<Runner>> {
        Kthread::start(Arc::new(Runner { run }, GFP_KERNEL)?, -1, c"mmtorture_run")
    }
}

/// Runs scenario `S` to completion on the runner thread. This is what every
/// entry of the scenario table points to.
pub(crate) fn execute<S: Scenario>(run: &Arc<RunShared>) -> Result {
    let taints = checkers::TaintWatch::take();
    let res = execute_checked::<S>(run, &taints);
    // A report raised anywhere during the run (KASAN in a worker, a WARN at
    // teardown) fails it, whatever the scenario's own checks said.
    if let Some(v) = taints.check() {
        run.violation(v);
    }
    res
}

fn execute_checked<S: Scenario>(run: &Arc<RunShared>, taints: &checkers::TaintWatch) -> Result {
    let mm = ffi::mm_create()?;
    let scenario = {
        let attached = MmUse::new(&mm);
        Arc::new(S::setup(run, &attached)?, GFP_KERNEL)?
    };

    let mut workers = KVec::with_capacity(S::ROLES.len(), GFP_KERNEL)?;
    let mut start_err = Ok(());
    for role in 0..S::ROLES.len() {
        let w = Worker {
            run: run.clone(),
            scenario: scenario.clone(),
            mm: mm.clone(),
            role,
            aborted: Atomic::new(0),
            phase: Atomic::new(NEW),
            beat: Atomic::new(run.now_ms()),
        };
        let w = Arc::new(w, GFP_KERNEL)?;
        let cpu = nth_cpu(&run.params.cpus, role);
        let name = CString::try_from_fmt(fmt!("mmt_{}", S::ROLES[role]))?;
        match Kthread::start(w.clone(), cpu, &name) {
            Ok(t) => workers.push((t, w), GFP_KERNEL)?,
            Err(e) => {
                start_err = Err(e);
                break;
            }
        }
    }
    if start_err.is_ok() {
        run.go.store(true, Release);
        wait_for_end(run, &workers, taints);
    }
    // The run-wide stop (torture_must_stop): every worker sees it before
    // any is joined, so none spins waiting for a partner already gone.
    run.ending.store(true, Release);
    let (aborted, orphaned) = join_workers(run, workers);
    start_err?;
    if orphaned {
        // A stuck worker still uses the mm and may hold its locks: no final
        // checks, no teardown. The run has failed (worker-stuck); the mm
        // goes when the last worker lets go of it.
        return Ok(());
    }
    if let Some(e) = aborted {
        return Err(e);
    }
    let kept = {
        let attached = MmUse::new(&mm);
        scenario.finish(run, &attached)?
    };
    drop(mm);
    // Per-cpu LRU batches hold references of their own: flush them first.
    ffi::lru_add_drain_all();
    for folio in kept.iter() {
        run.count(Counter::Checks, 1);
        if let Some(v) = checkers::check_folio_released(folio) {
            run.violation(v);
        }
    }
    drop(kept);
    scenario.after_teardown(run)
}

/// Records that worker `role` made no progress for `idle_ms` and dumps its
/// stack (rcutorture's stall warning).
fn report_stuck<S: Scenario>(
    run: &RunShared,
    thread: &Kthread<Worker<S>>,
    role: usize,
    idle_ms: u64,
) {
    let name = S::ROLES[role];
    pr_err!(
        "{}: worker mmt_{} made no progress for {} ms (stall_s={}); its stack:\n",
        run.desc.name,
        name,
        idle_ms,
        run.params.stall_s
    );
    thread.show_stack();
    {
        let mut stuck = run.stuck.lock();
        if !stuck.contains(&name) {
            // On allocation failure the violation below still says it.
            let _ = stuck.push(name, GFP_KERNEL);
        }
    }
    run.violation(Violation {
        invariant: checkers::Invariant::WorkerStuck,
        addr: 0,
        pfn: 0,
        expected: run.params.stall_s * 1000,
        found: idle_ms,
        what: "ms without progress of a worker (see `stuck:` and its stack on the console)",
    });
}

/// Joins every worker. A worker that does not finish its loop within
/// `stall_s` of the stop is reported stuck (if the watchdog has not already)
/// and given up on: the runner does not block on a thread the kernel under
/// test has wedged. Returns the first worker error, and whether any worker
/// was given up on.
fn join_workers<S: Scenario>(
    run: &RunShared,
    mut workers: KVec<WorkerHandle<S>>,
) -> (Option<Error>, bool) {
    let stall_ms = run.params.stall_s * 1000;
    let t0 = run.now_ms();
    let (mut aborted, mut orphaned) = (None, false);
    while let Some((thread, w)) = workers.pop() {
        let role = S::ROLES[w.role];
        while w.phase.load(Acquire) == RUNNING {
            let reported = run.stuck.lock().contains(&role);
            // A worker already reported stuck gets a short grace only.
            let grace = if reported { 200 } else { stall_ms };
            if run.now_ms().saturating_sub(t0) < grace {
                fsleep(Delta::from_millis(10));
                continue;
            }
            // The module reference the worker will drop is taken before the
            // worker can see ORPHANED.
            if !ffi::module_pin() {
                pr_err!(
                    "{}: module unloading: waiting for stuck worker mmt_{}\n",
                    run.desc.name,
                    role
                );
                break;
            }
            run.orphans.add(1, Relaxed);
            if w.phase.cmpxchg(RUNNING, ORPHANED, Full).is_err() {
                // It finished meanwhile: join it after all.
                run.orphans.fetch_sub(1, Relaxed);
                ffi::module_unpin();
                break;
            }
            if !reported {
                let idle = run.now_ms().saturating_sub(w.beat.load(Relaxed));
                report_stuck(run, &thread, w.role, idle);
            }
            pr_err!(
                "{}: gave up on worker mmt_{}; mmtorture is pinned until it returns\n",
                run.desc.name,
                role
            );
            orphaned = true;
            break;
        }
        if w.phase.load(Acquire) == ORPHANED {
            thread.forget();
        } else {
            drop(thread);
        }
        let e = w.aborted.load(Acquire);
        if e != 0 {
            aborted = Some(Error::from_errno(e));
        }
    }
    (aborted, orphaned)
}

/// Waits until the duration is over, a stop was requested, a violation was
/// found, or the runner is being stopped; shuffles worker CPUs meanwhile and
/// watches every worker's progress.
fn wait_for_end<S: Scenario>(
    run: &RunShared,
    workers: &KVec<WorkerHandle<S>>,
    taints: &checkers::TaintWatch,
) {
    let duration_ms = run.params.duration * 1000;
    let shuffle_ms = run.params.shuffle_ms;
    let stall_ms = run.params.stall_s * 1000;
    let cpus = &run.params.cpus;
    let mut next_shuffle = shuffle_ms;
    let mut offset = 0usize;
    loop {
        let now = run.now_ms();
        if now >= duration_ms || run.should_stop() {
            break;
        }
        if let Some(v) = taints.check() {
            run.violation(v);
            break;
        }
        for (thread, w) in workers.iter() {
            let idle = now.saturating_sub(w.beat.load(Relaxed));
            if w.phase.load(Acquire) == RUNNING && idle >= stall_ms {
                report_stuck(run, thread, w.role, idle);
            }
        }
        if shuffle_ms > 0 && now >= next_shuffle && cpus.len() > 1 {
            offset += 1;
            for (i, (thread, _)) in workers.iter().enumerate() {
                // A CPU going offline only makes the shuffle skip it.
                let _ = thread.set_cpu(nth_cpu(cpus, i + offset));
            }
            run.count(Counter::Shuffles, 1);
            next_shuffle = now + shuffle_ms;
        }
        fsleep(Delta::from_millis(20));
    }
}
