// SPDX-License-Identifier: GPL-2.0

//! [`ScenarioDesc`]: one entry of the scenario table, with the coverage it
//! must prove ([`Need`]).

use super::{
    params::ParamSpec,
    run::{Counter, RunShared},
};
use kernel::{prelude::*, sync::Arc};

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

/// Coverage evidence a scenario declares (in the scenario table): a run that
/// ends without `counter >= min` did not prove its race ran and fails with
/// `no-coverage`, as rcutorture treats a writer that made no progress. The
/// need is waived when parameter `unless.0` equals `unless.1` (e.g. no park
/// entries are needed with `park=0`). `min` is stated for a run of
/// [`Need::FULL_S`] seconds or more; a shorter run needs proportionally
/// less, and never less than one (the race must have run at least once).
pub(crate) struct Need {
    pub(crate) counter: Counter,
    pub(crate) min: u64,
    pub(crate) unless: Option<(&'static str, u64)>,
}

impl Need {
    /// The run length (s) `min` is stated for.
    pub(crate) const FULL_S: u64 = 5;

    /// What a run of `duration_s` seconds needs: `min` scaled down for a
    /// shorter run (rounded up), at least 1.
    pub(crate) fn min_for(&self, duration_s: u64) -> u64 {
        let d = duration_s.min(Self::FULL_S);
        (self.min * d).div_ceil(Self::FULL_S).max(1)
    }
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
