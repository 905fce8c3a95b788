// SPDX-License-Identifier: GPL-2.0

//! `smoke` and `busted`: the pipeline's proof of life.
//!
//! Anonymous pages with a per-page data pattern are migrated between node 0
//! and node 1, alternating the migrate_pages(2) path (`do_migrate_pages`) and
//! the compaction-like path (isolate_folio_to_list + migrate_pages), while a
//! reader on another CPU keeps verifying page contents (faulting through
//! migration entries). After every round, with nobody migrating: each page is
//! present, no migration entry is left, rmap_walk finds exactly its one
//! mapping, mapcount is 1, the node counts match what migration reported, and
//! every page holds its pattern. At the end: munmap + mm teardown release
//! every folio, and NR_ISOLATED_* / NR_ANON_MAPPED return to baseline.
//!
//! `busted` (`BUSTED = true`) breaks one invariant on purpose, like
//! locktorture's busted ops, chosen by `bug=`; the checker that owns that
//! invariant must report it (selftests/mmtorture_busted.sh runs each):
//! - 0: a word of one page is overwritten after the second round → data-pattern;
//! - 1: the round claims one more migrated folio than migrate_pages did → folio-node;
//! - 2: one folio reference is kept past the mm teardown → folio-released;
//! - 3: one folio is left isolated across an NR_ISOLATED check → vmstat-baseline;
//! - 4: one page is replaced by a fresh, unfaulted mapping → page-present.

use crate::checkers::{self, Baseline, Invariant, IsolatedBaseline, Violation, PAGE_SIZE};
use crate::engine::{self, Counter, ParamSpec, RunShared, Scenario, WorkerCtx};
use crate::ffi::{self, FolioRef, IsolatedList, MmUse, Stat};
use kernel::{
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// No parameters beyond the common ones.
pub(crate) const PARAMS: &[ParamSpec] = &[];

/// `busted`: which invariant to break.
pub(crate) const BUSTED_PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "bug",
    default: 0,
    min: 0,
    max: 4,
    help: "0 data, 1 node, 2 ref leak, 3 isolation leak, 4 unmapped page",
}];

/// The busted op of this run (`None` for `smoke`).
fn bug<const BUSTED: bool>(run: &RunShared) -> Option<u64> {
    BUSTED.then(|| run.params.get("bug"))
}

/// The test pages and the baselines of one smoke/busted run.
pub(crate) struct Smoke<const BUSTED: bool> {
    base: usize,
    pages: usize,
    seed: u64,
    nodes: [i32; 2],
    anon_mapped: Baseline,
    isolated: IsolatedBaseline,
    corrupted: Atomic<bool>,
}

const MIGRATOR: usize = 0;

impl<const BUSTED: bool> Smoke<BUSTED> {
    /// Folios of the test range currently on `nid`.
    fn count_on_node(&self, mm: &MmUse<'_>, nid: i32) -> usize {
        let guard = mm.mm().mmap_read_lock();
        let mut n = 0;
        checkers::scan_ptes(mm.mm(), &guard, self.base, self.pages, |_, _, l| {
            if l.folio.as_ref().is_some_and(|f| f.info().nid == nid) {
                n += 1;
            }
        });
        n
    }

    /// Isolates every test folio on `from` and migrate_pages() them to `to`.
    /// Returns how many migrated.
    fn migrate_isolated(
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
        let (from, to) = if r % 2 == 0 {
            (self.nodes[0], self.nodes[1])
        } else {
            (self.nodes[1], self.nodes[0])
        };
        let before = self.count_on_node(mm, to);
        let migrated = if r % 4 < 2 {
            let failed = ffi::migrate_mm(mm.mm(), from, to)? as usize;
            run.count(Counter::MigrateFailed, failed as u64);
            (self.pages - before).saturating_sub(failed)
        } else {
            let ok = self.migrate_isolated(run, mm, from, to)?;
            run.count(Counter::MigrateFailed, (self.pages - before - ok) as u64);
            ok
        };
        run.count(Counter::Migrated, migrated as u64);

        let on_to = checkers::check_quiescent_range(run, mm.mm(), self.base, self.pages, Some(to));
        // busted bug=1: claim one migration more than happened.
        let migrated = migrated + usize::from(r == 1 && bug::<BUSTED>(run) == Some(1));
        if on_to != before + migrated {
            run.violation(Violation {
                invariant: Invariant::FolioNode,
                addr: self.base,
                pfn: 0,
                expected: (before + migrated) as u64,
                found: on_to as u64,
                what: "folios on the target node (before + reported migrated)",
            });
        }
        if bug::<BUSTED>(run) == Some(0) && r == 1 && !self.corrupted.xchg(true, Relaxed) {
            // The deliberate bug: one word of one page no longer holds its pattern.
            let page = engine::wrap(self.seed, self.pages as u64) as usize;
            mm.write(
                self.base + page * PAGE_SIZE + 8,
                &0xbad0_bad0_bad0_bad0u64.to_ne_bytes(),
            )?;
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

impl<const BUSTED: bool> Scenario for Smoke<BUSTED> {
    const ROLES: &'static [&'static str] = &["migrator", "reader"];

    fn setup(run: &RunShared, mm: &MmUse<'_>) -> Result<Self> {
        run.require_two_nodes()?;
        let nodes = [0, 1];
        let pages = run.params.get("pages") as usize;
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
            corrupted: Atomic::new(false),
        })
    }

    fn step(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        match w.role {
            MIGRATOR => self.migrate_round(w, mm),
            _ => self.read_one(w, mm),
        }
    }

    fn finish(&self, run: &RunShared, mm: &MmUse<'_>) -> Result<KVec<FolioRef>> {
        let victim = self.base + engine::wrap(self.seed, self.pages as u64) as usize * PAGE_SIZE;
        if bug::<BUSTED>(run) == Some(4) {
            mm.munmap(victim, PAGE_SIZE)?;
            mm.mmap_anon(victim, PAGE_SIZE)?;
        }
        checkers::check_quiescent_range(run, mm.mm(), self.base, self.pages, None);
        let mut buf = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        self.check_all_data(run, mm, &mut buf)?;
        let mut kept = KVec::with_capacity(self.pages, GFP_KERNEL)?;
        {
            let guard = mm.mm().mmap_read_lock();
            checkers::scan_ptes(mm.mm(), &guard, self.base, self.pages, |_, _, l| {
                if let Some(f) = &l.folio {
                    // Capacity was reserved: this push cannot fail.
                    let _ = kept.push(f.clone(), GFP_KERNEL);
                }
            });
        }
        match (bug::<BUSTED>(run), kept.first()) {
            (Some(2), Some(f)) => {
                let leaked = f.clone();
                kept.push(leaked, GFP_KERNEL)?;
            }
            (Some(3), Some(_)) => {
                // Migrated folios wait in per-cpu LRU batches: flush them.
                ffi::lru_add_drain_all();
                let mut list = IsolatedList::new()?;
                if !kept.iter().any(|f| list.isolate(f)) {
                    pr_warn!("busted bug=3: no folio could be isolated\n");
                    return Err(EAGAIN);
                }
                self.isolated.check(run, 200);
            }
            _ => {}
        }
        mm.munmap(self.base, self.pages * PAGE_SIZE)?;
        Ok(kept)
    }

    fn after_teardown(&self, run: &RunShared) -> Result {
        // Other guest activity moves NR_ANON_MAPPED too: allow half our
        // range as noise; a leak of the range itself stays above it.
        let slack = (self.pages / 2) as i64;
        self.isolated.check(run, 2000);
        checkers::check_baselines(run, &[(&self.anon_mapped, slack)], 2000);
        Ok(())
    }
}
