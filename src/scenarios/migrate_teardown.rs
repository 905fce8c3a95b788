// SPDX-License-Identifier: GPL-2.0

//! `migrate_teardown_anon_vma` (seed 003): kernel-initiated migration (no
//! mmap_lock, as compaction) must keep the anon_vma alive while the mapping
//! it migrates goes away.
//!
//! Every round: a fresh anonymous range (its own vma and anon_vma) is
//! populated and all its folios isolated; then migrate_pages(MIGRATE_SYNC,
//! MR_COMPACTION) runs with the scenario's own destination allocator. At a
//! random folio k, when the folios before it have been unmapped (their ptes
//! replaced by migration entries, their mapcount 0), the allocator munmaps
//! the whole range (the vma, and the last user of the anon_vma, go away),
//! waits for RCU (so a freed anon_vma is really freed and poisoned with
//! CONFIG_SLUB_RCU_DEBUG), and refuses further destinations. migrate_pages()
//! then moves the k unmapped folios and walks their anon_vma to remove the
//! migration entries: only migration's own anon_vma reference keeps that
//! walk off freed memory.
//!
//! Invariants: no use-after-free (KASAN: the console scan fails the run on
//! any report), NR_ISOLATED_* back at baseline after every round,
//! NR_ANON_MAPPED back at baseline once the ranges are gone.
//!
//! Re-injected bug: `qemu/zoo/003-migrate-no-anon-vma-ref.patch`.

use crate::checkers::{self, Baseline, IsolatedBaseline, PAGE_SIZE};
use crate::engine::{Counter, NoParams, RunShared, Scenario, WorkerCtx};
use crate::ffi::{self, FolioRef, MmUse, NewFolio, Stat};
use kernel::prelude::*;

pub(crate) struct MigrateTeardown {
    pages: usize,
    seed: u64,
    isolated: IsolatedBaseline,
    anon_mapped: Baseline,
}

impl MigrateTeardown {
    fn round(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let run = w.run;
        let len = self.pages * PAGE_SIZE;
        let base = mm.mmap_anon(0, len)?;
        checkers::write_range(mm, &mut w.buf, base, self.pages, self.seed, 0, w.iteration)?;
        let (mut list, isolated) = checkers::isolate_range(run, mm.mm(), base, self.pages)?;
        if run.should_stop() {
            // The run ends (a violation elsewhere, e.g. the last round's
            // KASAN report): put the folios back, leave, let it end now.
            drop(list);
            return mm.munmap(base, len);
        }
        // Tear the range down when the first `k` folios are unmapped.
        let k = 1 + w.rng.below(self.pages.max(2) as u64 - 1);
        let to = (w.iteration & 1) as i32;
        let (mut calls, mut torn) = (0u64, Ok(()));
        let (_, ok) = list.migrate_with(|| {
            calls += 1;
            if calls <= k {
                return NewFolio::On(to);
            }
            if calls == k + 1 {
                torn = mm.munmap(base, len);
                ffi::rcu_barrier();
            }
            NewFolio::Refuse
        });
        drop(list);
        run.count(Counter::Migrated, u64::from(ok));
        run.count(
            Counter::MigrateFailed,
            isolated.saturating_sub(u64::from(ok)),
        );
        if calls <= k {
            // Fewer folios than k reached the allocator: unmap afterwards.
            mm.munmap(base, len)?;
        } else {
            torn?;
        }
        self.isolated.check(run, 500);
        Ok(())
    }
}

impl Scenario for MigrateTeardown {
    const ROLES: &'static [&'static str] = &["migrator"];
    type Params = NoParams;

    fn setup(run: &RunShared, _mm: &MmUse<'_>) -> Result<Self> {
        run.require_two_nodes()?;
        let (isolated, anon_mapped) = IsolatedBaseline::take_with(Stat::AnonMapped);
        Ok(Self {
            pages: run.params.pages,
            seed: run.seed,
            isolated,
            anon_mapped,
        })
    }

    fn step(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        self.round(w, mm)
    }

    fn finish(&self, _run: &RunShared, _mm: &MmUse<'_>) -> Result<KVec<FolioRef>> {
        Ok(KVec::new())
    }

    fn after_teardown(&self, run: &RunShared) -> Result {
        run.count(Counter::Checks, 1);
        if let Some(v) = self
            .anon_mapped
            .check(checkers::anon_mapped_slack(self.pages), 2000)
        {
            run.violation(v);
        }
        Ok(())
    }
}
