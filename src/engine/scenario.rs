// SPDX-License-Identifier: GPL-2.0

//! [`Scenario`]: what a scenario implements.

use super::{params::ScenarioParams, run::RunShared, worker::WorkerCtx};
use crate::ffi::{FolioRef, MmUse};
use kernel::prelude::*;

/// What a scenario is: the per-run state built by `setup`, shared by workers.
pub(crate) trait Scenario: Send + Sync + Sized + 'static {
    /// Worker roles; one worker kthread runs each role (the first
    /// [`Scenario::workers`] of them).
    const ROLES: &'static [&'static str];

    /// The scenario's own parameters (`run.params.own::<Self::Params>()`).
    type Params: ScenarioParams;

    /// Builds the scenario's state in the test mm (attached to the runner).
    fn setup(run: &RunShared, mm: &MmUse<'_>) -> Result<Self>;

    /// How many workers this run starts: roles `0..workers()` (a scenario
    /// with a `workers=` parameter lists its most roles in `ROLES`).
    fn workers(&self) -> usize {
        Self::ROLES.len()
    }

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
