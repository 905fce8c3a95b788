// SPDX-License-Identifier: GPL-2.0

//! `thp_pin_migrate` (seed 001): migration must not move a folio that holds
//! an extra reference, and must not leak NR_ISOLATED_* on its failure paths.
//!
//! The test mm holds `thps` PMD-mapped THPs and `pages` base pages, each page
//! with a data pattern and a generation. The migrator alternates two kinds of
//! rounds, beginning with a fast one:
//! - a *fast round*, the migrator alone, no aligner, no hold: it takes the
//!   reference itself, migrates that folio while holding it, then writes
//!   through it and checks, as the holder below does. A kernel that migrates a referenced folio whatever the
//!   timing (seed 001) fails the first fast round on a THP, and the fast
//!   rounds repeat the plain sequence as often as a userspace loop of
//!   vmsplice(2) + move_pages(2) would; the fast rounds take THP and base
//!   pages, get and pin (`pin`), and the three migration paths in turn, each
//!   time to the node the folio is not on;
//! - an *aligned round*, where two workers race, aligned by an [`Aligner`]:
//!   - the *holder* takes an extra reference on one page the way GUP users
//!     do (`get_user_pages_remote()`, or `pin_user_pages_remote()`), holds it
//!     for a random time, writes a new generation of the page's pattern
//!     through it (as DMA would), then checks that the mapping shows that
//!     data and still maps the referenced page frame;
//!   - the *migrator* migrates the folio of that same page to the other
//!     node, alternating isolate + migrate_pages() (sync and async) and the
//!     NUMA-misplaced path (migrate_misplaced_folio_prepare/_folio()).
//!
//! Fast round `r` comes between aligned rounds `r - 1` and `r`: it starts
//! once the holder's round `r - 1` has ended (the page and its generation are
//! the holder's until then), and the holder sleeps until it is done rather
//! than spin at the aligner (under TCG a spinning vCPU takes host time from
//! the one migrating).
//!
//! Invariants: data written through the reference is what the mapping sees;
//! a referenced folio stays mapped where its holder has it; after every
//! round NR_ISOLATED_ANON/FILE are back at their baseline; at the end the
//! ranges are quiescent-consistent (ptes, rmap, mapcount), every page holds
//! its last pattern, and teardown releases every folio.
//!
//! Re-injected bug: `qemu/zoo/001-thp-migrate-ignores-pins.patch`.

use crate::checkers::{
    self, Baseline, Invariant, IsolatedBaseline, Violation, HPAGE_SIZE, PAGE_SIZE,
};
use crate::engine::{Aligner, Counter, RunShared, Scenario, WorkerCtx};
use crate::ffi::{self, FolioRef, IsolatedList, MmUse, PageRef, PteState, Stat};
use core::fmt::Write;
use kernel::{
    prelude::*,
    sync::atomic::{Acquire, Atomic, Relaxed, Release},
    time::{delay::fsleep, Delta},
};

const HPAGE_PAGES: usize = HPAGE_SIZE / PAGE_SIZE;

crate::scenario_params! {
    /// Parameters of `thp_pin_migrate`.
    pub(crate) struct ThpParams {
        thps: 2, 0..=64, "PMD-sized THPs";
        pin: 2, 0..=2, "0 get, 1 pin, 2 alternate";
        hold_us: 3000, 0..=1_000_000, "max extra-reference hold";
    }
}

const MIGRATOR: usize = 0;
const HOLDER: usize = 1;

pub(crate) struct ThpPinMigrate {
    params: ThpParams,
    thp_base: usize,
    thp_pages: usize,
    base: usize,
    pages: usize,
    seed: u64,
    nodes: [i32; 2],
    /// Generation of each page's pattern (THP pages first, then base pages).
    gens: KVec<Atomic<u64>>,
    /// Page the holder references this round (the migrator's target).
    target: Atomic<usize>,
    /// Fast rounds done (fast round `r` comes before aligned round `r`:
    /// the holder sleeps until it is done), and how many were on a THP.
    fast_done: Atomic<u64>,
    fast_thp: Atomic<u64>,
    align: Aligner,
    anon_mapped: Baseline,
    isolated: IsolatedBaseline,
}

impl ThpPinMigrate {
    fn addr(&self, idx: usize) -> usize {
        if idx < self.thp_pages {
            self.thp_base + idx * PAGE_SIZE
        } else {
            self.base + (idx - self.thp_pages) * PAGE_SIZE
        }
    }

    fn total(&self) -> usize {
        self.thp_pages + self.pages
    }

    /// One migration attempt of the folio mapping page `idx`, in round
    /// `round` of its kind (which picks the path: sync, async, misplaced),
    /// to the node of the round (`away` false: the nodes alternate) or to
    /// the node the folio is not on (`away`).
    fn migrate_target(
        &self,
        w: &mut WorkerCtx<'_>,
        mm: &MmUse<'_>,
        idx: usize,
        round: u64,
        away: bool,
    ) -> Result {
        let run = w.run;
        let addr = self.addr(idx);
        let guard = mm.mm().mmap_read_lock();
        let Some(folio) = ffi::pte_lookup(mm.mm(), &guard, addr, true).folio else {
            return Ok(());
        };
        let to = if away {
            self.nodes[usize::from(folio.info().nid == self.nodes[0])]
        } else {
            self.nodes[(round & 1) as usize]
        };
        if round % 3 == 2 {
            let (isolated, migrated) = ffi::migrate_misplaced(mm.mm(), &guard, addr, folio, to);
            if !isolated {
                run.count(Counter::IsolateFailed, 1);
            }
            run.count(
                if migrated {
                    Counter::Migrated
                } else {
                    Counter::MigrateFailed
                },
                1,
            );
            return Ok(());
        }
        drop(guard);
        let mut list = IsolatedList::new()?;
        // A folio still in a per-cpu LRU batch is not on the LRU yet: drain
        // the batches and try again, but only then (lru_add_drain_all()
        // waits for every CPU: up to ~200 ms under TCG; folio_add_lru()
        // puts a large folio on the LRU at once).
        let mut isolated = list.isolate(&folio);
        if !isolated {
            ffi::lru_add_drain_all();
            isolated = list.isolate(&folio);
        }
        if !isolated {
            run.count(Counter::IsolateFailed, 1);
            return Ok(());
        }
        // Migration needs our lookup reference gone: the holder's is the
        // only extra one that may be left.
        drop(folio);
        let (_, ok) = list.migrate_to(to, round % 3 == 0);
        run.count(
            if ok > 0 {
                Counter::Migrated
            } else {
                Counter::MigrateFailed
            },
            1,
        );
        Ok(())
    }

    fn migrator(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        // Even steps a fast round (the first one too), odd steps an aligned
        // round; each kind counts its own rounds.
        let round = w.iteration / 2;
        if w.iteration & 1 == 0 {
            return self.fast_round(w, mm, round);
        }
        if !self.align.start(MIGRATOR, w) {
            return Ok(());
        }
        let idx = self.target.load(Acquire);
        let res = self.migrate_target(w, mm, idx, round, false);
        self.align.end(MIGRATOR, w.run);
        res?;
        // Every path, failures included, must have undone its accounting.
        self.isolated.check(w.run, 500);
        Ok(())
    }

    /// A fast round: the migrator references a page itself (GUP get or
    /// pin), migrates its folio while holding the reference, then writes
    /// through it and checks, as the holder does; no aligner, no hold.
    fn fast_round(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, round: u64) -> Result {
        let run = w.run;
        // The holder's last round must be over (its page, its generation).
        if !self.align.wait_other(MIGRATOR, w) {
            return Ok(());
        }
        // THP and base pages in turn, get and pin in turn (with `pin=2`),
        // so the three migration paths (round % 3) meet each combination.
        let thp = self.thp_pages > 0 && round % 2 == 0;
        let idx = if thp {
            w.rng.below(self.thp_pages as u64) as usize
        } else {
            self.thp_pages + w.rng.below(self.pages as u64) as usize
        };
        let pin = match self.params.pin {
            0 => false,
            1 => true,
            _ => round / 2 % 2 == 1,
        };
        let addr = self.addr(idx);
        let res = self.fast_migrate_check(w, mm, idx, addr, pin, round);
        if thp {
            self.fast_thp.add(1, Relaxed);
        }
        self.fast_done.fetch_add(1, Release);
        res?;
        self.isolated.check(run, 500);
        Ok(())
    }

    fn fast_migrate_check(
        &self,
        w: &mut WorkerCtx<'_>,
        mm: &MmUse<'_>,
        idx: usize,
        addr: usize,
        pin: bool,
        round: u64,
    ) -> Result {
        let page = {
            let guard = mm.mm().mmap_read_lock();
            PageRef::grab(mm.mm(), &guard, addr, pin)
        };
        let Some(page) = page else {
            return Err(EFAULT);
        };
        w.run.count(Counter::Refs, 1);
        self.migrate_target(w, mm, idx, round, true)?;
        self.write_and_check(w, mm, idx, addr, &page)
    }

    fn holder(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let run = w.run;
        // Half the rounds on a THP page (if any), half on a base page.
        let idx = if self.thp_pages > 0 && w.rng.below(2) == 0 {
            w.rng.below(self.thp_pages as u64) as usize
        } else {
            self.thp_pages + w.rng.below(self.pages as u64) as usize
        };
        self.target.store(idx, Release);
        let pin = match self.params.pin {
            0 => false,
            1 => true,
            _ => w.iteration & 1 == 1,
        };
        // Sleep through the migrator's fast round before this aligned round
        // (the aligner's wait would spin through it).
        while self.fast_done.load(Acquire) <= w.iteration {
            if w.should_stop() {
                return Ok(());
            }
            fsleep(Delta::from_micros(100));
        }
        if !self.align.start(HOLDER, w) {
            return Ok(());
        }
        let addr = self.addr(idx);
        let res = self.hold_and_check(w, mm, idx, addr, pin);
        self.align.end(HOLDER, run);
        res
    }

    fn hold_and_check(
        &self,
        w: &mut WorkerCtx<'_>,
        mm: &MmUse<'_>,
        idx: usize,
        addr: usize,
        pin: bool,
    ) -> Result {
        let run = w.run;
        let page = {
            let guard = mm.mm().mmap_read_lock();
            PageRef::grab(mm.mm(), &guard, addr, pin)
        };
        let Some(page) = page else {
            return Err(EFAULT);
        };
        run.count(Counter::Refs, 1);
        let hold_us = w.rng.below(self.params.hold_us + 1);
        fsleep(Delta::from_micros(hold_us as i64));
        self.write_and_check(w, mm, idx, addr, &page)
    }

    /// Writes a new generation of page `idx`'s pattern through `page` (the
    /// reference on the page mapped at `addr`), as DMA would, and checks
    /// that the mapping shows it and still maps the referenced page frame.
    fn write_and_check(
        &self,
        w: &mut WorkerCtx<'_>,
        mm: &MmUse<'_>,
        idx: usize,
        addr: usize,
        page: &PageRef,
    ) -> Result {
        let run = w.run;
        let gen = self.gens[idx].load(Relaxed) + 1;
        checkers::pattern_fill(&mut w.buf, self.seed, idx, gen);
        page.write(0, &w.buf);
        self.gens[idx].store(gen, Relaxed);

        // What was written through the reference must be what the mapping
        // shows (copy_from_user waits out a migration entry).
        if let Some(v) = checkers::check_pattern(mm, &mut w.buf, addr, self.seed, idx, gen)? {
            run.violation(Violation {
                invariant: Invariant::ReferencedFolioStays,
                what: "data written through a GUP reference, read back through the mapping",
                pfn: page.pfn(),
                ..v
            });
        }
        let state = {
            let guard = mm.mm().mmap_read_lock();
            ffi::pte_lookup(mm.mm(), &guard, addr, false).state
        };
        run.count(Counter::Checks, 1);
        if let PteState::Present { pfn, .. } = state {
            if pfn != page.pfn() {
                run.violation(Violation {
                    invariant: Invariant::ReferencedFolioStays,
                    addr,
                    pfn,
                    expected: page.pfn() as u64,
                    found: pfn as u64,
                    what: "pfn mapped while the holder's reference is held",
                });
            }
        }
        Ok(())
    }

    fn check_all_data(&self, run: &RunShared, mm: &MmUse<'_>, buf: &mut [u8]) -> Result {
        for idx in 0..self.total() {
            let gen = self.gens[idx].load(Relaxed);
            if let Some(v) = checkers::check_pattern(mm, buf, self.addr(idx), self.seed, idx, gen)?
            {
                run.violation(v);
            }
            run.count(Counter::PagesVerified, 1);
        }
        Ok(())
    }
}

impl Scenario for ThpPinMigrate {
    const ROLES: &'static [&'static str] = &["migrator", "holder"];
    type Params = ThpParams;

    fn setup(run: &RunShared, mm: &MmUse<'_>) -> Result<Self> {
        run.require_two_nodes()?;
        let nodes = [0, 1];
        let params: ThpParams = run.params.own()?;
        let thps = params.thps as usize;
        let pages = run.params.pages;
        let (isolated, anon_mapped) = IsolatedBaseline::take_with(Stat::AnonMapped);
        // A PMD-aligned range inside a larger mapping, so THP faults fit.
        let thp_base = if thps > 0 {
            let raw = mm.mmap_anon(0, (thps + 1) * HPAGE_SIZE)?;
            (raw + HPAGE_SIZE - 1) & !(HPAGE_SIZE - 1)
        } else {
            0
        };
        let base = mm.mmap_anon(0, pages * PAGE_SIZE)?;
        let thp_pages = thps * HPAGE_PAGES;
        let mut gens = KVec::with_capacity(thp_pages + pages, GFP_KERNEL)?;
        for _ in 0..thp_pages + pages {
            gens.push(Atomic::new(0), GFP_KERNEL)?;
        }
        let s = Self {
            thp_base,
            thp_pages,
            base,
            pages,
            seed: run.seed,
            nodes,
            gens,
            target: Atomic::new(thp_pages),
            fast_done: Atomic::new(0),
            fast_thp: Atomic::new(0),
            align: Aligner::new(),
            anon_mapped,
            isolated,
            params,
        };
        let mut buf = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        for idx in 0..s.total() {
            checkers::write_pattern(mm, &mut buf, s.addr(idx), s.seed, idx, 0)?;
        }
        // Where the pages start does not matter (no check reads a node):
        // fast rounds migrate a folio away from its node, aligned rounds to
        // each node in turn. (Moving them all to node 0 first took ~550 ms
        // under TCG, most of the time to a first round.)
        // The THP half of the scenario needs real PMD-mapped THPs.
        let mut huge = 0;
        {
            let guard = mm.mm().mmap_read_lock();
            for i in 0..thps {
                let l = ffi::pte_lookup(mm.mm(), &guard, thp_base + i * HPAGE_SIZE, false);
                if matches!(l.state, PteState::Present { huge: true, .. }) {
                    huge += 1;
                }
            }
        }
        if huge != thps {
            pr_info!(
                "{}: only {} of {} THPs are PMD-mapped\n",
                run.desc.name,
                huge,
                thps
            );
            return Err(run.skip(
                "PMD-mapped THPs unavailable (transparent_hugepage enabled=never, or no free 2M blocks)",
            ));
        }
        Ok(s)
    }

    fn step(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        match w.role {
            MIGRATOR => self.migrator(w, mm),
            _ => self.holder(w, mm),
        }
    }

    fn finish(&self, run: &RunShared, mm: &MmUse<'_>) -> Result<KVec<FolioRef>> {
        let (fast, thp) = (self.fast_done.load(Relaxed), self.fast_thp.load(Relaxed));
        run.set_extra(|t| {
            // On allocation failure the lines are just missing.
            let _ = writeln!(t, "fast_rounds: {fast}");
            let _ = writeln!(t, "fast_rounds_thp: {thp}");
        });
        // A THP may have been split by a failed THP allocation: then its
        // pages are checked as base pages, which is what they are.
        checkers::check_quiescent_range(run, mm.mm(), self.thp_base, self.thp_pages, None);
        checkers::check_quiescent_range(run, mm.mm(), self.base, self.pages, None);
        let mut buf = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        self.check_all_data(run, mm, &mut buf)?;
        let mut kept = KVec::new();
        {
            let guard = mm.mm().mmap_read_lock();
            for (start, n) in [(self.thp_base, self.thp_pages), (self.base, self.pages)] {
                checkers::scan_ptes(mm.mm(), &guard, start, n, |_, addr, l| {
                    if let Some(f) = &l.folio {
                        let bytes = PAGE_SIZE << f.info().order;
                        if addr & (bytes - 1) == 0 {
                            // On allocation failure the folio is just not checked.
                            let _ = kept.push(f.clone(), GFP_KERNEL);
                        }
                    }
                });
            }
        }
        Ok(kept)
    }

    fn after_teardown(&self, run: &RunShared) -> Result {
        let slack = checkers::anon_mapped_slack(self.total());
        self.isolated.check(run, 2000);
        checkers::check_baselines(run, &[(&self.anon_mapped, slack)], 2000);
        Ok(())
    }
}
