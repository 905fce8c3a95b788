// SPDX-License-Identifier: GPL-2.0

//! [`Aligner`]: LTP fuzzy-sync style alignment of two racing workers.

use super::{
    run::{Counter, RunShared},
    worker::WorkerCtx,
};
use crate::ffi;
use kernel::{
    sync::atomic::{Acquire, Atomic, Full, Relaxed, Release},
    time::{Instant, Monotonic},
};

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
