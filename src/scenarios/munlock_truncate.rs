// SPDX-License-Identifier: GPL-2.0

//! `munlock_truncate` (seed 002): private COW pages of a VM_LOCKED file
//! mapping must be munlocked when truncation unmaps them.
//!
//! Every round: a fresh shmem file (as memfd_create() makes) is mapped
//! MAP_PRIVATE|MAP_LOCKED (VM_LOCKED, populated), and every page is written,
//! so each is a private anonymous COW folio, mlocked by the VM_LOCKED vma.
//! Then the *truncator* truncates the file to 0 (`vfs_truncate()`, the
//! truncate(2) path: unmap_mapping_range(even_cows) + truncate_inode_pages),
//! racing, round by round through an [`Aligner`], with the *isolator*, which
//! takes random COW folios of the round off their LRU list
//! (`folio_isolate_lru()`), holds them, and puts them back, as reclaim and
//! compaction do (the PG_lru / PG_mlocked ordering the seed discusses).
//! Meanwhile a *toucher* runs free over the current round's range: it
//! re-faults random pages (reads) and, in every fourth round (an "mlock
//! round"), also munlock(2)s and mlock(2)s part of it through the syscalls;
//! the range vanishing under it (EFAULT, ENOMEM, SIGBUS past EOF) is
//! expected and ignored.
//!
//! The per-folio PG_mlocked check is not made in mlock rounds: munlock(2)
//! clears VM_LOCKED before it walks the ptes (mlock_fixup), and a truncation
//! zap in between neither munlocks (the vma is no longer VM_LOCKED) nor
//! leaves a pte for the walk, so the folio stays PG_mlocked while unmapped
//! until it is freed, where __free_pages_prepare() clears it (seen on the
//! clean kernel: 1 such round in 123). The kernel tolerates that window (the
//! seed thread concedes it for explicit mlock); NR_MLOCK and NR_UNEVICTABLE
//! back at baseline, checked every round, are the invariant that holds.
//!
//! The first round maps 8 pages instead of `pages` (populating is most of a
//! round), and each round looks at its folios before draining the per-cpu
//! batches: a folio still PG_mlocked with no reference but the truncator's
//! has no munlock pending in any batch (a batch holds a reference on each
//! of its folios) and is reported at once; only the others wait for
//! lru_add_drain_all().
//!
//! Invariants, checked on folios whose references the truncator kept:
//! truncation unmaps every COW page (mapcount 0, no pte left); no folio stays
//! PG_mlocked once no VM_LOCKED mapping maps it; NR_MLOCK and
//! NR_UNEVICTABLE come back to their baselines after every round.
//!
//! Re-injected bug: `qemu/zoo/002-cow-munlock-on-unmap.patch`.

use crate::checkers::{self, Baseline, Invariant, Violation, PAGE_SIZE};
use crate::engine::{Aligner, Counter, RunShared, Scenario, WorkerCtx};
use crate::ffi::{self, FolioRef, MmUse, ShmemFile, Stat};
use kernel::{
    prelude::*,
    sync::atomic::{Acquire, Atomic, Release},
    time::{delay::fsleep, Delta},
};

crate::scenario_params! {
    /// Parameters of `munlock_truncate`.
    pub(crate) struct MunlockParams {
        isolate: 8, 0..=4096, "folios isolated per round";
        hold_us: 500, 0..=1_000_000, "max isolation hold";
    }
}

/// Pages of the first round (later rounds map `pages`).
const FIRST_ROUND_PAGES: usize = 8;

/// How long the isolator and the toucher sleep between looks while the
/// truncator sets up or checks a round (µs).
const IDLE_US: i64 = 200;

const TRUNCATOR: usize = 0;
const ISOLATOR: usize = 1;

pub(crate) struct MunlockTruncate {
    pages: usize,
    params: MunlockParams,
    seed: u64,
    /// The current round's mapping (0 between rounds).
    cur_base: Atomic<usize>,
    /// The current round's number of pages (published with `cur_base`).
    cur_pages: Atomic<usize>,
    /// Rounds whose mapping has been published in `cur_base`.
    published: Atomic<u64>,
    /// The current round lets the toucher munlock(2)/mlock(2).
    mlock_round: Atomic<bool>,
    align: Aligner,
    mlock: Baseline,
    unevictable: Baseline,
}

impl MunlockTruncate {
    fn truncator(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let run = w.run;
        // The first round is small: populating a VM_LOCKED private mapping
        // COWs every page (two allocations, a copy, an mlock each; ~5 ms a
        // page under TCG), and a kernel that leaves a truncated COW page
        // mlocked does so for any page, with or without the race.
        let pages = if w.iteration == 0 {
            self.pages.min(FIRST_ROUND_PAGES)
        } else {
            self.pages
        };
        let len = pages * PAGE_SIZE;
        let file = ShmemFile::new(len)?;
        let base = mm.mmap_file_private(&file, len, true)?;
        checkers::write_range(mm, &mut w.buf, base, pages, self.seed, 0, w.iteration)?;
        let mut cows: KVec<FolioRef> = KVec::with_capacity(pages, GFP_KERNEL)?;
        {
            let guard = mm.mm().mmap_read_lock();
            checkers::scan_ptes(mm.mm(), &guard, base, pages, |_, _, l| {
                if let Some(f) = &l.folio {
                    // Capacity was reserved: this push cannot fail.
                    let _ = cows.push(f.clone(), GFP_KERNEL);
                }
            });
        }
        // A kernel guarantee, not a premise: every page written in a
        // VM_LOCKED private mapping is a present COW folio, and PG_mlocked
        // (mlock_new_folio() sets it at fault time, before any batch).
        if cows.len() != pages {
            run.violation(Violation {
                invariant: Invariant::PagePresent,
                addr: base,
                pfn: 0,
                expected: pages as u64,
                found: cows.len() as u64,
                what: "present ptes after writing every page of a VM_LOCKED private mapping",
            });
        }
        for f in cows.iter() {
            let info = f.info();
            run.count(Counter::Checks, 1);
            if !info.mlocked {
                run.violation(Violation {
                    invariant: Invariant::MlockedInLockedVma,
                    addr: 0,
                    pfn: info.pfn,
                    expected: 1,
                    found: 0,
                    what: "PG_mlocked of a COW folio just written in a VM_LOCKED vma",
                });
            }
        }
        if run.should_stop() {
            drop(cows);
            mm.munmap(base, len)?;
            return Ok(());
        }

        let mlock_round = w.iteration % 4 == 3;
        self.mlock_round.store(mlock_round, Release);
        self.cur_pages.store(pages, Release);
        self.cur_base.store(base, Release);
        self.published.store(w.iteration + 1, Release);
        let raced = self.align.start(TRUNCATOR, w);
        let truncated = file.truncate(0);
        let settled = raced && {
            self.align.end(TRUNCATOR, run);
            self.align.wait_other(TRUNCATOR, w)
        };
        self.cur_base.store(0, Release);
        truncated?;
        if !settled {
            // The run is ending and the isolator may still hold folios of
            // this round: nothing here is quiescent enough to check.
            drop(cows);
            return mm.munmap(base, len);
        }

        {
            let guard = mm.mm().mmap_read_lock();
            let census = checkers::scan_ptes(mm.mm(), &guard, base, pages, |_, _, _| {});
            if census.present + census.migration != 0 {
                run.violation(Violation {
                    invariant: Invariant::PagePresent,
                    addr: base,
                    pfn: 0,
                    expected: 0,
                    found: (census.present + census.migration) as u64,
                    what: "ptes left in the range after truncate to 0",
                });
            }
        }
        // The munlock of a zapped folio may still sit in a per-cpu mlock
        // batch, and only that CPU drains it (lru_add_drain_all(): ~200 ms
        // under TCG). But a batch holds a reference on each folio in it: a
        // folio still PG_mlocked whose only reference is ours has no munlock
        // pending anywhere, and is reported at once; the drain is for the
        // folios some batch may hold.
        let mut pending = false;
        for f in cows.iter() {
            let info = f.info();
            run.count(Counter::Checks, 1);
            if info.mapcount != 0 {
                run.violation(Violation {
                    invariant: Invariant::PagePresent,
                    addr: 0,
                    pfn: info.pfn,
                    expected: 0,
                    found: info.mapcount as u64,
                    what: "folio_mapcount of a COW folio after truncate (even_cows)",
                });
            } else if info.mlocked && !mlock_round {
                if info.refcount == 1 {
                    run.violation(Violation {
                        invariant: Invariant::MunlockedWhenUnmapped,
                        addr: 0,
                        pfn: info.pfn,
                        expected: 0,
                        found: 1,
                        what: "PG_mlocked on a COW folio truncation unmapped (mapcount 0), no munlock pending (ours is its only reference)",
                    });
                } else {
                    pending = true;
                }
            }
        }
        // A run that has failed ends now: the rest would only add to its
        // violations (its final check, after_teardown, reads the counters).
        let failed = run.violations_seen() > 0;
        if !failed {
            // Flush the per-cpu LRU and mlock batches (also for the vmstat
            // baselines below), then look again.
            ffi::lru_add_drain_all();
            for f in cows.iter().filter(|_| pending) {
                let info = f.info();
                if info.mapcount == 0 && info.mlocked && !mlock_round {
                    run.violation(Violation {
                        invariant: Invariant::MunlockedWhenUnmapped,
                        addr: 0,
                        pfn: info.pfn,
                        expected: 0,
                        found: 1,
                        what: "PG_mlocked on a COW folio truncation unmapped (mapcount 0)",
                    });
                }
            }
        }
        drop(cows);
        mm.munmap(base, len)?;
        drop(file);
        if !failed {
            checkers::check_baselines(run, &[(&self.mlock, 0), (&self.unevictable, 0)], 1000);
        }
        Ok(())
    }

    fn toucher(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        // Pages before base: a round's pages are published before its base
        // (and after the last round's base was cleared), and rounds never
        // shrink, so `pages` never exceeds the range at `base`.
        let pages = self.cur_pages.load(Acquire);
        let base = self.cur_base.load(Acquire);
        if base == 0 {
            // Between races (most of a round: its setup and its checks):
            // sleep, so that under TCG this vCPU does not take the host
            // time the truncator needs.
            fsleep(Delta::from_micros(IDLE_US));
            return Ok(());
        }
        let i = w.rng.below(pages as u64) as usize;
        let addr = base + i * PAGE_SIZE;
        // The range may be truncated or unmapped under us: errors are normal.
        match w.rng.below(8) {
            0 if self.mlock_round.load(Acquire) => {
                let n = (pages - i) * PAGE_SIZE;
                let _ = mm.mlock(addr, n, false);
                let _ = mm.mlock(addr, n, true);
            }
            _ => {
                let _ = mm.read(addr, &mut w.buf[..8]);
            }
        }
        Ok(())
    }

    fn isolator(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let run = w.run;
        // Take references on this round's COW folios before the race (the
        // truncator waits at the barrier meanwhile), as an LRU scanner holds
        // the folios it is about to isolate.
        // The truncator sets the round up meanwhile (a file, a mapping, 64
        // COW faults): a long wait, slept rather than spun (see `toucher`).
        if !w.wait_published_sleeping(&self.published, IDLE_US) {
            return Ok(());
        }
        let pages = self.cur_pages.load(Acquire);
        let base = self.cur_base.load(Acquire);
        let mut folios = KVec::new();
        if base != 0 {
            let guard = mm.mm().mmap_read_lock();
            for _ in 0..self.params.isolate {
                let addr = base + w.rng.below(pages as u64) as usize * PAGE_SIZE;
                if let Some(f) = ffi::pte_lookup(mm.mm(), &guard, addr, true).folio {
                    folios.push(f, GFP_KERNEL)?;
                }
            }
        }
        if !self.align.start(ISOLATOR, w) {
            return Ok(());
        }
        let hold_us = w.rng.below(self.params.hold_us + 1) as i64;
        for f in folios.iter() {
            let isolated = f.isolate_lru_for(|| fsleep(Delta::from_micros(hold_us)));
            run.count(
                if isolated {
                    Counter::Isolated
                } else {
                    Counter::IsolateFailed
                },
                1,
            );
        }
        self.align.end(ISOLATOR, run);
        Ok(())
    }
}

impl Scenario for MunlockTruncate {
    const ROLES: &'static [&'static str] = &["truncator", "isolator", "toucher"];
    type Params = MunlockParams;

    fn setup(run: &RunShared, _mm: &MmUse<'_>) -> Result<Self> {
        let [mlock, unevictable] = Baseline::take_all([Stat::Mlock, Stat::Unevictable]);
        Ok(Self {
            pages: run.params.pages,
            params: run.params.own()?,
            seed: run.seed,
            cur_base: Atomic::new(0),
            cur_pages: Atomic::new(0),
            published: Atomic::new(0),
            mlock_round: Atomic::new(false),
            align: Aligner::new(),
            mlock,
            unevictable,
        })
    }

    fn step(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        match w.role {
            TRUNCATOR => self.truncator(w, mm),
            ISOLATOR => self.isolator(w, mm),
            _ => self.toucher(w, mm),
        }
    }

    fn finish(&self, _run: &RunShared, _mm: &MmUse<'_>) -> Result<KVec<FolioRef>> {
        // Each round unmaps and checks its own folios.
        Ok(KVec::new())
    }

    fn after_teardown(&self, run: &RunShared) -> Result {
        checkers::check_baselines(run, &[(&self.mlock, 0), (&self.unevictable, 0)], 2000);
        Ok(())
    }
}
