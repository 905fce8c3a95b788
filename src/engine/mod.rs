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
//!
//! One object per file: [`params`] (what a `run` line may say), [`warn`]
//! (rate limit of rejected input), [`desc`] (a scenario table entry and its
//! coverage needs), [`scenario`] (the [`Scenario`] trait), [`run`]
//! ([`RunShared`], counters, the verdict), [`runner`] ([`Runner`],
//! [`execute`]), [`worker`] (worker kthreads, watchdog, join), [`aligner`]
//! ([`Aligner`]), [`stutter`] ([`Checkpoint`]), [`rng`] ([`wrap`], the
//! seeded RNG). The two
//! `#[macro_export]` macros, `input_warn!` (in `warn`) and
//! `scenario_params!` (in `params`), live at the crate root:
//! `crate::input_warn!`, `crate::scenario_params!`.
//!
//! # Lock order
//!
//! `Torture::inner` (debugfs/rmmod only: never taken by the runner or
//! workers, so joining under it cannot deadlock) → the kernel's mmap_lock →
//! folio lock → anon_vma/i_mmap lock (inside rmap_walk) → PTL (inside
//! `ffi::pte_lookup`). [`RunShared`]'s mutexes (violations, result, skip,
//! stuck, extra, attached) are leaf locks, never held across a call that
//! takes another. A scenario's own locks (mix's model) come before the
//! kernel's.
//! `copy_{to,from}_user()` is never called with the mmap_lock held (it
//! faults and takes it).

#![deny(unsafe_code)]

mod aligner;
mod desc;
mod params;
mod rng;
mod run;
mod runner;
mod scenario;
mod stutter;
mod warn;
mod worker;

pub(crate) use aligner::Aligner;
pub(crate) use desc::{need, need_unless, Need, ScenarioDesc};
pub(crate) use params::{all_params, check_table, NoParams, ParamSpec, Params, ScenarioParams};
pub(crate) use rng::wrap;
pub(crate) use run::{Counter, RunShared, RunState, Text};
pub(crate) use runner::{execute, Runner};
pub(crate) use scenario::Scenario;
pub(crate) use stutter::Checkpoint;
pub(crate) use warn::WARN_LIMIT;
pub(crate) use worker::WorkerCtx;
