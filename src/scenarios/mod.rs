// SPDX-License-Identifier: GPL-2.0

//! The scenario table: what is tested. How it runs is the engine's.
//!
//! Adding a scenario is one file implementing `engine::Scenario` plus one
//! line in [`SCENARIOS`] (as locktorture's ops table).

#![deny(unsafe_code)]

use crate::engine::{self, need, need_unless, Counter::*, Need, ScenarioDesc};

mod busted;
mod migrate_teardown;
mod mix;
mod move_migrate;
mod munlock_split;
mod munlock_truncate;
mod smoke;
mod thp_pin_migrate;

/// Builds a table entry for scenario type `S`.
macro_rules! scenario {
    ($ty:ty, $name:literal, $desc:literal, $coverage:expr) => {
        ScenarioDesc {
            name: $name,
            description: $desc,
            params: <<$ty as engine::Scenario>::Params as engine::ScenarioParams>::SPECS,
            coverage: $coverage,
            roles: <$ty as engine::Scenario>::ROLES,
            execute: engine::execute::<$ty>,
        }
    };
}

/// Every scenario mmtorture knows.
pub(crate) static SCENARIOS: &[ScenarioDesc] = TABLE;

// Every coverage waiver names a declared parameter, or the build fails.
const _: () = engine::check_table(TABLE);

const TABLE: &[ScenarioDesc] = &[
    scenario!(
        smoke::Smoke<smoke::NoBreak>,
        "smoke",
        "migrate anon pages node 0<->1 (do_migrate_pages and isolate+migrate_pages) under a concurrent reader; check data, node, ptes, rmap, mapcount, teardown",
        SMOKE_COVERAGE
    ),
    scenario!(
        smoke::Smoke<busted::Busted>,
        "busted",
        "smoke with one piece of real mm state broken on purpose (bug=0..7, see busted.rs): the checker named for it must fail",
        SMOKE_COVERAGE
    ),
    scenario!(
        thp_pin_migrate::ThpPinMigrate,
        "thp_pin_migrate",
        "seed 001: THP and base folios held by GUP get/pin while migrate_pages and the NUMA-misplaced path migrate them; no referenced folio may move, NR_ISOLATED returns to baseline",
        &[need(Rounds, 5), need(Overlaps, 2), need(Refs, 5)]
    ),
    scenario!(
        munlock_truncate::MunlockTruncate,
        "munlock_truncate",
        "seed 002: COW pages of a VM_LOCKED MAP_PRIVATE shmem mapping truncated while another CPU isolates/puts back their folios; unmapped folios must not stay PG_mlocked, NR_MLOCK/unevictable return to baseline",
        &[need(Isolated, 4), need(Rounds, 5), need(Overlaps, 2)]
    ),
    scenario!(
        move_migrate::MoveMigrate<move_migrate::MremapMerge>,
        "mremap_merge_migrate",
        "seed 004: mremap (copy_vma merging into the preceding vma, and back) racing migrate_pages on the moving folios; no migration entry may be left, rmap/mapcount/data follow the move",
        &[need(Rounds, 5), need(Migrated, 8), need_unless(ParkEntries, 2, "probe", 0), need_unless(Probes, 1, "probe", 0)]
    ),
    scenario!(
        move_migrate::MoveMigrate<move_migrate::ExecStack>,
        "exec_stack_migrate",
        "seed 000: exec's temporary stack shifted down by relocate_vma_down racing migrate_pages on its folios; no migration entry may be left, data follows the shift",
        &[need(Rounds, 5), need(Overlaps, 2), need_unless(ParkEntries, 2, "park", 0)]
    ),
    scenario!(
        migrate_teardown::MigrateTeardown,
        "migrate_teardown_anon_vma",
        "seed 003: kernel-initiated migrate_pages (no mmap_lock) whose range is munmapped mid-migration; migration must keep the anon_vma alive (KASAN), NR_ISOLATED returns to baseline",
        &[need(Iterations, 3), need(Migrated, 3)]
    ),
    scenario!(
        munlock_split::MunlockSplit,
        "munlock_split",
        "reproducer of two 7.3.4 kernel bugs: munlock(2) of an mlocked THP while a split holds its ptes frozen (park=1; docs/findings/2026-12-02-munlock-vs-thp-split-strands-mlocked.md), or while a migration that fails on a held reference unmaps and restores it again and again (via=1; docs/findings/2026-12-02-thp-head-mlocked-after-munlock.md); no page of the unlocked range may stay PG_mlocked. Fails on 7.3.4",
        &[need(Rounds, 3), need_unless(Overlaps, 3, "park", 0)]
    ),
    scenario!(
        mix::Mix,
        "mix",
        "random layout ops (mremap away/back-merge, MADV_DONTNEED, writes, mprotect splits, mlock, munmap, truncate, exec stack shift, MADV_COLLAPSE) by one mover against migration, rmap probes, GUP pins, LRU isolation, MADV_COLD and the NUMA path on other CPUs; a shadow model checked at every checkpoint (ptes, data, rmap, mapcount, PG_mlocked, NR_ISOLATED)",
        &[need(Rounds, 3), need(Migrated, 8), need(PagesVerified, 64)]
    ),
];

/// What a smoke (or busted) run must have done.
const SMOKE_COVERAGE: &[Need] = &[need(Migrated, 8), need(PagesVerified, 8)];

/// Looks a scenario up by name.
pub(crate) fn find(name: &str) -> Option<&'static ScenarioDesc> {
    SCENARIOS.iter().find(|s| s.name == name)
}
