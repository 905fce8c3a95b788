// SPDX-License-Identifier: GPL-2.0

//! Page-table moves racing migration: `mremap_merge_migrate` (seed 004) and
//! `exec_stack_migrate` (seed 000).
//!
//! migrate_pages() replaces each mapping of a folio with a migration entry
//! (try_to_migrate) and later finds every one of them again through the
//! reverse map (remove_migration_ptes). A page-table move that runs between
//! two rmap visits of that walk hides an entry from it, which is then left
//! behind for good. Two moves historically did: exec's stack shift
//! (relocate_vma_down → move_page_tables, seed 000) and mremap into a vma
//! that copy_vma() merged ahead of the source in rmap order (seed 004).
//!
//! Every round, a [`MoveKind`] prepares the `pages` moving pages (with data
//! patterns) and publishes where they are; the *migrator* isolates their
//! folios; then, aligned by an [`Aligner`], the *mover* moves them while the
//! migrator migrate_pages() them to the other node.
//!
//! Race-window control, `park=1`: the migrator's destination allocator,
//! called by migrate_pages() after the first `k` folios were unmapped
//! (their ptes replaced by migration entries), lets the mover start its move
//! and waits until the mover is parked at move_page_tables() entry (vma
//! already expanded/merged, no pte moved: a [`ParkPoint`]); then it refuses
//! further destinations, so migrate_pages() moves the `k` folios back and
//! runs their rmap walks (remove_migration_ptes) inside that window. When
//! migrate_pages() returns, the gate opens and the ptes move. With `park=0`
//! the two sides only meet at the aligner, with random delays.
//!
//! Once both are done:
//! no migration entry may be left in the destination range (checked from the
//! page tables, without faulting), every page is present there with rmap
//! finding exactly its one mapping and mapcount 1, and the data followed the
//! move.
//!
//! Re-injected bugs: `qemu/zoo/000-temp-stack-migration.patch`,
//! `qemu/zoo/004-mremap-merge-no-rmap-locks.patch`.

use crate::checkers::{self, Invariant, IsolatedBaseline, Violation, PAGE_SIZE};
use crate::compat::EOPNOTSUPP; // not in 7.2's kernel crate (src/compat.rs)
use crate::engine::{Aligner, Counter, RunShared, Scenario, ScenarioParams, WorkerCtx};
use crate::ffi::{self, FolioRef, MmUse, NewFolio, ParkPoint, PteState};
use kernel::{
    prelude::*,
    sync::atomic::{Acquire, Atomic, Release},
    time::{Instant, Monotonic},
};

/// How the moving pages are laid out and moved.
pub(crate) trait MoveKind: Send + Sync + Sized + 'static {
    /// The scenario's parameters.
    type Params: ScenarioParams;
    /// Builds the layout (runner thread, mm attached).
    fn setup(run: &RunShared, p: &Self::Params, mm: &MmUse<'_>, pages: usize) -> Result<Self>;
    /// `park=1`: migration's rmap walks run while the mover is parked.
    fn park(p: &Self::Params) -> bool;
    /// `probe=1`: even rounds probe with the module's own rmap_walk.
    fn probe(_p: &Self::Params) -> bool {
        false
    }
    /// Before round `r`: returns where the moving pages are, and the
    /// (first page index, generation) of their data patterns.
    fn prepare(
        &self,
        r: u64,
        run: &RunShared,
        mm: &MmUse<'_>,
        buf: &mut [u8],
    ) -> Result<(usize, usize, u64)>;
    /// Where round `r` moves the pages that are at `src`.
    fn dst(&self, r: u64, src: usize) -> usize;
    /// The move of round `r` (to `self.dst(r, src)`).
    fn do_move(&self, r: u64, mm: &MmUse<'_>, src: usize) -> Result;
    /// After round `r`'s checks.
    fn cleanup(&self, _r: u64, _mm: &MmUse<'_>, _dst: usize) -> Result {
        Ok(())
    }
}

/// How long the mover may stay parked: it holds the test mm's mmap_lock
/// meanwhile (sleeping; nothing outside the test mm waits for it).
pub(super) const PARK_TIMEOUT_MS: u32 = 1000;

const MOVER: usize = 0;
const MIGRATOR: usize = 1;

pub(crate) struct MoveMigrate<K: MoveKind> {
    kind: K,
    pages: usize,
    seed: u64,
    /// Where the moving pages are this round.
    cur_src: Atomic<usize>,
    /// Rounds whose `cur_src` has been published.
    published: Atomic<u64>,
    align: Aligner,
    isolated: IsolatedBaseline,
    park: Option<ParkPoint>,
    /// `park=1` (see [`MoveKind::park`]).
    park_on: bool,
    /// `probe=1` (see [`MoveKind::probe`]).
    probe: bool,
    /// Round for which the migrator has unmapped its first folios (park=1).
    go: Atomic<u64>,
}

/// What the two workers do in a round.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Move vs migrate_pages(), aligned with random delays.
    Plain,
    /// Move vs migrate_pages() whose rmap walks run while the mover is
    /// parked after the vma change, before the ptes move (`park=1`).
    Park,
    /// Move vs the prober's own rmap_walk, which lets the parked move go
    /// while it is between two vmas (`probe=1`, even rounds).
    Probe,
}

impl<K: MoveKind> MoveMigrate<K> {
    fn mode(&self, w: &WorkerCtx<'_>) -> Mode {
        if self.probe && w.iteration & 1 == 0 {
            Mode::Probe
        } else if self.park_on {
            Mode::Park
        } else {
            Mode::Plain
        }
    }

    /// The prober's round (`Mode::Probe`): rmap must find a mapped folio in
    /// at least one place while its pte moves (the invariant migration
    /// relies on: "rmap_walk must find all ptes mapping a page at all
    /// times"). The walk visits the destination vma first when copy_vma()
    /// merged the range into a vma ahead of the source; there it opens the
    /// mover's gate and waits for the move (up to 200 ms) before going on.
    /// With need_rmap_locks the move blocks on the anon_vma lock this walk
    /// holds, so the source still has the pte when the walk gets there.
    fn probe(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, park: &ParkPoint, src: usize) -> Result {
        let run = w.run;
        let i = w.rng.below(self.pages as u64) as usize;
        let addr = src + i * PAGE_SIZE;
        let (folio, page_pfn) = {
            let guard = mm.mm().mmap_read_lock();
            let l = ffi::pte_lookup(mm.mm(), &guard, addr, true);
            let pfn = match l.state {
                PteState::Present { pfn, .. } => pfn,
                _ => 0,
            };
            (l.folio, pfn)
        };
        // rmap_walk visits a large folio at the address of its first page:
        // where that page lands is the destination the walk must see first.
        let head_off = folio
            .as_ref()
            .map_or(0, |f| page_pfn.saturating_sub(f.info().pfn) * PAGE_SIZE);
        let dst = self.kind.dst(w.iteration, src) + i * PAGE_SIZE - head_off;
        let entered = park.entered();
        park.close(true);
        if !self.align.start(MIGRATOR, w) {
            park.close(false);
            return Ok(());
        }
        let t0 = Instant::<Monotonic>::now();
        while park.entered() == entered && t0.elapsed().as_millis() < 1000 && !w.should_stop() {
            ffi::cond_resched();
        }
        let Some(folio) = folio else {
            park.close(false);
            self.align.end(MIGRATOR, run);
            return Ok(());
        };
        let pfn = folio.info().pfn;
        let me = mm.mm().as_raw() as usize;
        let (mut found, mut visits, mut dst_first) = (0u64, 0u64, false);
        {
            let lock = folio.lock();
            let exited = park.exited();
            lock.rmap_walk(|hit| {
                if hit.mm != me {
                    return true;
                }
                visits += 1;
                if hit.addr == dst && visits == 1 {
                    dst_first = true;
                    park.close(false);
                    let t0 = Instant::<Monotonic>::now();
                    while park.exited() == exited && t0.elapsed().as_millis() < 200 {
                        ffi::cond_resched();
                    }
                }
                if matches!(hit.pte, PteState::Present { pfn: p, .. } if p == pfn) {
                    found += 1;
                }
                true
            });
        }
        park.close(false);
        self.align.end(MIGRATOR, run);
        run.set_count(Counter::ParkEntries, park.entered());
        run.count(Counter::Checks, 1);
        if dst_first {
            run.count(Counter::Probes, 1);
        }
        if found == 0 {
            run.violation(Violation {
                invariant: Invariant::RmapMappings,
                addr,
                pfn,
                expected: 1,
                found,
                what: "mappings rmap_walk found of a mapped folio while its pte moved (dst vma visited first)",
            });
        }
        Ok(())
    }

    /// park=1: the mover waits for the migrator's go before moving.
    fn wait_go(&self, w: &WorkerCtx<'_>) {
        let t0 = Instant::<Monotonic>::now();
        while self.go.load(Acquire) <= w.iteration && !w.should_stop() {
            if t0.elapsed().as_millis() > 1000 {
                return;
            }
            ffi::cond_resched();
        }
    }

    fn mover(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let run = w.run;
        let r = w.iteration;
        let (src, first, gen) = self.kind.prepare(r, run, mm, &mut w.buf)?;
        self.cur_src.store(src, Release);
        self.published.store(r + 1, Release);
        let mode = self.mode(w);
        let raced = self.align.start(MOVER, w);
        if let Some(park) = &self.park {
            park.arm(true);
            if mode == Mode::Park {
                self.wait_go(w);
            }
        }
        let moved = self
            .kind
            .do_move(r, mm, src)
            .map(|()| self.kind.dst(r, src));
        if let Some(park) = &self.park {
            park.arm(false);
        }
        // Only a round both sides finished is quiescent: when the run ends
        // in the middle of one, the migrator may still be migrating (its
        // migration entries are legitimately there), so the round is not
        // checked.
        let settled = raced && {
            self.align.end(MOVER, run);
            self.align.wait_other(MOVER, w)
        };
        let dst = moved?;
        if settled {
            self.check_moved(run, mm, &mut w.buf, dst, first, gen)?;
        }
        self.kind.cleanup(r, mm, dst)
    }

    /// The destination range after a round: first the page tables (a stale
    /// migration entry must not be faulted on: it would livelock), then the
    /// quiescent structure, then the data.
    fn check_moved(
        &self,
        run: &RunShared,
        mm: &MmUse<'_>,
        buf: &mut [u8],
        dst: usize,
        first: usize,
        gen: u64,
    ) -> Result {
        let mut stale = 0;
        {
            let guard = mm.mm().mmap_read_lock();
            checkers::scan_ptes(mm.mm(), &guard, dst, self.pages, |_, addr, l| {
                if let PteState::Migration { pfn, .. } = l.state {
                    stale += 1;
                    run.violation(Violation {
                        invariant: Invariant::NoMigrationEntry,
                        addr,
                        pfn,
                        expected: 0,
                        found: 1,
                        what: "migration entry left in a moved pte after migration finished",
                    });
                }
            });
        }
        if stale > 0 {
            return Ok(());
        }
        checkers::check_quiescent_range(run, mm.mm(), dst, self.pages, None);
        for i in 0..self.pages {
            let addr = dst + i * PAGE_SIZE;
            if let Some(v) = checkers::check_pattern(mm, buf, addr, self.seed, first + i, gen)? {
                run.violation(v);
            }
            run.count(Counter::PagesVerified, 1);
        }
        self.isolated.check(run, 500);
        Ok(())
    }

    fn migrator(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let run = w.run;
        if !w.wait_published(&self.published) {
            return Ok(());
        }
        let src = self.cur_src.load(Acquire);
        let mode = self.mode(w);
        if let (Mode::Probe, Some(park)) = (mode, &self.park) {
            return self.probe(w, mm, park, src);
        }
        // Isolate before the race (as compaction does, without the
        // mmap_lock held across the migration).
        let (mut list, isolated) = checkers::isolate_range(run, mm.mm(), src, self.pages)?;
        let to = (w.iteration & 1) as i32;
        if let (Mode::Park, Some(park)) = (mode, &self.park) {
            park.close(true);
        }
        if !self.align.start(MIGRATOR, w) {
            return Ok(());
        }
        let ok = match (mode, &self.park) {
            (Mode::Plain, _) | (_, None) => list.migrate_to(to, true).1,
            (_, Some(park)) => {
                let k = 1 + w.rng.below(isolated.max(2) - 1);
                let (mut calls, r) = (0u64, w.iteration);
                let entered = park.entered();
                let ok = list
                    .migrate_with(|| {
                        calls += 1;
                        if calls == k + 1 {
                            // k folios are unmapped: let the mover in, and
                            // wait until it is parked in move_page_tables().
                            self.go.store(r + 1, Release);
                            let t0 = Instant::<Monotonic>::now();
                            while park.entered() == entered && t0.elapsed().as_millis() < 1000 {
                                ffi::cond_resched();
                            }
                        }
                        if calls <= k {
                            NewFolio::On(to)
                        } else {
                            NewFolio::Refuse
                        }
                    })
                    .1;
                // Unblock a mover still waiting (fewer than k+1 folios).
                self.go.store(r + 1, Release);
                park.close(false);
                run.set_count(Counter::Timeouts, park.timeouts());
                run.set_count(Counter::ParkEntries, park.entered());
                ok
            }
        };
        // Put back what did not migrate before the round ends: the mover
        // checks NR_ISOLATED as soon as both sides have ended (seen on the
        // clean kernel under host load: all 64 refused temporary-stack
        // folios still isolated when the mover looked).
        drop(list);
        self.align.end(MIGRATOR, run);
        run.count(Counter::Migrated, u64::from(ok));
        run.count(
            Counter::MigrateFailed,
            isolated.saturating_sub(u64::from(ok)),
        );
        Ok(())
    }
}

impl<K: MoveKind> Scenario for MoveMigrate<K> {
    const ROLES: &'static [&'static str] = &["mover", "migrator"];
    type Params = K::Params;

    fn setup(run: &RunShared, mm: &MmUse<'_>) -> Result<Self> {
        run.require_two_nodes()?;
        let pages = run.params.pages;
        let params: K::Params = run.params.own()?;
        let (park_on, probe) = (K::park(&params), K::probe(&params));
        let park = match park_on || probe {
            false => None,
            true => Some(ParkPoint::new(mm.mm(), PARK_TIMEOUT_MS).map_err(|e| {
                match e == EOPNOTSUPP {
                    true => run.skip(
                        "needs CONFIG_MMU_NOTIFIER (the park point; park=0 probe=0 runs without)",
                    ),
                    false => e,
                }
            })?),
        };
        Ok(Self {
            park,
            go: Atomic::new(0),
            isolated: IsolatedBaseline::take(),
            kind: K::setup(run, &params, mm, pages)?,
            park_on,
            probe,
            pages,
            seed: run.seed,
            cur_src: Atomic::new(0),
            published: Atomic::new(0),
            align: Aligner::new(),
        })
    }

    fn step(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        match w.role {
            MOVER => self.mover(w, mm),
            _ => self.migrator(w, mm),
        }
    }

    fn finish(&self, _run: &RunShared, _mm: &MmUse<'_>) -> Result<KVec<FolioRef>> {
        // Each round checked its own range; teardown must still be clean
        // (a stale migration entry makes zap warn: the console scan sees it).
        Ok(KVec::new())
    }
}

/// Seed 004: `[X, X+2N)` anon, whose upper half is mremap'ed away to `Y` and
/// back, alternately. Moving it back makes copy_vma() merge it into the
/// lower half's vma, which precedes the source in rmap order: the move must
/// then hold the rmap locks (need_rmap_locks).
pub(crate) struct MremapMerge {
    x: usize,
    y: usize,
    len: usize,
}

impl MoveKind for MremapMerge {
    type Params = MremapParams;

    fn park(p: &MremapParams) -> bool {
        p.park != 0
    }

    fn probe(p: &MremapParams) -> bool {
        p.probe != 0
    }

    fn setup(run: &RunShared, _p: &MremapParams, mm: &MmUse<'_>, pages: usize) -> Result<Self> {
        let len = pages * PAGE_SIZE;
        let x = mm.mmap_anon(0, 2 * len)?;
        let mut buf = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        checkers::write_range(mm, &mut buf, x, 2 * pages, run.seed, 0, 0)?;
        // A hole for the upper half to go to.
        let y = mm.mmap_anon(0, len)?;
        mm.munmap(y, len)?;
        mm.mremap_fixed(x + len, len, y)?;
        Ok(Self { x, y, len })
    }

    fn prepare(
        &self,
        r: u64,
        _run: &RunShared,
        _mm: &MmUse<'_>,
        _buf: &mut [u8],
    ) -> Result<(usize, usize, u64)> {
        // Even rounds: Y -> X+N (the merging move); odd: back to Y. The
        // moving pages are pattern pages N..2N, generation 0.
        let src = if r & 1 == 0 {
            self.y
        } else {
            self.x + self.len
        };
        Ok((src, self.len / PAGE_SIZE, 0))
    }

    fn dst(&self, _r: u64, src: usize) -> usize {
        if src == self.y {
            self.x + self.len
        } else {
            self.y
        }
    }

    fn do_move(&self, r: u64, mm: &MmUse<'_>, src: usize) -> Result {
        mm.mremap_fixed(src, self.len, self.dst(r, src))
    }
}

/// Seed 000: every round a fresh stack vma (MAP_GROWSDOWN, marked
/// VM_STACK_INCOMPLETE_SETUP as exec's temporary stack) is populated, then
/// shifted down by `shift` pages with relocate_vma_down(), as
/// setup_arg_pages() does, while its folios are migrated.
pub(crate) struct ExecStack {
    top: usize,
    len: usize,
    shift: usize,
}

crate::scenario_params! {
    /// Parameters of `exec_stack_migrate`.
    pub(crate) struct ExecStackParams {
        shift: 16, 1..=4096, "pages the stack is shifted down";
        park: 1, 0..=1, "hold the window open at move_page_tables()";
    }
}

crate::scenario_params! {
    /// Parameters of `mremap_merge_migrate`.
    pub(crate) struct MremapParams {
        park: 0, 0..=1, "hold the window open at move_page_tables()";
        probe: 1, 0..=1, "even rounds: own rmap_walk across the merged move";
    }
}

/// Where the temporary stacks live: far below the mmap area, with nothing
/// mapped underneath, so relocate_vma_down() has room.
const STACK_TOP: usize = 0x6000_0000_0000;

impl MoveKind for ExecStack {
    type Params = ExecStackParams;

    fn park(p: &ExecStackParams) -> bool {
        p.park != 0
    }

    fn setup(_run: &RunShared, p: &ExecStackParams, _mm: &MmUse<'_>, pages: usize) -> Result<Self> {
        Ok(Self {
            top: STACK_TOP,
            len: pages * PAGE_SIZE,
            shift: p.shift as usize * PAGE_SIZE,
        })
    }

    fn prepare(
        &self,
        r: u64,
        run: &RunShared,
        mm: &MmUse<'_>,
        buf: &mut [u8],
    ) -> Result<(usize, usize, u64)> {
        let base = self.top - self.len;
        let got = mm.mmap_anon_flags(base, self.len, true)?;
        if got != base {
            return Err(EEXIST);
        }
        mm.set_temp_stack(base, true)?;
        checkers::write_range(mm, buf, base, self.len / PAGE_SIZE, run.seed, 0, r)?;
        Ok((base, 0, r))
    }

    fn dst(&self, _r: u64, src: usize) -> usize {
        src - self.shift
    }

    fn do_move(&self, _r: u64, mm: &MmUse<'_>, src: usize) -> Result {
        mm.relocate_vma_down(src, self.shift)
    }

    fn cleanup(&self, _r: u64, mm: &MmUse<'_>, dst: usize) -> Result {
        mm.munmap(dst, self.len)
    }
}
