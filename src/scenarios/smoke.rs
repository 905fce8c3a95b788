// SPDX-License-Identifier: GPL-2.0

//! `smoke`: the pipeline's proof of life (and the real ops `busted` breaks).
//!
//! Anonymous pages with a per-page data pattern are migrated between node 0
//! and node 1, alternating the migrate_pages(2) path (`do_migrate_pages`) and
//! the compaction-like path (isolate_folio_to_list + migrate_pages), while a
//! reader on another CPU keeps verifying page contents (faulting through
//! migration entries). After every round, with nobody migrating: each page is
//! present, no migration entry is left, rmap_walk finds exactly its one
//! mapping, mapcount is 1, the node counts match what migration reported
//! (in migration's own units: folios left behind for do_migrate_pages(),
//! pages for migrate_pages()' succeeded count), and every page holds its
//! pattern. At the end: munmap + mm teardown release every folio, and
//! NR_ISOLATED_* / NR_ANON_MAPPED return to baseline.
//!
//! The scenario is generic over a [`Breaker`]: `smoke` uses [`NoBreak`];
//! `busted` (in `busted.rs`, kept apart like locktorture's busted ops) breaks
//! real state at the hook points the trait names.

use crate::checkers::{self, Baseline, Invariant, IsolatedBaseline, Violation, PAGE_SIZE};
use crate::engine::{self, Counter, NoParams, RunShared, Scenario, ScenarioParams, WorkerCtx};
use crate::ffi::{self, FolioRef, IsolatedList, MmUse, Stat};
use kernel::prelude::*;

/// Hook points where a busted op may break real state. Every hook defaults
/// to doing nothing ([`NoBreak`] is `smoke`).
pub(crate) trait Breaker: Send + Sync + Sized + 'static {
    /// The scenario's parameters (the breaker's own, if any).
    type Params: ScenarioParams;

    /// Per-run state of the breaker.
    fn new(run: &RunShared) -> Result<Self>;

    /// After round `r`'s migration, before its checks (migrator thread).
    fn after_migrate(
        &self,
        _s: &Smoke<Self>,
        _w: &WorkerCtx<'_>,
        _mm: &MmUse<'_>,
        _r: u64,
    ) -> Result {
        Ok(())
    }

    /// Before the final quiescent checks (runner, workers stopped).
    fn before_final(&self, _s: &Smoke<Self>, _run: &RunShared, _mm: &MmUse<'_>) -> Result {
        Ok(())
    }

    /// After the final quiescent checks, before the data check: undo.
    fn after_final(&self, _s: &Smoke<Self>, _run: &RunShared, _mm: &MmUse<'_>) -> Result {
        Ok(())
    }

    /// Before the test range is unmapped (its folios are in `kept`).
    fn before_teardown(&self, _s: &Smoke<Self>, _run: &RunShared, _mm: &MmUse<'_>) -> Result {
        Ok(())
    }

    /// After the mm teardown and its checks.
    fn after_teardown(&self, _run: &RunShared) {}
}

/// `smoke`: nothing broken.
pub(crate) struct NoBreak;

impl Breaker for NoBreak {
    type Params = NoParams;

    fn new(_run: &RunShared) -> Result<Self> {
        Ok(Self)
    }
}

/// The test pages and the baselines of one smoke/busted run.
pub(crate) struct Smoke<B: Breaker> {
    pub(crate) base: usize,
    pub(crate) pages: usize,
    pub(crate) seed: u64,
    pub(crate) nodes: [i32; 2],
    anon_mapped: Baseline,
    pub(crate) isolated: IsolatedBaseline,
    breaker: B,
}

const MIGRATOR: usize = 0;

/// Pages and folios of a range on one node.
#[derive(Default)]
struct OnNode {
    pages: usize,
    folios: usize,
}

impl<B: Breaker> Smoke<B> {
    /// Round `r` migrates from `.0` to `.1`.
    pub(crate) fn round_nodes(&self, r: u64) -> (i32, i32) {
        if r % 2 == 0 {
            (self.nodes[0], self.nodes[1])
        } else {
            (self.nodes[1], self.nodes[0])
        }
    }

    /// The page every single-page busted op picks (fixed by the seed).
    pub(crate) fn victim(&self) -> usize {
        engine::wrap(self.seed, self.pages as u64) as usize
    }

    /// Pages and folios of the test range currently on `nid` (a large
    /// folio counts once, at the pte that maps its first page).
    fn on_node(&self, mm: &MmUse<'_>, nid: i32) -> OnNode {
        let guard = mm.mm().mmap_read_lock();
        let mut n = OnNode::default();
        checkers::scan_ptes(mm.mm(), &guard, self.base, self.pages, |_, _, l| {
            let Some(info) = l.folio.as_ref().map(|f| f.info()) else {
                return;
            };
            if info.nid == nid {
                n.pages += 1;
                if matches!(l.state, ffi::PteState::Present { pfn, .. } if pfn == info.pfn) {
                    n.folios += 1;
                }
            }
        });
        n
    }

    /// Isolates every test folio on `from` and migrate_pages() them to `to`.
    /// Returns the pages migrate_pages() reports succeeded.
    pub(crate) fn migrate_isolated(
        &self,
        run: &RunShared,
        mm: &MmUse<'_>,
        from: i32,
        to: i32,
    ) -> Result<usize> {
        ffi::lru_add_drain_all();
        let mut list = IsolatedList::new()?;
        {
            let guard = mm.mm().mmap_read_lock();
            checkers::scan_ptes(mm.mm(), &guard, self.base, self.pages, |_, _, l| {
                if let Some(folio) = &l.folio {
                    if folio.info().nid == from && !list.isolate(folio) {
                        run.count(Counter::IsolateFailed, 1);
                    }
                }
            });
        }
        let (_ret, ok) = list.migrate_to(to, true);
        // Dropping the list puts back whatever did not migrate.
        Ok(ok as usize)
    }

    /// One migration round plus the quiescent checks.
    fn migrate_round(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let run = w.run;
        let r = w.iteration;
        let (from, to) = self.round_nodes(r);
        let before_to = self.on_node(mm, to).pages;
        let from_before = self.on_node(mm, from);
        // Each path's own report, checked in its own unit.
        let (failed_folios, ok_pages) = if r % 4 < 2 {
            (Some(ffi::migrate_mm(mm.mm(), from, to)? as usize), None)
        } else {
            (None, Some(self.migrate_isolated(run, mm, from, to)?))
        };
        self.breaker.after_migrate(self, w, mm, r)?;
        let left = self.on_node(mm, from);
        let migrated = from_before.pages.saturating_sub(left.pages);
        run.count(Counter::Migrated, migrated as u64);
        run.count(Counter::MigrateFailed, left.pages as u64);

        let on_to = checkers::check_quiescent_range(run, mm.mm(), self.base, self.pages, Some(to));
        if let Some(failed) = failed_folios {
            // do_migrate_pages() returns what it could not migrate: one
            // per folio that migrate_pages() left, one per pte batch that
            // could not be isolated. So every folio still on the source
            // node is counted at least once, and no more than its pages.
            if left.folios > failed || failed > left.pages {
                run.violation(Violation {
                    invariant: Invariant::FolioNode,
                    addr: self.base,
                    pfn: 0,
                    expected: failed as u64,
                    found: left.folios as u64,
                    what: "folios left on the source node (do_migrate_pages: not migrated, at most their pages)",
                });
            }
        }
        if let Some(ok) = ok_pages {
            // migrate_pages() counts succeeded pages (a THP is 512).
            if on_to != before_to + ok {
                run.violation(Violation {
                    invariant: Invariant::FolioNode,
                    addr: self.base,
                    pfn: 0,
                    expected: (before_to + ok) as u64,
                    found: on_to as u64,
                    what: "pages on the target node (before + migrate_pages succeeded)",
                });
            }
        }
        self.check_all_data(run, mm, &mut w.buf)
    }

    fn check_all_data(&self, run: &RunShared, mm: &MmUse<'_>, buf: &mut [u8]) -> Result {
        for i in 0..self.pages {
            let addr = self.base + i * PAGE_SIZE;
            if let Some(v) = checkers::check_pattern(mm, buf, addr, self.seed, i, 0)? {
                run.violation(v);
            }
            run.count(Counter::PagesVerified, 1);
        }
        Ok(())
    }

    /// The reader: verify one random page (may fault on a migration entry).
    fn read_one(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let i = w.rng.below(self.pages as u64) as usize;
        let addr = self.base + i * PAGE_SIZE;
        if let Some(v) = checkers::check_pattern(mm, &mut w.buf, addr, self.seed, i, 0)? {
            w.run.violation(v);
        }
        w.run.count(Counter::PagesVerified, 1);
        Ok(())
    }
}

impl<B: Breaker> Scenario for Smoke<B> {
    const ROLES: &'static [&'static str] = &["migrator", "reader"];
    type Params = B::Params;

    fn setup(run: &RunShared, mm: &MmUse<'_>) -> Result<Self> {
        run.require_two_nodes()?;
        let nodes = [0, 1];
        let pages = run.params.pages;
        let anon_mapped = Baseline::take(Stat::AnonMapped);
        let isolated = IsolatedBaseline::take();
        let base = mm.mmap_anon(0, pages * PAGE_SIZE)?;
        let mut buf = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        checkers::write_range(mm, &mut buf, base, pages, run.seed, 0, 0)?;
        // Start with everything on node 0, whichever CPU faulted it in.
        ffi::migrate_mm(mm.mm(), nodes[1], nodes[0])?;
        Ok(Self {
            base,
            pages,
            seed: run.seed,
            nodes,
            anon_mapped,
            isolated,
            breaker: B::new(run)?,
        })
    }

    fn step(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        match w.role {
            MIGRATOR => self.migrate_round(w, mm),
            _ => self.read_one(w, mm),
        }
    }

    fn finish(&self, run: &RunShared, mm: &MmUse<'_>) -> Result<KVec<FolioRef>> {
        self.breaker.before_final(self, run, mm)?;
        checkers::check_quiescent_range(run, mm.mm(), self.base, self.pages, None);
        self.breaker.after_final(self, run, mm)?;
        let mut buf = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        self.check_all_data(run, mm, &mut buf)?;
        let kept = checkers::mapped_folios(mm.mm(), self.base, self.pages)?;
        self.breaker.before_teardown(self, run, mm)?;
        mm.munmap(self.base, self.pages * PAGE_SIZE)?;
        Ok(kept)
    }

    fn after_teardown(&self, run: &RunShared) -> Result {
        self.breaker.after_teardown(run);
        // Other guest activity moves NR_ANON_MAPPED too (see the slack).
        let slack = checkers::anon_mapped_slack(self.pages);
        self.isolated.check(run, 2000);
        checkers::check_baselines(run, &[(&self.anon_mapped, slack)], 2000);
        Ok(())
    }
}
