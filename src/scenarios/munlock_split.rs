// SPDX-License-Identifier: GPL-2.0

//! `munlock_split`: the reproducer of a 7.3.4 kernel bug `mix` found
//! (docs/findings/2026-12-02-munlock-vs-thp-split-strands-mlocked.md):
//! munlock(2) racing a THP split leaves PG_mlocked on every page of the
//! range it unlocked.
//!
//! Every round the *munlocker* maps an anon vma of `small` pages followed by
//! a 2 MiB-aligned block (read-only neighbours keep it one vma), mlock(2)s
//! it (populated: `small` order-0 folios, then one PMD-mapped THP, all
//! PG_mlocked), drains the per-CPU batches, and hands the THP to the
//! *splitter*, which splits it (split_folio(): unmap_folio() →
//! try_to_migrate() → the PMD frozen into a table of migration entries →
//! __split_folio_to_order() → remap_page()), as the kernel's deferred
//! split, reclaim and MADV_PAGEOUT do, while the munlocker munlock(2)s the
//! whole vma.
//!
//! The window: munlock(2) clears VM_LOCKED on the vma, then walks it, the
//! `small` pages first; a freeze in between sees an unlocked vma (so it
//! does not munlock the THP), and the walk, reaching the frozen PMD, skips
//! its migration entries. With `park=1` the splitter is parked at the
//! start of the split's clear range (nothing frozen yet); the munlocker
//! lets it through, to go on after a random `0..=lead_us` µs, and enters
//! munlock(2); the split then freezes the PMD and parks again at the end of
//! that range, the ptes frozen, until munlock(2) has returned. With
//! `park=0` the two race freely.
//!
//! `via=1` races munlock(2) with a failing migration of the THP instead of
//! a split, the kernel bug of
//! docs/findings/2026-12-02-thp-head-mlocked-after-munlock.md: the
//! splitter keeps its reference on the THP and migrates it again and
//! again until munlock(2) has returned. Each migrate_pages() unmaps the
//! THP (a PMD migration entry; munlock_vma_folio() only while the vma is
//! VM_LOCKED), fails on the extra reference (-EAGAIN) and restores it
//! (remove_migration_pmd(); mlock_vma_folio() only while VM_LOCKED), up
//! to ten times a call. A cycle that unmaps after munlock(2) cleared
//! VM_LOCKED and restores after its walk passed the PMD leaves the THP
//! PG_mlocked. `park` is the split's (`via=0` only).
//!
//! Invariant, after the split, the munlock and the drains: no page of the
//! vma, which is no longer VM_LOCKED, is PG_mlocked
//! (`munlocked-when-unmapped`). On 7.3.4 it fails: munlock_vma_folio() in
//! the freeze munlocks only in a VM_LOCKED vma, mlock_pte_range() skips
//! non-present ptes, and __split_folio_to_order() copies PG_mlocked to all
//! 512 pages. NR_MLOCK and NR_UNEVICTABLE return to their baselines once
//! the ranges are unmapped (freeing clears PG_mlocked).

use crate::checkers::{self, Baseline, Invariant, Violation, HPAGE_SIZE, PAGE_SIZE};
use crate::compat::EOPNOTSUPP; // not in 7.2's kernel crate (src/compat.rs)
use crate::engine::{Counter, RunShared, Scenario, WorkerCtx};
use crate::ffi::{self, FolioRef, IsolatedList, MmUse, ParkPoint, PteState, Stat};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Mutex,
    },
    time::{Delta, Instant, Monotonic},
};

crate::scenario_params! {
    /// Parameters of `munlock_split`.
    pub(crate) struct MunlockSplitParams {
        park: 1, 0..=1, "park the split before its freeze, let it go as munlock(2) starts, hold it frozen until munlock(2) returns (via=0 only)";
        lead_us: 2000, 0..=1_000_000, "most the let-through split waits before it freezes";
        small: 448, 0..=511, "order-0 pages the munlock(2) walk covers before the THP";
        hold_ms: 5000, 1..=60_000, "the longest the splitter stays parked";
        via: 0, 0..=1, "0: split the THP; 1: migrate it with a reference held, again and again, until munlock(2) returns (each try unmaps and restores it)";
    }
}

const MADV_HUGEPAGE: i32 = 14;

/// How long one worker waits for the other (to park, finish or hand over a
/// round) before it gives up or looks again (ms).
const WAIT_MS: i64 = 10_000;
/// Poll interval of the waits (µs).
const POLL_US: i64 = 100;

const MUNLOCKER: usize = 0;

pub(crate) struct MunlockSplit {
    params: MunlockSplitParams,
    /// The park point (`park=1`).
    park: Option<ParkPoint>,
    /// A round's THP, handed from the munlocker to the splitter. Lock
    /// order: a leaf, held only to move the folio in or out.
    handoff: Pin<KBox<Mutex<Option<FolioRef>>>>,
    /// Rounds handed to the splitter.
    published: Atomic<u64>,
    /// Rounds the splitter finished.
    done: Atomic<u64>,
    /// The splitter's last split_folio() result (0 or -errno).
    split_ret: Atomic<i32>,
    /// `via=1`: the last round whose munlock(2) began, the last round
    /// whose munlock(2) returned, migrate_pages() calls made (all rounds),
    /// and those of the current round that overlapped its munlock(2).
    munlocking: Atomic<u64>,
    unlocked: Atomic<u64>,
    migrations: Atomic<u64>,
    during: Atomic<u64>,
    mlock: Baseline,
    unevictable: Baseline,
}

/// A round's mapping: read-only guard vmas around one mlocked anon vma of
/// order-0 pages followed by a 2 MiB-aligned block.
struct LockedVma {
    /// The whole mapping (guards included) and its length.
    raw: usize,
    len: usize,
    /// The mlocked vma and its length.
    start: usize,
    vlen: usize,
    /// The 2 MiB-aligned block at the vma's end.
    base: usize,
}

impl LockedVma {
    /// Maps `small` pages followed by a 2 MiB-aligned block as one anon vma
    /// and mlock(2)s it.
    fn new(mm: &MmUse<'_>, small: usize) -> Result<Self> {
        let len = 4 * HPAGE_SIZE;
        let raw = mm.mmap_anon(0, len)?;
        // The block, so that the vma [start, base + HPAGE_SIZE) lies
        // strictly inside: both neighbours are non-empty read-only vmas, so
        // neither mlock(2) nor munlock(2) splits or merges the vma (a merge
        // would take the anon_vma lock the parked split holds). The small
        // pages share no aligned 2 MiB block with the vma: order 0.
        let base = (raw + small * PAGE_SIZE + HPAGE_SIZE) & !(HPAGE_SIZE - 1);
        let start = base - small * PAGE_SIZE;
        let vlen = small * PAGE_SIZE + HPAGE_SIZE;
        let v = Self {
            raw,
            len,
            start,
            vlen,
            base,
        };
        let setup = || -> Result {
            mm.mprotect(raw, start - raw, false)?;
            mm.mprotect(start + vlen, raw + len - start - vlen, false)?;
            // THP "madvise" mode needs it; "always" ignores it.
            let _ = mm.madvise(start, vlen, MADV_HUGEPAGE);
            mm.mlock(start, vlen, true)
        };
        if let Err(e) = setup() {
            v.unmap(mm)?;
            return Err(e);
        }
        Ok(v)
    }

    fn unmap(self, mm: &MmUse<'_>) -> Result {
        mm.munmap(self.raw, self.len)
    }
}

impl MunlockSplit {
    /// The PMD-mapped THP at `base`, if that is what mlock(2) populated.
    fn thp_at(mm: &MmUse<'_>, base: usize) -> Option<FolioRef> {
        let guard = mm.mm().mmap_read_lock();
        let l = ffi::pte_lookup(mm.mm(), &guard, base, true);
        match l.state {
            PteState::Present { huge: true, .. } => l.folio,
            _ => None,
        }
    }

    /// Waits (napping) until `cond` or `WAIT_MS`; false on timeout or stop.
    fn wait_for(w: &WorkerCtx<'_>, mut cond: impl FnMut() -> bool) -> bool {
        let t0 = Instant::<Monotonic>::now();
        while !cond() {
            if w.should_stop() || t0.elapsed().as_millis() >= WAIT_MS {
                return false;
            }
            w.nap(Delta::from_micros(POLL_US));
        }
        true
    }

    fn munlocker(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let run = w.run;
        let v = LockedVma::new(mm, self.params.small as usize)?;
        let Some(thp) = Self::thp_at(mm, v.base) else {
            // No THP this time (no free 2 MiB block): no round.
            return v.unmap(mm);
        };
        // A kernel guarantee: mlock(2) sets PG_mlocked on what it populates
        // at once (mlock_folio(); the batch only moves it to the LRU).
        let info = thp.info();
        if !info.mlocked {
            run.violation(Violation {
                invariant: Invariant::MlockedInLockedVma,
                addr: v.base,
                pfn: info.pfn,
                expected: 1,
                found: 0,
                what: "PG_mlocked of the THP mlock(2) just populated",
            });
            drop(thp);
            return v.unmap(mm);
        }
        // No per-CPU batch may hold a reference: the split's refcount
        // check would fail (EAGAIN) and nothing would race.
        ffi::lru_add_drain_all();
        let park = self.park.as_ref();
        let entered = park.map_or(0, |p| p.entered());
        if let Some(p) = park {
            p.close(true);
        }
        *self.handoff.lock() = Some(thp);
        let round = self.published.load(Relaxed) + 1;
        self.published.store(round, Release);
        // Parked at the start of the split's clear range, nothing frozen
        // yet. (A split that fails before its unmap never parks: done.)
        let parked = park.is_some_and(|p| {
            Self::wait_for(w, || {
                p.entered() != entered || self.done.load(Acquire) >= round
            }) && p.entered() != entered
        });
        if let Some(p) = park.filter(|_| parked) {
            p.let_through(w.rng.below(self.params.lead_us + 1));
        }
        let via_migration = self.params.via == 1;
        if via_migration {
            // The splitter's migrations are under way (or it is done: a
            // THP it could not isolate).
            let before = self.migrations.load(Acquire);
            Self::wait_for(w, || {
                self.migrations.load(Acquire) > before || self.done.load(Acquire) >= round
            });
            self.during.store(0, Relaxed);
            self.munlocking.store(round, Release);
        }
        let unlocked = mm.mlock(v.start, v.vlen, false);
        if via_migration {
            self.unlocked.store(round, Release);
        }
        // The split froze the PMD (parked again at its range's end) before
        // munlock(2) returned.
        let overlapped = parked && park.is_some_and(|p| p.entered() >= entered + 2);
        if let Some(p) = park {
            p.close(false);
        }
        let finished = Self::wait_for(w, || self.done.load(Acquire) >= round);
        unlocked?;
        if !finished {
            // Stopping (or a splitter stuck in the kernel, which the
            // watchdog reports): nothing settled to check.
            return v.unmap(mm);
        }
        let split = self.split_ret.load(Acquire) == 0;
        if parked {
            run.count(Counter::ParkEntries, 1);
        }
        if overlapped {
            run.count(Counter::Overlaps, 1);
        }
        if via_migration {
            // A round raced when a migrate_pages() call overlapped the
            // munlock(2).
            let during = self.during.load(Acquire);
            if during > 0 {
                run.count(Counter::Overlaps, 1);
                run.count(Counter::Rounds, 1);
            }
        } else if split && (overlapped || park.is_none()) {
            run.count(Counter::Rounds, 1);
        }
        // Every batch drained: what is PG_mlocked now stays so.
        ffi::lru_add_drain_all();
        let (mut n, mut first) = (0u64, None);
        {
            let guard = mm.mm().mmap_read_lock();
            checkers::scan_ptes(
                mm.mm(),
                &guard,
                v.start,
                v.vlen / PAGE_SIZE,
                |_, addr, l| {
                    if let Some(f) = &l.folio {
                        run.count(Counter::Checks, 1);
                        let info = f.info();
                        if info.mlocked {
                            n += 1;
                            first.get_or_insert((addr, info.pfn));
                        }
                    }
                },
            );
        }
        if let Some((addr, pfn)) = first {
            run.violation(Violation {
                invariant: Invariant::MunlockedWhenUnmapped,
                addr,
                pfn,
                expected: 0,
                found: n,
                what: match via_migration {
                    false => "pages still PG_mlocked in a vma munlock(2) unlocked while a split of its THP ran (found: how many)",
                    true => "pages still PG_mlocked in a vma munlock(2) unlocked while a failing migration of its THP ran (found: how many)",
                },
            });
        }
        v.unmap(mm)
    }

    fn splitter(&self, w: &mut WorkerCtx<'_>) -> Result {
        // The next round the munlocker hands over (one split a round).
        let done = self.done.load(Relaxed);
        if !Self::wait_for(w, || self.published.load(Acquire) > done) {
            // Stopping, or nothing handed over yet: the next step waits on.
            return Ok(());
        }
        let round = self.published.load(Acquire);
        let Some(thp) = self.handoff.lock().take() else {
            self.done.store(round, Release);
            return Ok(());
        };
        let ret = match self.params.via {
            0 => self.split(&thp),
            _ => self.fail_migrations(w, &thp, round),
        };
        drop(thp);
        self.split_ret.store(ret, Release);
        self.done.store(round, Release);
        Ok(())
    }

    /// `via=0`: split_folio() of `thp`, parked at its clear range
    /// (`park=1`); 0 or -errno.
    fn split(&self, thp: &FolioRef) -> i32 {
        if let Some(p) = &self.park {
            p.arm_clear(true, true);
        }
        let ret = match thp.lock().split() {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        };
        if let Some(p) = &self.park {
            p.arm(false);
        }
        ret
    }

    /// `via=1`: isolates and migrates `thp` (sync, to a random node) until
    /// round `round`'s munlock(2) has returned. `thp` is a reference, so
    /// every try must fail and put the THP back where it was: one that
    /// succeeds migrated a referenced folio (seed 001's invariant).
    fn fail_migrations(&self, w: &mut WorkerCtx<'_>, thp: &FolioRef, round: u64) -> i32 {
        let t0 = Instant::<Monotonic>::now();
        while self.unlocked.load(Acquire) < round {
            if w.should_stop() || t0.elapsed().as_millis() >= WAIT_MS {
                return ETIMEDOUT.to_errno();
            }
            // Overlaps the munlock(2) if that has not returned before the
            // call begins and has begun when it ends.
            let before_end = self.unlocked.load(Acquire) < round;
            let mut list = match IsolatedList::new() {
                Ok(l) => l,
                Err(e) => return e.to_errno(),
            };
            if !list.isolate(thp) {
                // Someone else has it off the LRU for now.
                w.nap(Delta::from_micros(POLL_US));
                continue;
            }
            let moved = list.migrate_to(w.rng.below(2) as i32, true).1;
            self.migrations.fetch_add(1, Release);
            if before_end && self.munlocking.load(Acquire) == round {
                self.during.fetch_add(1, Release);
            }
            if moved != 0 {
                let info = thp.info();
                w.run.violation(Violation {
                    invariant: Invariant::ReferencedFolioStays,
                    addr: 0,
                    pfn: info.pfn,
                    expected: 0,
                    found: u64::from(moved),
                    what: "a THP migrated while the scenario held a reference on it",
                });
                return 0;
            }
        }
        0
    }
}

impl Scenario for MunlockSplit {
    const ROLES: &'static [&'static str] = &["munlocker", "splitter"];
    type Params = MunlockSplitParams;

    fn setup(run: &RunShared, mm: &MmUse<'_>) -> Result<Self> {
        let params: MunlockSplitParams = run.params.own()?;
        let [mlock, unevictable] = Baseline::take_all([Stat::Mlock, Stat::Unevictable]);
        // The reproducer needs PMD-mapped THPs.
        let v = LockedVma::new(mm, params.small as usize)?;
        let huge = Self::thp_at(mm, v.base).is_some();
        v.unmap(mm)?;
        if !huge {
            return Err(run.skip(
                "PMD-mapped THPs unavailable (transparent_hugepage enabled=never, or no free 2M blocks)",
            ));
        }
        Ok(Self {
            // The park point is the split's (via=0).
            park: match (params.park, params.via) {
                (0, _) | (_, 1) => None,
                _ => Some(ParkPoint::new(mm.mm(), params.hold_ms as u32).map_err(|e| {
                    match e == EOPNOTSUPP {
                        true => run.skip(
                            "needs CONFIG_MMU_NOTIFIER (the park point; park=0 runs without)",
                        ),
                        false => e,
                    }
                })?),
            },
            params,
            handoff: KBox::pin_init(new_mutex!(None), GFP_KERNEL)?,
            published: Atomic::new(0),
            done: Atomic::new(0),
            split_ret: Atomic::new(0),
            munlocking: Atomic::new(0),
            unlocked: Atomic::new(0),
            migrations: Atomic::new(0),
            during: Atomic::new(0),
            mlock,
            unevictable,
        })
    }

    fn step(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        match w.role {
            MUNLOCKER => self.munlocker(w, mm),
            _ => self.splitter(w),
        }
    }

    fn finish(&self, _run: &RunShared, _mm: &MmUse<'_>) -> Result<KVec<FolioRef>> {
        // A folio the splitter never took goes now (each round unmaps its
        // own range).
        *self.handoff.lock() = None;
        Ok(KVec::new())
    }

    fn after_teardown(&self, run: &RunShared) -> Result {
        checkers::check_baselines(run, &[(&self.mlock, 0), (&self.unevictable, 0)], 2000);
        Ok(())
    }
}
