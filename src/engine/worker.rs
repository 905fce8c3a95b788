// SPDX-License-Identifier: GPL-2.0

//! Worker kthreads: [`Worker`] runs one role's steps, [`WorkerCtx`] is what a
//! step sees; the runner's watchdog ([`wait_for_end`]) and join
//! ([`join_workers`]), which give up on a stuck worker.

use super::{
    rng::{wrap, Rng},
    run::{Counter, RunShared},
    scenario::Scenario,
};
use crate::checkers::{self, Violation};
use crate::ffi::{self, Kthread, MmUse, ThreadMain};
use kernel::{
    mm::MmWithUser,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Acquire, Atomic, Full, Relaxed, Release},
        Arc,
    },
    time::{delay::fsleep, Delta},
};

/// The `i`-th CPU of the list, cycling.
pub(super) fn nth_cpu(cpus: &[u32], i: usize) -> i32 {
    cpus.get(wrap(i as u64, cpus.len() as u64) as usize)
        .map_or(-1, |&c| c as i32)
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
    /// The end (run ms) of the nap this worker is in, 0 outside naps.
    nap_end: &'a Atomic<u64>,
    /// [`Worker::cpu_hold`].
    cpu_hold: &'a Atomic<u32>,
}

impl WorkerCtx<'_> {
    /// Records progress: the worker is back in module code (not stuck in
    /// the kernel under test). Every wait loop of a worker calls it.
    pub(crate) fn alive(&self) {
        self.beat.store(self.run.now_ms(), Relaxed);
    }

    /// Sleeps `d` (an hrtimer sleep, like `fsleep()`): every poll of a
    /// worker waiting for another sleeps here. The watchdog sees the nap's
    /// end; a nap still asleep [`OVERSLEPT_MS`] after it lost its timer
    /// interrupt (seen under TCG: docs/findings/
    /// 2026-12-01-mix-workers-never-woke.md), and the watchdog wakes it.
    pub(crate) fn nap(&self, d: Delta) {
        nap_announced(self.run, self.nap_end, d, || {
            ffi::nap(d.as_micros_ceil() as u64)
        });
    }

    /// A nap whose timer interrupt is lost: announced for `d`, asleep until
    /// the watchdog wakes it (or 10 s). The busted op that proves the
    /// watchdog's remedy (`busted bug=8`).
    pub(crate) fn nap_lost_timer(&self, d: Delta) {
        nap_announced(self.run, self.nap_end, d, || {
            ffi::sleep_until_woken(10_000_000)
        });
    }

    /// Runs `f` with the CPU shuffle held off this worker: the worker stays
    /// on its CPU for the whole of `f` (it is pinned to one CPU, and the
    /// shuffle skips a worker that holds this). For kernel calls that must
    /// not be migrated mid-call because the kernel under test mishandles
    /// it: mlock(2)'s walk leaves its per-CPU mlock batch behind
    /// (docs/findings/2026-12-02-mlock-count-overcount-stale-batch.md).
    pub(crate) fn on_this_cpu<R>(&self, f: impl FnOnce() -> R) -> R {
        while self.cpu_hold.cmpxchg(CPU_FREE, CPU_STAY, Full).is_err() {
            // The shuffle is moving this worker: it lets go right after.
            ffi::cond_resched();
        }
        let r = f();
        self.cpu_hold.store(CPU_FREE, Release);
        r
    }

    /// [`RunShared::should_stop`] for a worker, recording progress.
    pub(crate) fn should_stop(&self) -> bool {
        self.alive();
        self.run.should_stop()
    }

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

    /// [`WorkerCtx::wait_published`] for a wait that can be long (the
    /// driving role sets a round up meanwhile): sleeps `sleep_us` between
    /// looks instead of spinning, so that under TCG the waiting vCPU does
    /// not take host time from the one doing the work. False if the run is
    /// stopping.
    pub(crate) fn wait_published_sleeping(&self, published: &Atomic<u64>, sleep_us: i64) -> bool {
        while published.load(Acquire) <= self.iteration {
            if self.should_stop() {
                return false;
            }
            self.nap(Delta::from_micros(sleep_us));
        }
        true
    }
}

/// How long past its end a nap may sleep before the watchdog wakes it. A
/// 200 µs nap that is still asleep a second later did not get its timer
/// interrupt: no host overload delays a TCG vCPU that long.
pub(super) const OVERSLEPT_MS: u64 = 1000;

/// `d` in ms, rounded up (7.2's `Delta` has no `as_millis_ceil`).
fn ms_ceil(d: Delta) -> u64 {
    (d.as_micros_ceil() as u64).div_ceil(1000)
}

/// `sleep`, announced as a nap of `d`: its end published in `nap_end` for
/// the watchdog while it sleeps.
fn nap_announced(run: &RunShared, nap_end: &Atomic<u64>, d: Delta, sleep: impl FnOnce()) {
    nap_end.store(run.now_ms() + ms_ceil(d), Release);
    sleep();
    nap_end.store(0, Release);
}

/// [`Worker::cpu_hold`]: free, held by the worker (stay on this CPU), or
/// held by the shuffle (moving the worker).
pub(super) const CPU_FREE: u32 = 0;
const CPU_STAY: u32 = 1;
const CPU_MOVING: u32 = 2;

/// A started worker: its thread (joined on drop) and its shared state.
type WorkerHandle<S> = (Kthread<Worker<S>>, Arc<Worker<S>>);

/// Phases of a worker thread (`Worker::phase`). The worker moves NEW →
/// RUNNING → DONE; the runner may move RUNNING → ORPHANED when it gives up
/// on a stuck worker. Whoever's cmpxchg wins decides: a DONE worker is
/// joined, an ORPHANED one exits on its own when (if) it returns.
pub(super) const NEW: u32 = 0;
const RUNNING: u32 = 1;
const DONE: u32 = 2;
const ORPHANED: u32 = 3;

/// A worker thread: runs `S::step` for its role until the run stops.
pub(super) struct Worker<S: Scenario> {
    pub(super) run: Arc<RunShared>,
    pub(super) scenario: Arc<S>,
    pub(super) mm: ARef<MmWithUser>,
    pub(super) role: usize,
    pub(super) aborted: Atomic<i32>,
    pub(super) phase: Atomic<u32>,
    /// Run time (ms) of the worker's last progress.
    pub(super) beat: Atomic<u64>,
    /// End (run ms) of the worker's current nap, 0 outside naps.
    pub(super) nap_end: Atomic<u64>,
    /// A try-lock between the worker ([`WorkerCtx::on_this_cpu`]) and the
    /// CPU shuffle: [`CPU_FREE`], `CPU_STAY` or `CPU_MOVING`.
    pub(super) cpu_hold: Atomic<u32>,
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
            nap_announced(run, &self.nap_end, Delta::from_millis(1), || ffi::nap(1000));
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
            nap_end: &self.nap_end,
            cpu_hold: &self.cpu_hold,
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
pub(super) fn join_workers<S: Scenario>(
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
pub(super) fn wait_for_end<S: Scenario>(
    run: &RunShared,
    workers: &KVec<WorkerHandle<S>>,
    taints: &checkers::TaintWatch,
) {
    // `duration` counts from the workers' start, not from the run's: a
    // setup that populates 64 THPs under TCG must not eat the race.
    let t0 = run.now_ms();
    let duration_ms = run.params.duration * 1000;
    let shuffle_ms = run.params.shuffle_ms;
    let stall_ms = run.params.stall_s * 1000;
    let cpus = &run.params.cpus;
    let mut next_shuffle = t0 + shuffle_ms;
    let mut offset = 0usize;
    let mut kicked = false;
    loop {
        let now = run.now_ms();
        if now - t0 >= duration_ms || run.should_stop() {
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
            let nap_end = w.nap_end.load(Acquire);
            // The cmpxchg both limits the kicks to one per OVERSLEPT_MS
            // and skips a worker that just left its nap.
            if nap_end != 0
                && now >= nap_end + OVERSLEPT_MS
                && w.nap_end.cmpxchg(nap_end, now, Relaxed).is_ok()
            {
                // Its nap's hrtimer did not fire: a wake-up ends the nap
                // (the time is up) and its hrtimer_cancel() reprograms
                // the CPU's clockevent. Not an mm result: counted, and
                // the first one of a run is said on the console.
                if !kicked {
                    pr_warn!(
                        "{}: worker mmt_{} still asleep {} ms after its nap ended: woken (a lost timer interrupt, not an mm result; nap_kicks in status)\n",
                        run.desc.name,
                        S::ROLES[w.role],
                        now - nap_end
                    );
                    kicked = true;
                }
                thread.wake();
                run.count(Counter::NapKicks, 1);
            }
        }
        if shuffle_ms > 0 && now >= next_shuffle && cpus.len() > 1 {
            offset += 1;
            for (i, (thread, w)) in workers.iter().enumerate() {
                // A worker inside `on_this_cpu` stays where it is.
                if w.cpu_hold.cmpxchg(CPU_FREE, CPU_MOVING, Full).is_err() {
                    continue;
                }
                // A CPU going offline only makes the shuffle skip it.
                let _ = thread.set_cpu(nth_cpu(cpus, i + offset));
                w.cpu_hold.store(CPU_FREE, Release);
            }
            run.count(Counter::Shuffles, 1);
            next_shuffle = now + shuffle_ms;
        }
        fsleep(Delta::from_millis(20));
    }
}
