// SPDX-License-Identifier: GPL-2.0

//! [`Checkpoint`]: torture_stutter-style pauses. Every worker but the
//! checker parks at its next step boundary; the checker then sees a
//! quiescent test mm.

use super::worker::WorkerCtx;
use kernel::{
    sync::atomic::{Acquire, Atomic, Relaxed, Release},
    time::{Delta, Instant, Monotonic},
};

/// A checkpoint barrier between one checker and `others` workers.
///
/// The checker calls [`Checkpoint::hold`], which returns once every other
/// worker sits in [`Checkpoint::pause_point`] (which they call between
/// steps, holding nothing: no isolated folio, no reference, no lock);
/// dropping the returned [`Held`] lets them go. Both sides sleep while they
/// wait (a check may take tens of ms under TCG), stamping progress for the
/// watchdog.
pub(crate) struct Checkpoint {
    others: u32,
    /// A checkpoint is requested or in progress.
    want: Atomic<bool>,
    /// Workers parked in `pause_point`.
    parked: Atomic<u32>,
    /// Checkpoints held.
    count: Atomic<u64>,
}

/// A held checkpoint: the other workers are parked until it is dropped.
pub(crate) struct Held<'a>(&'a Checkpoint);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.want.store(false, Release);
    }
}

const POLL: Delta = Delta::from_micros(200);

impl Checkpoint {
    /// A barrier for one checker and `others` workers.
    pub(crate) fn new(others: u32) -> Self {
        Self {
            others,
            want: Atomic::new(false),
            parked: Atomic::new(0),
            count: Atomic::new(0),
        }
    }

    /// A non-checker worker, between steps: parks while a checkpoint is
    /// requested or held. False if it left because the run is stopping:
    /// the checker may still be checking then (its `hold` returned before
    /// the stop), so the caller must not start another step.
    #[must_use]
    pub(crate) fn pause_point(&self, w: &WorkerCtx<'_>) -> bool {
        if !self.want.load(Acquire) {
            return !w.should_stop();
        }
        self.parked.fetch_add(1, Release);
        while self.want.load(Acquire) && !w.should_stop() {
            w.nap(POLL);
        }
        self.parked.fetch_sub(1, Release);
        !w.should_stop()
    }

    /// The checker: requests a checkpoint and waits until every other
    /// worker is parked. None if the run is stopping (or a worker did not
    /// park within `timeout_ms`: a stuck worker is the watchdog's to
    /// report, not the checkpoint's).
    pub(crate) fn hold(&self, w: &WorkerCtx<'_>, timeout_ms: u64) -> Option<Held<'_>> {
        self.want.store(true, Release);
        let held = Held(self);
        let t0 = Instant::<Monotonic>::now();
        while self.parked.load(Acquire) < self.others {
            if w.should_stop() || t0.elapsed().as_millis() as u64 >= timeout_ms {
                return None;
            }
            w.nap(POLL);
        }
        self.count.add(1, Relaxed);
        Some(held)
    }

    /// Checkpoints held so far.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }
}
