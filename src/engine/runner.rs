// SPDX-License-Identifier: GPL-2.0

//! [`Runner`]: the runner kthread of one run, and [`execute`], what it runs
//! for a scenario.

use super::{
    run::{Counter, RunShared, RunState},
    scenario::Scenario,
    worker::{join_workers, nth_cpu, wait_for_end, Worker, CPU_FREE, NEW},
};
use crate::checkers;
use crate::ffi::{self, Kthread, MmUse, ThreadMain};
use kernel::{
    prelude::*,
    str::CString,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc,
    },
};

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

    let nr = scenario.workers().clamp(1, S::ROLES.len());
    let mut workers = KVec::with_capacity(nr, GFP_KERNEL)?;
    let mut start_err = Ok(());
    for role in 0..nr {
        let w = Worker {
            run: run.clone(),
            scenario: scenario.clone(),
            mm: mm.clone(),
            role,
            aborted: Atomic::new(0),
            phase: Atomic::new(NEW),
            beat: Atomic::new(run.now_ms()),
            nap_end: Atomic::new(0),
            cpu_hold: Atomic::new(CPU_FREE),
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
        run.released_ms.store(run.now_ms(), Relaxed);
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
