// SPDX-License-Identifier: GPL-2.0

//! `mix`: seeded random operations on shared ranges of one test mm, a
//! shadow model of what every page must look like, and checkpoints that
//! compare the two (rcutorture-style random engine, syzkaller-style enabled
//! ops; the oracles are mmtorture's in-kernel checkers).
//!
//! # Workers
//! One *mover* applies **layout ops** (they change where data lives, or
//! what it is) and keeps the model exact: it is the only writer of the
//! model, and the model mutex is held across each layout op. Two *churn*
//! workers apply **content-preserving ops** (migration, rmap probes, GUP
//! pins, LRU isolation, madvise hints) to whatever is there, racing the
//! mover and each other without taking the model lock, so the races that
//! matter are not serialised. The one exception, `pin_write`, takes the
//! model lock only for its final write through the pinned page.
//!
//! # Ranges
//! - `ranges` anonymous ranges of two halves (range 0 THP-sized, 2 MiB
//!   aligned halves of 512 pages; the others `pages` pages per half). The
//!   upper half moves away (mremap) and back, where copy_vma() merges it
//!   into the lower half's vma (seed 004's shape).
//! - one private COW mapping of a shmem file, MAP_LOCKED (seed 002's shape).
//! - one exec-style temporary stack, recreated and shifted down by
//!   relocate_vma_down() (seed 000's shape).
//!
//! # Model
//! Per page: absent (no pte), zero (present, zero-filled: populated by
//! mlock/MAP_LOCKED/collapse), or a data generation (present, holding
//! `pattern(seed, page id, gen)`). Per range: where its halves are, whether
//! it is VM_LOCKED, which part is read-only.
//!
//! # Checkpoints
//! Every `check_ms`, and right after every mlock(2)/munlock(2)/mlock2(2)
//! op, the mover holds an [`engine::Checkpoint`]: the churners
//! park between ops (holding nothing), LRU and mlock batches are drained,
//! and every model page is checked: its pte agrees with the model (absent:
//! none; otherwise present, never a migration entry; never writable in a
//! span mprotect()ed read-only), it holds the model's data, rmap_walk finds exactly its one mapping and folio_mapcount is 1
//! (small and PMD-mapped folios), PG_mlocked is set in VM_LOCKED ranges
//! and clear elsewhere; folios unmapped by a truncation are not PG_mlocked;
//! NR_ISOLATED is back at its baseline. The engine's taint watch runs all
//! along.
//!
//! # Window widening
//! A layout move (mremap away/back, the stack shift) may *meet* a churner:
//! the mover announces the range; a churner isolates its folios and starts
//! migrate_pages() with its own allocator, which, after `k` folios were
//! unmapped, lets the mover in and waits until the mover is parked at the
//! [`ParkPoint`] (vma changed, no pte moved), then refuses the rest, so
//! migration's rmap walks (remove_migration_ptes) run inside the move's
//! window. Unmet moves park for a random hold (`hold_us`) while the
//! churners run free, and an `rmap_probe` that finds a move parked walks
//! the moving folio's rmap and lets the move go while it is between vmas.
//!
//! # Failure report
//! Every worker logs its last [`RING`] ops (time, op, range, argument,
//! result) in a ring; on the first violation the rings are attached to
//! `result`, oldest first, with the `run mix ...` reproducer line.

use crate::checkers::{self, Invariant, IsolatedBaseline, Violation, HPAGE_SIZE, PAGE_SIZE};
use crate::compat::EOPNOTSUPP; // not in 7.2's kernel crate (src/compat.rs)
use crate::engine::{Checkpoint, Counter, RunShared, Scenario, Text, WorkerCtx};
use crate::ffi::{
    self, FolioRef, IsolatedList, MlockTrace, MmUse, NewFolio, PageRef, ParkPoint, PteState,
    ShmemFile,
};
use core::fmt::Write;
use kernel::{
    mm::MmWithUser,
    new_mutex, new_spinlock,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Acquire, Atomic, Full, Relaxed, Release},
        Mutex, SpinLock,
    },
    time::{Delta, Instant, Monotonic},
};

crate::scenario_params! {
    /// Parameters of `mix`.
    pub(crate) struct MixParams {
        ops: ALL_OPS, 1..=ALL_OPS, "enabled ops, bit i = op i of the op table (README)";
        check_ms: 500, 10..=60_000, "ms between checkpoints";
        ranges: 3, 1..=8, "anonymous ranges (range 0: THP-sized)";
        park: 1, 0..=1, "moves park at move_page_tables() (meet a migration, or a random hold)";
        hold_us: 3000, 0..=1_000_000, "max random park hold";
        workers: 3, 2..=MAX_WORKERS as u64, "the mover and workers-1 churners";
        weights: 0x1111_1112_1122_1132, 0..=u64::MAX, "layout op weights, hex digit i = op i (0: off)";
        churn_weights: 0x31_1111_2111, 0..=0xff_ffff_ffff, "churn op weights, hex digit i = op 16+i (0: off)";
        expose: 0, 0..=15, "known 7.3.4 mlock bugs mix steers clear of unless asked (docs/findings): bit 0 lets the CPU shuffle move the mover inside mlock(2)/munlock(2) (mlock_count overcount), bit 1 lets split run during them (PG_mlocked left on split pages), bit 2 locks a range's adjacent halves with a call each (the second call's vma merge: mlock_count overcount), bit 3 lets pin_write hold its reference during them (a failing THP migration's retries leave PG_mlocked)";
        trace_mlock: 0, 0..=1, "trace mlock_folio/munlock_folio calls; print the first mlock violation's folio's last calls";
    }
}

/// One entry of the op table.
struct OpDesc {
    name: &'static str,
    /// A layout op (the mover's) or a content-preserving one (churners').
    layout: bool,
}

/// The op table. Bit i of `ops=` enables op i.
const OPS: &[OpDesc] = &[
    OpDesc {
        name: "mremap_away",
        layout: true,
    },
    OpDesc {
        name: "mremap_back_merge",
        layout: true,
    },
    OpDesc {
        name: "madv_dontneed",
        layout: true,
    },
    OpDesc {
        name: "write",
        layout: true,
    },
    OpDesc {
        name: "mprotect_split",
        layout: true,
    },
    OpDesc {
        name: "mlock_toggle",
        layout: true,
    },
    OpDesc {
        name: "munmap_remap",
        layout: true,
    },
    OpDesc {
        name: "truncate",
        layout: true,
    },
    OpDesc {
        name: "stack_shift",
        layout: true,
    },
    OpDesc {
        name: "madv_collapse",
        layout: true,
    },
    OpDesc {
        name: "mremap_dontunmap",
        layout: true,
    },
    OpDesc {
        name: "mremap_resize",
        layout: true,
    },
    OpDesc {
        name: "madv_hugepage",
        layout: true,
    },
    OpDesc {
        name: "mlock_onfault",
        layout: true,
    },
    OpDesc {
        name: "punch_shared",
        layout: true,
    },
    OpDesc {
        name: "mm_teardown",
        layout: true,
    },
    OpDesc {
        name: "migrate",
        layout: false,
    },
    OpDesc {
        name: "migrate_mm",
        layout: false,
    },
    OpDesc {
        name: "rmap_probe",
        layout: false,
    },
    OpDesc {
        name: "pin_write",
        layout: false,
    },
    OpDesc {
        name: "isolate_hold",
        layout: false,
    },
    OpDesc {
        name: "madv_cold",
        layout: false,
    },
    OpDesc {
        name: "migrate_misplaced",
        layout: false,
    },
    OpDesc {
        name: "madv_pageout",
        layout: false,
    },
    OpDesc {
        name: "punch_hole",
        layout: false,
    },
    OpDesc {
        name: "split",
        layout: false,
    },
];

const NOPS: usize = 26;
const ALL_OPS: u64 = (1 << NOPS) - 1;
const _: () = assert!(OPS.len() == NOPS);
// The op table lists the layout ops first (`weights=` covers them).
const _: () = {
    let mut i = 0;
    while i < NOPS {
        assert!(OPS[i].layout == (i < NLAYOUT));
        i += 1;
    }
};

const OP_AWAY: usize = 0;
const OP_BACK: usize = 1;
const OP_DONTNEED: usize = 2;
const OP_WRITE: usize = 3;
const OP_PROTECT: usize = 4;
const OP_LOCK: usize = 5;
const OP_REMAP: usize = 6;
const OP_TRUNCATE: usize = 7;
const OP_STACK: usize = 8;
const OP_COLLAPSE: usize = 9;
const OP_DONTUNMAP: usize = 10;
const OP_RESIZE: usize = 11;
const OP_HUGEPAGE: usize = 12;
const OP_ONFAULT: usize = 13;
const OP_PUNCH_SHARED: usize = 14;
const OP_TEARDOWN: usize = 15;
const OP_MIGRATE: usize = 16;
const OP_MIGRATE_MM: usize = 17;
const OP_PROBE: usize = 18;
const OP_PIN: usize = 19;
const OP_ISOLATE: usize = 20;
const OP_COLD: usize = 21;
const OP_MISPLACED: usize = 22;
const OP_PAGEOUT: usize = 23;
const OP_PUNCH: usize = 24;
const OP_SPLIT: usize = 25;

const MADV_COLD: i32 = 20;
const MADV_PAGEOUT: i32 = 21;
const MADV_DONTNEED: i32 = 4;
const MADV_HUGEPAGE: i32 = 14;
const MADV_NOHUGEPAGE: i32 = 15;
const MADV_COLLAPSE: i32 = 25;

const MOVER: usize = 0;
/// The most workers (`workers=`): the mover and up to five churners.
const MAX_WORKERS: usize = 6;
const ROLES: &[&str] = &["mover", "churn", "churn", "churn", "churn", "churn"];
const _: () = assert!(ROLES.len() == MAX_WORKERS);
/// Layout ops are 0..NLAYOUT, churn ops NLAYOUT..NOPS (one hex digit of
/// `weights=` / `churn_weights=` each).
const NLAYOUT: usize = 16;

/// Ops logged per worker.
const RING: usize = 32;

/// Model page states besides a data generation (1..).
const ABSENT: u64 = 0;
const ZERO: u64 = u64::MAX;

/// Page ids: range `r`'s page `i` is `r * ID_STRIDE + i` (data patterns
/// differ across ranges).
const ID_STRIDE: usize = 1 << 12;

/// Where the ranges live (far from the mmap area: fixed addresses).
const HOME_BASE: usize = 0x5000_0000_0000;
const AWAY_BASE: usize = 0x5100_0000_0000;
const SLOT: usize = 16 << 20;
/// The stack is recreated below this top and shifted down.
const STACK_TOP: usize = 0x6000_0000_0000;
const STACK_PAGES: usize = 32;
/// The two mappings of the shared file.
const SHARED_A: usize = 0x5200_0000_0000;
const SHARED_B: usize = SHARED_A + SLOT;
/// Where `mm_teardown`'s second mm has its range, and how many pages.
const SECOND_BASE: usize = 0x5300_0000_0000;
const SECOND_PAGES: usize = 64;

/// How long a mover waits for a churner to meet its move, and a churner
/// for the mover to park.
/// (100 ms: a churner's step takes tens of ms under TCG; at 20 ms, three
/// announcements of a loaded 120 s run were met.)
const MEET_MS: i64 = 100;
/// How long a met move may stay parked (the churner opens it sooner).
const MET_HOLD_US: u64 = 200_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Two halves; the upper one moves away and back.
    Anon,
    /// MAP_PRIVATE|MAP_LOCKED of a shmem file, COW pages.
    Cow,
    /// exec's temporary stack, shifted down.
    Stack,
    /// One shmem file mapped MAP_SHARED twice (`lower`, `upper`): each
    /// page is the page cache's, mapped in neither, one or both.
    Shared,
}

/// `mm_teardown`'s second mm and the address of its range.
type Second = (ARef<MmWithUser>, usize);

/// A range as the churners see it: published addresses, lock-free.
struct Shared {
    kind: Kind,
    /// Pages per half (Anon), or in all (Cow, Stack).
    half: usize,
    /// Where the lower half (or the whole range) is; 0 if not mapped.
    lower: Atomic<usize>,
    /// Where the upper half is (Anon); 0 if not mapped.
    upper: Atomic<usize>,
    /// Layout generation: odd while a layout op changes the range.
    gen: Atomic<u64>,
    /// The mover is in (or about to enter) mlock(2)/munlock(2)/mlock2(2)
    /// of the range, and churners in an op these calls must not overlap
    /// (`split` of one of its folios, `pin_write` holding a reference on
    /// one): a Dekker pair, [`Shared::mlock_window`] and
    /// [`Shared::enter_churn`].
    mlocking: Atomic<bool>,
    churning: Atomic<u32>,
}

impl Shared {
    /// The mover's side: announces an mlock call on the range, then waits
    /// until no churner is in an op it must not overlap. Until the window
    /// is dropped, [`Shared::enter_churn`] turns such ops away.
    fn mlock_window(&self) -> MlockWindow<'_> {
        self.mlocking.store(true, Relaxed);
        // Full barrier, then look: `enter_churn` does the mirror image.
        self.churning.fetch_add(0, Full);
        while self.churning.load(Acquire) != 0 {
            ffi::cond_resched();
        }
        MlockWindow(self)
    }

    /// A churner's side: counts itself in, full barrier, then looks at the
    /// mover; `None` (and counted out again) if an mlock call is on.
    fn enter_churn(&self) -> Option<ChurnHold<'_>> {
        self.churning.fetch_add(1, Full);
        if self.mlocking.load(Acquire) {
            self.churning.fetch_sub(1, Release);
            return None;
        }
        Some(ChurnHold(self))
    }
}

/// The mover's mlock call window on a range (see [`Shared::mlock_window`]).
struct MlockWindow<'a>(&'a Shared);

impl Drop for MlockWindow<'_> {
    fn drop(&mut self) {
        self.0.mlocking.store(false, Release);
    }
}

/// A churner's op the mover's mlock calls wait for (see
/// [`Shared::enter_churn`]).
struct ChurnHold<'a>(&'a Shared);

impl Drop for ChurnHold<'_> {
    fn drop(&mut self) {
        self.0.churning.fetch_sub(1, Release);
    }
}

/// A range as the mover (model owner) sees it.
struct RangeModel {
    /// One state per page (lower half first for Anon).
    pages: KVec<u64>,
    locked: bool,
    /// Locked by mlock2(MLOCK_ONFAULT): nothing populated.
    onfault: bool,
    /// Pages that were mapped when mlock(2) locked the range, not unmapped
    /// since: their PG_mlocked is not guaranteed (see `check_range`).
    unsure: KVec<bool>,
    /// Read-only pages of the lower half: (first, count).
    ro: Option<(usize, usize)>,
    away: bool,
}

/// The shadow model, behind one mutex (see the module doc).
struct Model {
    ranges: KVec<RangeModel>,
    next_gen: u64,
    /// Folios a truncation unmapped, checked at the next checkpoint.
    truncated: KVec<FolioRef>,
    /// Folios of torn-down second mms, checked at the next checkpoint.
    orphans: KVec<FolioRef>,
    last_check: Instant<Monotonic>,
    /// The op rings were attached to the result already.
    reported: bool,
}

/// Per-op counts.
struct OpStat {
    done: Atomic<u64>,
    failed: Atomic<u64>,
    /// The errno of the last failure.
    errno: Atomic<i32>,
}

/// A worker's op ring: entries (time ms, packed op) written only by the
/// worker, read at checkpoints (worker parked) and at the end.
struct Ring {
    head: Atomic<u64>,
    at: [Atomic<u64>; RING],
    what: [Atomic<u64>; RING],
}

/// The move being announced to the churners (window widening).
struct Meet {
    /// Range of the announced move + 1 (0: none).
    range: Atomic<usize>,
    /// Announcements so far; a churner claims one by storing it here.
    epoch: Atomic<u64>,
    claimed: Atomic<u64>,
    /// Set by the claiming churner once `k` folios are unmapped.
    go: Atomic<u64>,
    /// What the churner waits for after `go`: the mover parked in the
    /// move (`MEET_MOVE`), or its op done (`MEET_DONE`: an munmap).
    kind: Atomic<u32>,
    /// The epoch whose layout op is done.
    done: Atomic<u64>,
    /// The announced move: from, to, bytes (MEET_PROBE).
    src: Atomic<usize>,
    dst: Atomic<usize>,
    len: Atomic<usize>,
}

const MEET_MOVE: u32 = 0;
const MEET_DONE: u32 = 1;
/// A churner walks the rmap of a moving folio across the parked move.
const MEET_PROBE: u32 = 2;

pub(crate) struct Mix {
    params: MixParams,
    seed: u64,
    shared: KVec<Shared>,
    model: Pin<KBox<Mutex<Model>>>,
    file: ShmemFile,
    /// The shared range's file.
    sfile: ShmemFile,
    /// `mm_teardown`'s second mm while it is announced: the mm and its
    /// range (churners take a reference to isolate its folios).
    second: Pin<KBox<SpinLock<Option<Second>>>>,
    park: Option<ParkPoint>,
    check: Checkpoint,
    isolated: IsolatedBaseline,
    stats: [OpStat; NOPS],
    rings: [Ring; MAX_WORKERS],
    meet: Meet,
    /// `trace_mlock=1`: the mlock call trace, printed once per run.
    mltrace: Option<MlockTrace>,
    mltrace_dumped: Atomic<bool>,
}

/// The pages of a range, for the checkers and churners: (address of page
/// 0 of each part, pages in it). Anon: lower and upper half.
fn parts(s: &Shared) -> [(usize, usize); 2] {
    match s.kind {
        Kind::Anon | Kind::Shared => [
            (s.lower.load(Acquire), s.half),
            (s.upper.load(Acquire), s.half),
        ],
        _ => [(s.lower.load(Acquire), s.half), (0, 0)],
    }
}

/// The runs (address, pages) one mlock(2)/munlock(2)/mlock2(2) op on anon
/// range `s` makes a call each, from [`parts`]: both halves in one call
/// when the upper half sits right after the lower one, unless `expose`
/// (the `expose=` parameter) has bit 2. Two calls split the vma at the
/// first and merge the second half into the first's vma, and that merge
/// is a 7.3.4 kernel bug's window: the merged vma is VM_LOCKED before
/// mlock_vma_pages_range() sets VM_IO, so a migration that ends then
/// mlocks its new folio and the walk counts it again (mlock_count 2,
/// docs/findings/2026-12-02-mlock-merge-window-double-count.md).
fn lock_runs(s: &Shared, expose: u64) -> impl Iterator<Item = (usize, usize)> {
    let [lo, up] = parts(s);
    let one = expose & 4 == 0 && lo.0 != 0 && up.0 == lo.0 + lo.1 * PAGE_SIZE;
    let runs = match one {
        true => [(lo.0, lo.1 + up.1), (0, 0)],
        false => [lo, up],
    };
    runs.into_iter().filter(|&(_, n)| n != 0)
}

impl Mix {
    fn enabled(&self, op: usize) -> bool {
        self.params.ops & (1 << op) != 0 && self.weight(op) != 0
    }

    /// Op `op`'s weight in its class (`weights=` / `churn_weights=`).
    fn weight(&self, op: usize) -> u64 {
        match op < NLAYOUT {
            true => (self.params.weights >> (4 * op)) & 0xf,
            false => (self.params.churn_weights >> (4 * (op - NLAYOUT))) & 0xf,
        }
    }

    fn log(&self, w: &WorkerCtx<'_>, op: usize, range: usize, arg: u64, res: &Result) {
        let stat = &self.stats[op];
        let code: i32 = match res {
            Ok(()) => {
                stat.done.add(1, Relaxed);
                0
            }
            Err(e) => {
                stat.failed.add(1, Relaxed);
                stat.errno.store(e.to_errno(), Relaxed);
                e.to_errno()
            }
        };
        let ring = &self.rings[w.role];
        let h = ring.head.load(Relaxed);
        let i = (h % RING as u64) as usize;
        ring.at[i].store(w.run.elapsed_ms(), Relaxed);
        let packed = (op as u64)
            | ((range as u64 & 0xff) << 8)
            | (u64::from(code as u16) << 16)
            | ((arg & 0xffff_ffff) << 32);
        ring.what[i].store(packed, Relaxed);
        ring.head.store(h + 1, Release);
    }

    /// The op rings, oldest entry first, as `result` lines.
    fn write_rings(&self, t: &mut Text) {
        let nr = self.params.workers as usize;
        for (wi, ring) in self.rings.iter().enumerate().take(nr) {
            let h = ring.head.load(Acquire);
            let _ = writeln!(
                t,
                "oplog {} (worker {wi}, last {} of {h} ops):",
                ROLES[wi],
                h.min(RING as u64)
            );
            for n in h.saturating_sub(RING as u64)..h {
                let i = (n % RING as u64) as usize;
                let p = ring.what[i].load(Relaxed);
                let op = (p & 0xff) as usize;
                let code = ((p >> 16) & 0xffff) as u16 as i16;
                let _ = writeln!(
                    t,
                    "  {:>8} ms {:<18} range={} arg={:#x} ret={}",
                    ring.at[i].load(Relaxed),
                    OPS.get(op).map_or("?", |o| o.name),
                    (p >> 8) & 0xff,
                    p >> 32,
                    code
                );
            }
        }
    }

    /// Publishes per-op counts as status lines.
    fn publish_stats(&self, run: &RunShared) {
        run.set_extra(|t| {
            let _ = writeln!(t, "checkpoints: {}", self.check.count());
            for (i, o) in OPS.iter().enumerate() {
                let s = &self.stats[i];
                let _ = write!(
                    t,
                    "op_{}: done {} failed {}",
                    o.name,
                    s.done.load(Relaxed),
                    s.failed.load(Relaxed)
                );
                match s.errno.load(Relaxed) {
                    0 => {
                        let _ = writeln!(t);
                    }
                    e => {
                        let _ = writeln!(t, " (last errno {e})");
                    }
                }
            }
        });
    }

    /// A random enabled op of the given class, drawn by weight.
    fn pick(&self, w: &mut WorkerCtx<'_>, layout: bool) -> Option<usize> {
        let class = || {
            OPS.iter()
                .enumerate()
                .filter(move |(i, o)| o.layout == layout && self.enabled(*i))
                .map(|(i, _)| (i, self.weight(i)))
        };
        let total: u64 = class().map(|(_, wt)| wt).sum();
        if total == 0 {
            return None;
        }
        let mut x = w.rng.below(total);
        for (i, wt) in class() {
            if x < wt {
                return Some(i);
            }
            x -= wt;
        }
        None
    }

    fn seq_begin(s: &Shared) {
        s.gen.fetch_add(1, Release);
    }

    fn seq_end(s: &Shared) {
        s.gen.fetch_add(1, Release);
    }

    /// Data generation for a new write.
    fn new_gen(m: &mut Model) -> u64 {
        m.next_gen += 1;
        m.next_gen
    }
}

// ------------------------------------------------------------ layout ops

impl Mix {
    fn anon_home(r: usize) -> usize {
        HOME_BASE + r * SLOT
    }

    fn anon_away(r: usize) -> usize {
        AWAY_BASE + r * SLOT
    }

    /// A move of `len` bytes from `src` to `dst` (mremap), or the stack
    /// shift (`shift` != 0), with the park point: met by a churner's
    /// migration, or held for a random time.
    fn parked_move(
        &self,
        w: &mut WorkerCtx<'_>,
        mm: &MmUse<'_>,
        r: usize,
        (src, dst, len): (usize, usize, usize),
        f: impl FnOnce(&MmUse<'_>) -> Result,
    ) -> Result {
        let Some(park) = &self.park else {
            return f(mm);
        };
        let entered = park.entered();
        // No probe of exec's stack shift: rmap cannot find a temporary
        // stack's ptes while they move (the expanded vma's pgoff already
        // points at the destination); the kernel makes rmap walkers skip
        // such vmas instead (VM_STACK_INCOMPLETE_SETUP, seed 000's fix).
        let stack = self.shared[r].kind == Kind::Stack;
        let kind = match w.rng.below(4) {
            0 if self.enabled(OP_PROBE) && !stack => MEET_PROBE,
            0 | 1 => MEET_MOVE,
            _ => MEET_DONE,
        };
        // A move back merges (copy_vma() into the lower half's vma, seed
        // 004's shape, where the dst vma comes first in rmap order): probe
        // it 3 times in 4 (a quarter stays with the other kinds).
        let merge = self.shared[r].kind == Kind::Anon && dst < src;
        let kind = match merge && kind != MEET_PROBE && self.enabled(OP_PROBE) {
            true if w.rng.below(3) != 0 => MEET_PROBE,
            _ => kind,
        };
        self.meet.src.store(src, Relaxed);
        self.meet.dst.store(dst, Relaxed);
        self.meet.len.store(len, Relaxed);
        let met = kind != MEET_DONE && self.announce(w, r, kind).is_some();
        let hold = if met {
            // The churner opens the gate once its rmap walks are done.
            MET_HOLD_US
        } else {
            w.rng.below(self.params.hold_us + 1)
        };
        park.hold_us(hold);
        park.close(true);
        park.arm(true);
        let res = f(mm);
        park.arm(false);
        park.close(false);
        w.run.set_count(Counter::ParkEntries, park.entered());
        w.run.set_count(Counter::Timeouts, park.timeouts());
        if met && park.entered() != entered {
            w.run.count(Counter::Overlaps, 1);
        }
        res
    }

    /// Announces a layout op on range `r` to the churners and waits (up to
    /// MEET_MS) until one has part of the range's folios unmapped for
    /// migration (`go`). Returns the epoch if one did.
    fn announce(&self, w: &WorkerCtx<'_>, r: usize, kind: u32) -> Option<u64> {
        let epoch = self.meet.epoch.load(Relaxed) + 1;
        self.meet.kind.store(kind, Relaxed);
        self.meet.range.store(r + 1, Release);
        self.meet.epoch.store(epoch, Release);
        let t0 = Instant::<Monotonic>::now();
        let mut met = None;
        while t0.elapsed().as_millis() < MEET_MS && !w.should_stop() {
            let go = self.meet.go.load(Acquire);
            if go == epoch || go == epoch | NOT_MET {
                met = (go == epoch).then_some(epoch);
                break;
            }
            w.nap(Delta::from_micros(100));
        }
        self.meet.range.store(0, Release);
        met
    }

    /// mremap of range `r`'s upper half away (`away`) or back home, where
    /// copy_vma() merges it into the lower half's vma. `dontunmap` (away
    /// only): MREMAP_DONTUNMAP, the old place stays mapped, empty (the move
    /// back replaces it: MREMAP_FIXED unmaps what is at its destination).
    fn op_move_upper(
        &self,
        w: &mut WorkerCtx<'_>,
        mm: &MmUse<'_>,
        m: &mut Model,
        r: usize,
        (away, dontunmap): (bool, bool),
    ) -> Result {
        let s = &self.shared[r];
        if m.ranges[r].away == away || (away && s.lower.load(Relaxed) == 0) {
            return Err(EAGAIN);
        }
        let len = s.half * PAGE_SIZE;
        let dst = match away {
            true => Self::anon_away(r),
            false => Self::anon_home(r) + len,
        };
        let src = s.upper.load(Relaxed);
        Self::seq_begin(s);
        let res = self.parked_move(w, mm, r, (src, dst, len), |mm| match dontunmap {
            true => mm.mremap_dontunmap(src, len, dst),
            false => mm.mremap_fixed(src, len, dst),
        });
        if res.is_ok() {
            s.upper.store(dst, Release);
            m.ranges[r].away = away;
        }
        Self::seq_end(s);
        res
    }

    /// A random run of pages in range `r`: (address, first page, count).
    fn random_run(&self, w: &mut WorkerCtx<'_>, r: usize, max: usize) -> (usize, usize, usize) {
        let s = &self.shared[r];
        let total = match s.kind {
            Kind::Anon => 2 * s.half,
            _ => s.half,
        };
        let first = w.rng.below(total as u64) as usize;
        let part_end = if s.kind == Kind::Anon && first < s.half {
            s.half
        } else {
            total
        };
        let n = 1 + w.rng.below((part_end - first).min(max) as u64) as usize;
        (self.page_addr(r, first), first, n)
    }

    /// The address of range `r`'s page `i`, 0 if that part is not mapped.
    fn page_addr(&self, r: usize, i: usize) -> usize {
        let s = &self.shared[r];
        let (base, off) = if s.kind == Kind::Anon && i >= s.half {
            (s.upper.load(Acquire), i - s.half)
        } else {
            (s.lower.load(Acquire), i)
        };
        if base == 0 {
            0
        } else {
            base + off * PAGE_SIZE
        }
    }

    fn op_dontneed(
        &self,
        w: &mut WorkerCtx<'_>,
        mm: &MmUse<'_>,
        m: &mut Model,
        r: usize,
    ) -> Result {
        if self.shared[r].lower.load(Relaxed) == 0 {
            return Err(EAGAIN);
        }
        let (addr, first, n) = self.random_run(w, r, 64);
        if addr == 0 {
            return Err(EAGAIN);
        }
        let s = &self.shared[r];
        Self::seq_begin(s);
        let res = match (
            mm.madvise(addr, n * PAGE_SIZE, MADV_DONTNEED),
            m.ranges[r].locked,
        ) {
            // madvise(2): EINVAL on a VM_LOCKED range (MADV_DONTNEED_LOCKED
            // is the advice that zaps one). The model keeps the pages: a
            // kernel that zapped them fails the checkpoint's page-present.
            (Err(e), true) if e == EINVAL => Ok(()),
            (res, true) => res,
            (res, false) => {
                if res.is_ok() {
                    for p in &mut m.ranges[r].pages[first..first + n] {
                        *p = ABSENT;
                    }
                }
                res
            }
        };
        Self::seq_end(s);
        res
    }

    fn op_write(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, m: &mut Model, r: usize) -> Result {
        if self.shared[r].lower.load(Relaxed) == 0 {
            return Err(EAGAIN);
        }
        let (_, first, n) = self.random_run(w, r, 16);
        let s = &self.shared[r];
        Self::seq_begin(s);
        let mut res = Ok(());
        for i in first..first + n {
            if let (Kind::Anon, Some((a, c))) = (s.kind, m.ranges[r].ro) {
                if i >= a && i < a + c {
                    continue;
                }
            }
            // The shared file's page: through either of its mappings.
            let addr = match (s.kind, w.rng.below(2)) {
                (Kind::Shared, 1) => s.upper.load(Relaxed) + i * PAGE_SIZE,
                _ => self.page_addr(r, i),
            };
            let g = Self::new_gen(m);
            res = checkers::write_pattern(mm, &mut w.buf, addr, self.seed, r * ID_STRIDE + i, g);
            if res.is_err() {
                break;
            }
            m.ranges[r].pages[i] = g;
        }
        if s.half * PAGE_SIZE >= HPAGE_SIZE {
            self.learn_thp_faults(mm, m, r);
        }
        Self::seq_end(s);
        res
    }

    /// A write fault in a THP-sized range may map a whole THP (zero-filled
    /// but for the written page), or a small page: both are correct, so
    /// the model takes what the fault did. Absent pages now PMD-mapped are
    /// zero-filled.
    fn learn_thp_faults(&self, mm: &MmUse<'_>, m: &mut Model, r: usize) {
        let s = &self.shared[r];
        let guard = mm.mm().mmap_read_lock();
        for (part, (addr, n)) in parts(s).into_iter().enumerate() {
            if addr == 0 || n == 0 {
                continue;
            }
            let pages = &mut m.ranges[r].pages[part * s.half..part * s.half + n];
            checkers::scan_ptes(mm.mm(), &guard, addr, n, |i, _, l| {
                if pages[i] == ABSENT && matches!(l.state, PteState::Present { huge: true, .. }) {
                    pages[i] = ZERO;
                }
            });
        }
    }

    fn op_protect(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, m: &mut Model, r: usize) -> Result {
        let s = &self.shared[r];
        // A VM_LOCKED range too (not an ONFAULT one: making it writable
        // again populates it, which the model does not follow): its ptes
        // are all present, so a met migration has the most entries to
        // change.
        if s.kind != Kind::Anon || m.ranges[r].onfault {
            return Err(EAGAIN);
        }
        let lower = s.lower.load(Relaxed);
        // Met: mprotect() changes migration entries (the migration
        // restores them once it is done).
        let met = self.maybe_meet(w, r);
        Self::seq_begin(s);
        let res = match m.ranges[r].ro {
            Some((a, c)) => mm
                .mprotect(lower + a * PAGE_SIZE, c * PAGE_SIZE, true)
                .map(|()| {
                    m.ranges[r].ro = None;
                }),
            None => {
                let a = 1 + w.rng.below(s.half as u64 - 2) as usize;
                let c = 1 + w.rng.below((s.half - a - 1) as u64) as usize;
                mm.mprotect(lower + a * PAGE_SIZE, c * PAGE_SIZE, false)
                    .map(|()| {
                        m.ranges[r].ro = Some((a, c));
                    })
            }
        };
        Self::seq_end(s);
        self.end_meet(w, met);
        res
    }

    /// mlock/munlock of range `r` (both halves, wherever they are). A range
    /// locked by mlock2(MLOCK_ONFAULT) is, half the time, locked again by
    /// mlock(2) (populated; its vmas were VM_LOCKED already, so
    /// mlock_fixup() must not walk them again: "mlocking twice would be
    /// wrong", the mlock-count check), else unlocked.
    fn op_lock(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, m: &mut Model, r: usize) -> Result {
        let s = &self.shared[r];
        if s.kind != Kind::Anon || m.ranges[r].ro.is_some() || s.lower.load(Relaxed) == 0 {
            return Err(EAGAIN);
        }
        let rm = &m.ranges[r];
        let lock = !rm.locked || (rm.onfault && w.rng.below(2) == 0);
        let relock = rm.locked && lock;
        // Met: the migration is let go as mlock(2) starts, so its
        // remove_migration_ptes() runs while mlock_vma_pages_range() walks
        // the range (VM_LOCKED already set: mlock_vma_folio() must leave
        // those folios to the walk, or they are mlocked twice).
        let met = self.maybe_meet(w, r);
        self.end_meet(w, met);
        Self::seq_begin(s);
        let res = self.mlock_call(w, || {
            lock_runs(s, self.params.expose)
                .try_for_each(|(addr, n)| mm.mlock(addr, n * PAGE_SIZE, lock))
        });
        // On failure the mover remaps the range (the model cannot say
        // what a partial mlock populated).
        if res.is_ok() {
            let rm = &mut m.ranges[r];
            rm.locked = lock;
            rm.onfault = false;
            if lock && !relock {
                for (u, p) in rm.unsure.iter_mut().zip(rm.pages.iter()) {
                    *u = *p != ABSENT;
                }
                // The lower half's pages populated by the first mlock(2)
                // are exposed to the second one's walk: once the halves'
                // vmas merge, mlock_vma_pages_range() sets VM_IO on the
                // whole vma while it walks only the upper half, and a
                // migration of a lower-half folio that ends then leaves
                // the new folio unlocked (mlock_vma_folio() skips VM_IO
                // vmas; an undercount mm/mlock.c accepts: vmscan restores
                // it). Seen: clean bench seed 16, 740 ms, migrate_mm.
                if s.upper.load(Relaxed) != 0 {
                    for u in rm.unsure[..s.half].iter_mut() {
                        *u = true;
                    }
                }
            }
            if lock {
                // mlock populates: absent pages are zero-filled now.
                for p in rm.pages.iter_mut().filter(|p| **p == ABSENT) {
                    *p = ZERO;
                }
            }
        }
        Self::seq_end(s);
        res
    }

    /// Runs a range's mlock(2)/munlock(2)/mlock2(2) calls `f` clear of
    /// 7.3.4 kernel bugs, unless `expose=` asks for them. Bit 0 is this
    /// function's: clear, the CPU shuffle is held off the mover (moved
    /// mid-walk, mlock(2) leaves its per-CPU batch behind and mlock_count
    /// is overcounted:
    /// docs/findings/2026-12-02-mlock-count-overcount-stale-batch.md).
    /// Bits 1 and 3 are [`Mix::mlock_window`]'s, bit 2 [`lock_runs`]'s.
    fn mlock_call(&self, w: &WorkerCtx<'_>, f: impl FnOnce() -> Result) -> Result {
        match self.params.expose & 1 {
            0 => w.on_this_cpu(f),
            _ => f(),
        }
    }

    /// The window of an mlock op on range `r`, opened by the mover before
    /// it takes the model lock (a `pin_write` holds its reference until
    /// it has the model lock), unless `expose=` has both bits:
    /// - bit 1 clear: no `split` of the range's folios in flight (a THP
    ///   split during munlock(2) leaves PG_mlocked on every page:
    ///   docs/findings/2026-12-02-munlock-vs-thp-split-strands-mlocked.md);
    /// - bit 3 clear: no `pin_write` reference on the range's folios (a
    ///   migration that fails on it unmaps and restores a THP again and
    ///   again; one cycle across munlock(2)'s flag change leaves it
    ///   PG_mlocked:
    ///   docs/findings/2026-12-02-thp-head-mlocked-after-munlock.md).
    fn mlock_window(&self, op: usize, r: usize) -> Option<MlockWindow<'_>> {
        let both = 2 | 8;
        let lock = matches!(op, OP_LOCK | OP_ONFAULT);
        (lock && self.params.expose & both != both).then(|| self.shared[r].mlock_window())
    }

    /// munmap + fresh mmap of range `r` (its anon_vma goes away: the last
    /// reference of folios a churner may be migrating, seed 003's shape).
    /// Half the time met by a churner's migration of the range: the munmap
    /// then runs while `k` of its folios are unmapped for migration.
    fn op_remap(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, m: &mut Model, r: usize) -> Result {
        let s = &self.shared[r];
        let met = self.maybe_meet(w, r);
        Self::seq_begin(s);
        let res = self.remap(mm, m, r);
        Self::seq_end(s);
        self.end_meet(w, met);
        res
    }

    /// Half the time, announces a layout op on range `r` (`MEET_DONE`): a
    /// churner that meets it has `k` of the range's folios unmapped for
    /// migration (migration entries in their ptes) when the op starts.
    fn maybe_meet(&self, w: &mut WorkerCtx<'_>, r: usize) -> Option<u64> {
        match w.rng.below(2) {
            0 => self.announce(w, r, MEET_DONE),
            _ => None,
        }
    }

    /// Lets the churner that met the op finish its migration: it restores
    /// (remove_migration_ptes) what it unmapped.
    fn end_meet(&self, w: &WorkerCtx<'_>, met: Option<u64>) {
        if let Some(epoch) = met {
            self.meet.done.store(epoch, Release);
            w.run.count(Counter::Overlaps, 1);
        }
    }

    fn remap(&self, mm: &MmUse<'_>, m: &mut Model, r: usize) -> Result {
        let s = &self.shared[r];
        for (addr, n) in parts(s) {
            if addr != 0 {
                mm.munmap(addr, n * PAGE_SIZE)?;
            }
        }
        if s.kind == Kind::Anon {
            // What an MREMAP_DONTUNMAP left at the upper half's home.
            mm.munmap(Self::anon_home(r), 2 * s.half * PAGE_SIZE)?;
        }
        s.lower.store(0, Release);
        s.upper.store(0, Release);
        let rm = &mut m.ranges[r];
        rm.onfault = false;
        if s.kind != Kind::Shared {
            // (The shared file keeps its data: only the ptes go.)
            for p in rm.pages.iter_mut() {
                *p = ABSENT;
            }
        }
        for u in rm.unsure.iter_mut() {
            *u = false;
        }
        rm.ro = None;
        rm.away = false;
        match s.kind {
            Kind::Anon => {
                let home = Self::anon_home(r);
                let got = mm.mmap_anon(home, 2 * s.half * PAGE_SIZE)?;
                if got != home {
                    return Err(EEXIST);
                }
                rm.locked = false;
                s.upper.store(home + s.half * PAGE_SIZE, Release);
                s.lower.store(home, Release);
            }
            Kind::Cow => {
                let got = mm.mmap_file_private(&self.file, s.half * PAGE_SIZE, true)?;
                // MAP_LOCKED populated every page: COW copies of the file's.
                for p in rm.pages.iter_mut() {
                    *p = ZERO;
                }
                s.lower.store(got, Release);
            }
            Kind::Stack => {}
            Kind::Shared => {
                let len = s.half * PAGE_SIZE;
                mm.mmap_file_shared_at(&self.sfile, SHARED_A, len)?;
                mm.mmap_file_shared_at(&self.sfile, SHARED_B, len)?;
                s.upper.store(SHARED_B, Release);
                s.lower.store(SHARED_A, Release);
            }
        }
        Ok(())
    }

    /// truncate(2) of the COW range's file to 0 and back: unmaps every COW
    /// page (even_cows); the folios are checked at the next checkpoint.
    fn op_truncate(&self, mm: &MmUse<'_>, m: &mut Model, r: usize) -> Result {
        let s = &self.shared[r];
        if s.kind != Kind::Cow || s.lower.load(Relaxed) == 0 {
            return Err(EAGAIN);
        }
        let kept = checkers::mapped_folios(mm.mm(), s.lower.load(Relaxed), s.half)?;
        Self::seq_begin(s);
        let res = self
            .file
            .truncate(0)
            .and_then(|()| self.file.truncate(s.half * PAGE_SIZE));
        if res.is_ok() {
            for p in m.ranges[r].pages.iter_mut() {
                *p = ABSENT;
            }
            for f in kept {
                if m.truncated.len() < 4096 {
                    m.truncated.push(f, GFP_KERNEL)?;
                }
            }
        }
        Self::seq_end(s);
        res
    }

    /// exec's stack setup: a fresh temporary stack below STACK_TOP, written,
    /// then shifted down by relocate_vma_down() (parked), then marked done.
    fn op_stack(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, m: &mut Model, r: usize) -> Result {
        let s = &self.shared[r];
        Self::seq_begin(s);
        let res = self.stack_cycle(w, mm, m, r);
        Self::seq_end(s);
        res
    }

    fn stack_cycle(
        &self,
        w: &mut WorkerCtx<'_>,
        mm: &MmUse<'_>,
        m: &mut Model,
        r: usize,
    ) -> Result {
        let s = &self.shared[r];
        let len = s.half * PAGE_SIZE;
        let old = s.lower.load(Relaxed);
        if old != 0 {
            mm.munmap(old, len)?;
            s.lower.store(0, Release);
        }
        for p in m.ranges[r].pages.iter_mut() {
            *p = ABSENT;
        }
        let base = STACK_TOP - len;
        if mm.mmap_anon_flags(base, len, true)? != base {
            return Err(EEXIST);
        }
        mm.set_temp_stack(base, true)?;
        for i in 0..s.half {
            let g = Self::new_gen(m);
            checkers::write_pattern(
                mm,
                &mut w.buf,
                base + i * PAGE_SIZE,
                self.seed,
                r * ID_STRIDE + i,
                g,
            )?;
            m.ranges[r].pages[i] = g;
        }
        s.lower.store(base, Release);
        let shift = (1 + w.rng.below(2 * s.half as u64) as usize) * PAGE_SIZE;
        let res = self.parked_move(w, mm, r, (base, base - shift, len), |mm| {
            mm.relocate_vma_down(base, shift)
        });
        // Moved or not, the stack is where the vma now starts.
        let at = if res.is_ok() { base - shift } else { base };
        s.lower.store(at, Release);
        mm.set_temp_stack(at, false)?;
        res
    }

    /// MADV_COLLAPSE of one half of range 0 (a THP each): absent ptes are
    /// filled with zeroes.
    fn op_collapse(
        &self,
        w: &mut WorkerCtx<'_>,
        mm: &MmUse<'_>,
        m: &mut Model,
        r: usize,
    ) -> Result {
        let s = &self.shared[r];
        // Either half (its pages `first..first + half` in the model).
        let (addr, first) = match w.rng.below(2) {
            0 => (s.lower.load(Relaxed), 0),
            _ => (s.upper.load(Relaxed), s.half),
        };
        if s.kind != Kind::Anon
            || s.half * PAGE_SIZE < HPAGE_SIZE
            || addr == 0
            || m.ranges[r].ro.is_some()
        {
            return Err(EAGAIN);
        }
        Self::seq_begin(s);
        let res = mm.madvise(addr, s.half * PAGE_SIZE, MADV_COLLAPSE);
        if res.is_ok() {
            for p in m.ranges[r].pages[first..first + s.half]
                .iter_mut()
                .filter(|p| **p == ABSENT)
            {
                *p = ZERO;
            }
        }
        Self::seq_end(s);
        res
    }

    /// mremap() shrinks range `r`'s upper half by a random tail, then grows
    /// it back in place: the tail's pages are unmapped (do_vmi_munmap, maybe
    /// met by a churner's migration of the range); the regrown part of a
    /// VM_LOCKED range is populated (zero-filled), unless MLOCK_ONFAULT.
    fn op_resize(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, m: &mut Model, r: usize) -> Result {
        let s = &self.shared[r];
        let upper = s.upper.load(Relaxed);
        if s.kind != Kind::Anon || upper == 0 {
            return Err(EAGAIN);
        }
        let len = s.half * PAGE_SIZE;
        let k = 1 + w.rng.below(s.half as u64 - 1) as usize;
        let met = self.maybe_meet(w, r);
        Self::seq_begin(s);
        let mut res = mm.mremap_resize(upper, len, len - k * PAGE_SIZE);
        if res.is_ok() {
            let rm = &mut m.ranges[r];
            let tail = 2 * s.half - k..2 * s.half;
            for p in &mut rm.pages[tail.clone()] {
                *p = ABSENT;
            }
            for u in &mut rm.unsure[tail.clone()] {
                *u = false;
            }
            // A failure here leaves the range short: the mover remaps it.
            res = mm.mremap_resize(upper, len - k * PAGE_SIZE, len);
            if res.is_ok() && rm.locked && !rm.onfault {
                for p in &mut rm.pages[tail] {
                    *p = ZERO;
                }
            }
        }
        Self::seq_end(s);
        self.end_meet(w, met);
        res
    }

    /// MADV_HUGEPAGE or MADV_NOHUGEPAGE on both halves of range 0 (the
    /// THP-sized one): vma flags only, content preserved; on the mover
    /// because it splits and merges the vmas its mremaps move.
    fn op_hugepage(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, r: usize) -> Result {
        let s = &self.shared[r];
        if s.kind != Kind::Anon || s.lower.load(Relaxed) == 0 {
            return Err(EAGAIN);
        }
        // NOHUGEPAGE a quarter of the time: it makes `madv_collapse`
        // fail (EINVAL) and the THP paths (mutation 103) need THPs.
        let advice = match w.rng.below(4) {
            0 => MADV_NOHUGEPAGE,
            _ => MADV_HUGEPAGE,
        };
        for (addr, n) in parts(s) {
            if addr != 0 {
                mm.madvise(addr, n * PAGE_SIZE, advice)?;
            }
        }
        Ok(())
    }

    /// mlock2(MLOCK_ONFAULT) of an anon range: VM_LOCKED, present pages
    /// mlocked by the walk, absent pages stay absent and are mlocked when a
    /// write faults them in (munlock: `mlock_toggle`). A range mlock(2)
    /// locked only becomes VM_LOCKONFAULT (no second walk: see `op_lock`).
    fn op_onfault(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, m: &mut Model, r: usize) -> Result {
        let s = &self.shared[r];
        if s.kind != Kind::Anon
            || m.ranges[r].onfault
            || m.ranges[r].ro.is_some()
            || s.lower.load(Relaxed) == 0
        {
            return Err(EAGAIN);
        }
        let relock = m.ranges[r].locked;
        let met = self.maybe_meet(w, r);
        self.end_meet(w, met);
        Self::seq_begin(s);
        let res = self.mlock_call(w, || {
            lock_runs(s, self.params.expose)
                .try_for_each(|(addr, n)| mm.mlock_onfault(addr, n * PAGE_SIZE))
        });
        if res.is_ok() {
            let rm = &mut m.ranges[r];
            rm.locked = true;
            rm.onfault = true;
            if !relock {
                for (u, p) in rm.unsure.iter_mut().zip(rm.pages.iter()) {
                    *u = *p != ABSENT;
                }
            }
        }
        Self::seq_end(s);
        res
    }

    /// fallocate(PUNCH_HOLE) of a random run of the shared file: its pages
    /// are unmapped from both mappings and freed; they read as zeroes now
    /// (the model's absent). Half the time met by a churner's migration of
    /// the range (the punch waits for the folio locks migration holds).
    fn op_punch_shared(&self, w: &mut WorkerCtx<'_>, m: &mut Model, r: usize) -> Result {
        let s = &self.shared[r];
        let (_, first, n) = self.random_run(w, r, 64);
        let met = self.maybe_meet(w, r);
        Self::seq_begin(s);
        let res = self.sfile.punch_hole(first * PAGE_SIZE, n * PAGE_SIZE);
        if res.is_ok() {
            for p in &mut m.ranges[r].pages[first..first + n] {
                *p = ABSENT;
            }
        }
        Self::seq_end(s);
        self.end_meet(w, met);
        res
    }

    /// A second mm is made, an anon range of it written, then announced;
    /// the churner that meets it isolates its folios, drops its mm
    /// reference and starts migrating them, and after `k` are unmapped the
    /// mover drops the last reference: exit_mmap() tears the whole mm down
    /// (its anon_vmas with it) while the churner's migration still holds
    /// the rest isolated and unmapped (seed 003's race, through exit). Its
    /// folios must all be released by the next checkpoint.
    fn op_teardown(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, m: &mut Model) -> Result {
        let mm2 = ffi::mm_create()?;
        let (seed, buf) = (self.seed, &mut w.buf);
        let base = mm.with_other(&mm2, |o| -> Result<usize> {
            let base = o.mmap_anon(SECOND_BASE, SECOND_PAGES * PAGE_SIZE)?;
            for i in 0..SECOND_PAGES {
                checkers::write_pattern(o, buf, base + i * PAGE_SIZE, seed, i, 1)?;
            }
            Ok(base)
        })??;
        let kept = checkers::mapped_folios(&mm2, base, SECOND_PAGES)?;
        // (Nothing is in the slot: the old value, dropped here, is None;
        // an mm is never dropped under the spinlock.)
        let old = self.second.lock().replace((mm2.clone(), base));
        drop(old);
        let met = self.announce(w, self.shared.len(), MEET_DONE);
        let slot = self.second.lock().take();
        drop(slot);
        // The last reference, unless the churner still holds its own.
        drop(mm2);
        self.end_meet(w, met);
        for f in kept {
            if m.orphans.len() < 4096 {
                m.orphans.push(f, GFP_KERNEL)?;
            }
        }
        Ok(())
    }

    fn mover(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let due = {
            let m = self.model.lock();
            m.last_check.elapsed().as_millis() as u64 >= self.params.check_ms
        };
        if due {
            self.checkpoint(w, mm)?;
        }
        let Some(op) = self.pick(w, true) else {
            w.nap(Delta::from_millis(1));
            return Ok(());
        };
        let cow = self.params.ranges as usize;
        let stack = cow + 1;
        let shared = stack + 1;
        let r = match op {
            OP_TRUNCATE => cow,
            OP_STACK => stack,
            OP_PUNCH_SHARED => shared,
            OP_TEARDOWN => shared + 1,
            OP_COLLAPSE | OP_HUGEPAGE => 0,
            // Range 0's THPs: mlock of a PMD-mapped folio is a path of
            // its own (mutation 103).
            OP_LOCK | OP_ONFAULT => self.thp_biased_range(w),
            // Anon, COW or shared.
            OP_WRITE | OP_REMAP => match w.rng.below(shared as u64) as usize {
                r if r == stack => shared,
                r => r,
            },
            _ => w.rng.below(cow as u64) as usize,
        };
        let window = self.mlock_window(op, r);
        let mut guard = self.model.lock();
        let m = &mut *guard;
        let res = match op {
            OP_AWAY => self.op_move_upper(w, mm, m, r, (true, false)),
            OP_BACK => self.op_move_upper(w, mm, m, r, (false, false)),
            OP_DONTUNMAP => self.op_move_upper(w, mm, m, r, (true, true)),
            OP_RESIZE => self.op_resize(w, mm, m, r),
            OP_HUGEPAGE => self.op_hugepage(w, mm, r),
            OP_ONFAULT => self.op_onfault(w, mm, m, r),
            OP_PUNCH_SHARED => self.op_punch_shared(w, m, r),
            OP_TEARDOWN => self.op_teardown(w, mm, m),
            OP_DONTNEED => self.op_dontneed(w, mm, m, r),
            OP_WRITE => self.op_write(w, mm, m, r),
            OP_PROTECT => self.op_protect(w, mm, m, r),
            OP_LOCK => self.op_lock(w, mm, m, r),
            OP_REMAP => self.op_remap(w, mm, m, r),
            OP_TRUNCATE => self.op_truncate(mm, m, r),
            OP_STACK => self.op_stack(w, mm, m, r),
            OP_COLLAPSE => self.op_collapse(w, mm, m, r),
            _ => Err(EAGAIN),
        };
        drop(guard);
        drop(window);
        if res == Err(EAGAIN) {
            // Not applicable to the range's current shape: not an op.
            return Ok(());
        }
        self.log(w, op, r, 0, &res);
        if res.is_err() && matches!(op, OP_LOCK | OP_ONFAULT | OP_PROTECT | OP_REMAP | OP_RESIZE) {
            // mlock/mprotect work vma by vma: one that failed half-way may
            // leave a range the model cannot describe (so may a resize
            // that shrank and did not grow back), so it is remapped
            // (an error here ends the run). The other ops leave the model
            // exact when they fail (a failed write did not update its
            // page, mremap and MADV_COLLAPSE undo themselves).
            let mut m = self.model.lock();
            Self::seq_begin(&self.shared[r]);
            let res = self.remap(mm, &mut m, r);
            Self::seq_end(&self.shared[r]);
            res?;
        }
        if res.is_ok() && matches!(op, OP_LOCK | OP_ONFAULT) {
            // An mlock(2)/munlock(2)/mlock2(2) is checked at once: the
            // churners' migrations rewrite mlock state (the new folio of
            // a migration is mlocked afresh by remove_migration_pte(), the
            // old one's PG_mlocked and mlock_count go with it), so an
            // overcount or a PG_mlocked left behind would be gone by a
            // later checkpoint (with one checkpoint every check_ms only,
            // mutation 105 was missed in 2 of 3 runs of 120 s and 103 took
            // up to 107 s; 105 alone with ops=lock|onfault was seen in
            // 1.9 s).
            self.checkpoint(w, mm)?;
        }
        Ok(())
    }
}

// ------------------------------------------------------- content-preserving ops

impl Mix {
    /// An anon range, range 0 (the THP-sized one) half the time.
    fn thp_biased_range(&self, w: &mut WorkerCtx<'_>) -> usize {
        match w.rng.below(2) {
            0 => 0,
            _ => w.rng.below(self.params.ranges) as usize,
        }
    }

    /// A random range for a churner (the stack and COW ranges included).
    fn churn_range(&self, w: &mut WorkerCtx<'_>) -> usize {
        w.rng.below(self.shared.len() as u64) as usize
    }

    /// isolate + migrate_pages (sync or async) of range `r`'s folios, with
    /// no mmap_lock held across the migration (as compaction). If the
    /// mover announced a move of `r`, meet it (see the module doc).
    fn op_migrate(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, r: usize) -> Result {
        let run = w.run;
        let to = w.rng.below(2) as i32;
        let epoch = self.meet.epoch.load(Acquire);
        let meet = self.meet.range.load(Acquire) == r + 1
            && (self.park.is_some() || self.meet.kind.load(Relaxed) == MEET_DONE)
            && epoch != 0
            && self.meet.claimed.xchg(epoch, Relaxed) != epoch;
        let mut lists = KVec::new();
        let mut isolated = 0;
        for (addr, n) in parts(&self.shared[r]) {
            if addr != 0 {
                let (list, k) = checkers::isolate_range(run, mm.mm(), addr, n)?;
                isolated += k;
                run.count(Counter::Isolated, k);
                lists.push(list, GFP_KERNEL)?;
            }
        }
        let mut ok = 0u64;
        for (li, list) in lists.iter_mut().enumerate() {
            let done = match meet && li == 0 {
                true => self.migrate_meeting(w, list, isolated, epoch, to),
                false => list.migrate_to(to, w.rng.below(2) == 0).1,
            };
            ok += u64::from(done);
        }
        if meet && self.meet.go.load(Acquire) != epoch {
            // Unblock a mover still waiting (too few folios to meet it).
            self.meet.go.store(epoch | NOT_MET, Release);
        }
        drop(lists);
        run.count(Counter::Migrated, ok);
        run.count(Counter::MigrateFailed, isolated.saturating_sub(ok));
        Ok(())
    }

    /// Meets `mm_teardown`: isolates the second mm's folios, drops the mm
    /// reference, and migrates them so that the mover's last mmput()
    /// (exit_mmap) runs once `k` of them are unmapped.
    fn migrate_second(&self, w: &mut WorkerCtx<'_>) -> Result {
        let epoch = self.meet.epoch.load(Acquire);
        if epoch == 0 || self.meet.claimed.xchg(epoch, Relaxed) == epoch {
            return Err(EAGAIN);
        }
        let got = self.second.lock().clone();
        let Some((mm2, base)) = got else {
            self.meet.go.store(epoch | NOT_MET, Release);
            return Err(EAGAIN);
        };
        let (mut list, isolated) = checkers::isolate_range(w.run, &mm2, base, SECOND_PAGES)?;
        drop(mm2);
        w.run.count(Counter::Isolated, isolated);
        let to = w.rng.below(2) as i32;
        let ok = self.migrate_meeting(w, &mut list, isolated, epoch, to);
        if self.meet.go.load(Acquire) != epoch {
            self.meet.go.store(epoch | NOT_MET, Release);
        }
        drop(list);
        w.run.count(Counter::Migrated, u64::from(ok));
        w.run.count(
            Counter::MigrateFailed,
            isolated.saturating_sub(u64::from(ok)),
        );
        Ok(())
    }

    fn migrate_meeting(
        &self,
        w: &mut WorkerCtx<'_>,
        list: &mut IsolatedList,
        isolated: u64,
        epoch: u64,
        to: i32,
    ) -> u32 {
        let k = 1 + w.rng.below(isolated.max(2) - 1);
        let park = self.park.as_ref();
        let entered = park.map_or(0, |p| p.entered());
        let kind = self.meet.kind.load(Relaxed);
        let mut calls = 0u64;
        let done = list
            .migrate_with(|| {
                calls += 1;
                if calls == k + 1 {
                    // k folios are unmapped: let the mover in, and wait
                    // until it is parked in move_page_tables() (a move) or
                    // done (an munmap).
                    self.meet.go.store(epoch, Release);
                    let t0 = Instant::<Monotonic>::now();
                    while t0.elapsed().as_millis() < MEET_MS * 10 {
                        let there = match kind {
                            MEET_MOVE => park.is_none_or(|p| p.entered() != entered),
                            _ => self.meet.done.load(Acquire) == epoch,
                        };
                        if there {
                            break;
                        }
                        w.nap(Delta::from_micros(50));
                    }
                }
                if calls <= k {
                    NewFolio::On(to)
                } else {
                    NewFolio::Refuse
                }
            })
            .1;
        if let Some(p) = park {
            p.close(false);
        }
        done
    }

    /// The module's own rmap_walk of a random mapped page. If a move is
    /// parked, probe the moving range: when the walk visits the
    /// destination first, let the move go and see that the walk still finds
    /// the page (seed 004's invariant); else just walk (exercise).
    fn op_probe(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, r: usize) -> Result {
        let (addr, _, _) = self.random_run(w, r, 1);
        if addr < PAGE_SIZE {
            return Err(EAGAIN);
        }
        let (folio, pfn) = {
            let guard = mm.mm().mmap_read_lock();
            let l = ffi::pte_lookup(mm.mm(), &guard, addr, true);
            match (l.folio, l.state) {
                (Some(f), PteState::Present { pfn, .. }) => (f, pfn),
                _ => return Err(ENOENT),
            }
        };
        let me = mm.mm().as_raw() as usize;
        let mut visits = 0u64;
        let lock = folio.lock();
        lock.rmap_walk(|hit| {
            if hit.mm == me {
                visits += 1;
            }
            true
        });
        drop(lock);
        let _ = pfn;
        w.run.count(Counter::Checks, 1);
        let _ = visits;
        Ok(())
    }

    /// Meets an announced move (MEET_PROBE): looks up a folio of the moving
    /// range, lets the mover in, and once it is parked (vma copied or
    /// merged, no pte moved) walks the folio's rmap. When the walk visits
    /// the destination first (copy_vma merged the range into a vma ahead
    /// of the source in rmap order), it lets the move go and waits for it
    /// before going on: the walk must still find the page somewhere ("rmap
    /// must find all ptes mapping a page at all times", seed 004). With
    /// need_rmap_locks the move waits for the anon_vma lock the walk holds.
    fn probe_meet(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let Some(park) = &self.park else {
            return Err(EAGAIN);
        };
        let epoch = self.meet.epoch.load(Acquire);
        if epoch == 0 || self.meet.claimed.xchg(epoch, Relaxed) == epoch {
            return Err(EAGAIN);
        }
        let (src, dst, len) = (
            self.meet.src.load(Relaxed),
            self.meet.dst.load(Relaxed),
            self.meet.len.load(Relaxed),
        );
        // The first mapped page from a random one on (wrapping): most of a
        // range may be absent (DONTNEED, resize), and a random page alone
        // left most probes unmet.
        let npages = (len / PAGE_SIZE).max(1);
        let start = w.rng.below(npages as u64) as usize;
        let found = {
            let guard = mm.mm().mmap_read_lock();
            (0..npages).find_map(|k| {
                let i = (start + k) % npages;
                let l = ffi::pte_lookup(mm.mm(), &guard, src + i * PAGE_SIZE, true);
                match (l.folio, l.state) {
                    (Some(f), PteState::Present { pfn, .. }) => Some((i, f, pfn)),
                    _ => None,
                }
            })
        };
        let Some((i, folio, page_pfn)) = found else {
            self.meet.go.store(epoch | NOT_MET, Release);
            return Err(ENOENT);
        };
        let addr = src + i * PAGE_SIZE;
        // rmap_walk visits a large folio at its first page's address.
        let pfn = folio.info().pfn;
        let dst_head = dst + i * PAGE_SIZE - page_pfn.saturating_sub(pfn) * PAGE_SIZE;
        let entered = park.entered();
        self.meet.go.store(epoch, Release);
        let t0 = Instant::<Monotonic>::now();
        while park.entered() == entered && t0.elapsed().as_millis() < MEET_MS * 10 {
            w.nap(Delta::from_micros(50));
        }
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
                if hit.addr == dst_head && visits == 1 {
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
        w.run.count(Counter::Checks, 1);
        if dst_first {
            w.run.count(Counter::Probes, 1);
            if found == 0 {
                w.run.violation(Violation {
                    invariant: Invariant::RmapMappings,
                    addr,
                    pfn,
                    expected: 1,
                    found,
                    what: "mappings rmap_walk found of a mapped folio while its pte moved (dst vma visited first)",
                });
            }
        }
        Ok(())
    }

    /// GUP-pin a page of an anon range's lower half (which never moves),
    /// hold it while the others migrate, then write through the pin. A
    /// pinned folio must not be migrated (migrate_pages() refuses folios
    /// with extra references): if no layout op touched the range, the pte
    /// must still map the pinned page (seed 001's invariant).
    fn op_pin(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        // Range 0's THPs: large folios migrate by a path of their own.
        let r = self.thp_biased_range(w);
        let s = &self.shared[r];
        let seq = s.gen.load(Acquire);
        let lower = s.lower.load(Acquire);
        if seq & 1 == 1 || lower == 0 {
            return Err(EAGAIN);
        }
        // Clear of the mover's mlock calls on the range (`expose` bit 3),
        // until the reference is dropped (`_hold` outlives `pin`).
        let _hold = match self.params.expose & 8 {
            0 => Some(s.enter_churn().ok_or(EAGAIN)?),
            _ => None,
        };
        // A mapped page: the first of a few random tries, or the first of
        // them in a large anon folio (THP or mTHP), whose only protection
        // against migration with a GUP reference is migration's refcount
        // check (seed 001).
        let (pin, i, addr, large) = {
            let guard = mm.mm().mmap_read_lock();
            let mut got = None;
            for _ in 0..8 {
                let i = w.rng.below(s.half as u64) as usize;
                let addr = lower + i * PAGE_SIZE;
                let l = ffi::pte_lookup(mm.mm(), &guard, addr, true);
                if !matches!(l.state, PteState::Present { .. }) {
                    continue;
                }
                let large = l.folio.is_some_and(|f| {
                    let info = f.info();
                    info.order > 0 && info.anon
                });
                if got.is_none() || large {
                    got = Some((i, addr, large));
                }
                if large {
                    break;
                }
            }
            let (i, addr, large) = got.ok_or(ENOENT)?;
            // GUP get (a plain reference, as O_DIRECT took it) or pin
            // (FOLL_PIN): a pinned anon-exclusive page is also protected
            // by try_to_migrate()'s folio_try_share_anon_rmap_pte(), a
            // referenced one only by migration's refcount check. A large
            // folio mostly gets the plain reference and is migrated at
            // once.
            let foll_pin = w.rng.below(if large { 4 } else { 2 }) == 0;
            let pin = PageRef::grab(mm.mm(), &guard, addr, foll_pin);
            (pin, i, addr, large)
        };
        let Some(pin) = pin else {
            return Err(ENOENT);
        };
        w.run.count(Counter::Refs, 1);
        let migrate_now = large || w.rng.below(2) == 0;
        if migrate_now {
            // Compaction (or the NUMA path) meets the pinned folio: it
            // must refuse to migrate it.
            let folio = {
                let guard = mm.mm().mmap_read_lock();
                ffi::pte_lookup(mm.mm(), &guard, addr, true).folio
            };
            if let Some(f) = folio {
                ffi::lru_add_drain_all();
                let mut list = IsolatedList::new()?;
                if list.isolate(&f) {
                    w.run.count(Counter::Isolated, 1);
                    let ok = list.migrate_to(w.rng.below(2) as i32, true).1;
                    w.run.count(Counter::Migrated, u64::from(ok));
                }
            }
        }
        // Let the other CPUs migrate it too; a large folio this op just
        // tried to migrate is checked at once, before a layout op (which
        // ends the check) is likely.
        if !(large && migrate_now) {
            let us = w.rng.below(2000) as i64;
            w.nap(Delta::from_micros(us));
        }
        let mut m = self.model.lock();
        if s.gen.load(Acquire) != seq {
            return Err(EAGAIN);
        }
        let now = {
            let guard = mm.mm().mmap_read_lock();
            ffi::pte_lookup(mm.mm(), &guard, addr, false).state
        };
        let ppfn = pin.pfn();
        match now {
            PteState::Present { pfn, .. } if pfn == ppfn => {}
            // A migration attempt in progress: it fails on the pin's
            // reference and restores the pte, or it is the bug; the next
            // checkpoint sees which.
            PteState::Migration { .. } => return Err(EAGAIN),
            PteState::Present { pfn, .. } => {
                w.run.violation(Violation {
                    invariant: Invariant::ReferencedFolioStays,
                    addr,
                    pfn: ppfn,
                    expected: ppfn as u64,
                    found: pfn as u64,
                    what: "pfn mapped where a GUP-pinned page was (no layout op since the pin)",
                });
                return Ok(());
            }
            _ => return Err(ENOENT),
        }
        // The model says whether the range is read-only here: skip then.
        if matches!(m.ranges[r].ro, Some((a, c)) if i >= a && i < a + c) {
            return Err(EAGAIN);
        }
        let g = Self::new_gen(&mut m);
        checkers::pattern_fill(&mut w.buf, self.seed, r * ID_STRIDE + i, g);
        pin.write(0, &w.buf);
        m.ranges[r].pages[i] = g;
        Ok(())
    }

    /// Isolates range `r`'s folios from the LRU, holds them, puts them
    /// back (reclaim/compaction's PG_lru dance against munlock, seed 002).
    fn op_isolate(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, r: usize) -> Result {
        let (addr, _, n) = self.random_run(w, r, 32);
        if addr < PAGE_SIZE {
            return Err(EAGAIN);
        }
        let (list, k) = checkers::isolate_range(w.run, mm.mm(), addr, n)?;
        w.run.count(Counter::Isolated, k);
        let us = w.rng.below(self.params.hold_us.min(2000) + 1) as i64;
        w.nap(Delta::from_micros(us));
        drop(list);
        Ok(())
    }

    fn churn(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        if !self.check.pause_point(w) {
            // The run is stopping, maybe mid-checkpoint: no new op (one
            // started now would leave its migration entries under the
            // checker: the end-of-run false positive of bench seed 11).
            return Ok(());
        }
        // A layout op announced: meet it. One churner claims it (see
        // `meet.claimed`); another that sees it migrates the range (a
        // move) or runs a random op (a probe).
        let meet = self.meet.range.load(Acquire);
        let probe = self.meet.kind.load(Relaxed) == MEET_PROBE;
        if meet != 0 && probe {
            let res = self.probe_meet(w, mm);
            if res != Err(EAGAIN) {
                self.log(w, OP_PROBE, meet - 1, 1, &res);
                return Ok(());
            }
        }
        if meet == self.shared.len() + 1 {
            let res = self.migrate_second(w);
            if res != Err(EAGAIN) {
                self.log(w, OP_MIGRATE, meet - 1, 2, &res);
            }
            return Ok(());
        }
        let (op, r) = if meet != 0 && !probe && self.enabled(OP_MIGRATE) {
            (OP_MIGRATE, meet - 1)
        } else {
            let Some(op) = self.pick(w, false) else {
                w.nap(Delta::from_millis(1));
                return Ok(());
            };
            (op, self.churn_range(w))
        };
        let res = match op {
            OP_MIGRATE => self.op_migrate(w, mm, r),
            OP_MIGRATE_MM => {
                let from = w.rng.below(2) as i32;
                ffi::migrate_mm(mm.mm(), from, 1 - from).map(|_| ())
            }
            OP_PROBE => self.op_probe(w, mm, r),
            OP_PIN => self.op_pin(w, mm),
            OP_ISOLATE => self.op_isolate(w, mm, r),
            OP_COLD => {
                let (addr, _, n) = self.random_run(w, r, 64);
                mm.madvise(addr, n * PAGE_SIZE, MADV_COLD)
            }
            OP_MISPLACED => self.op_misplaced(w, mm, r),
            OP_PAGEOUT => {
                // No swap here: reclaim isolates and puts the anon folios
                // back (EINVAL on a VM_LOCKED range).
                let (addr, _, n) = self.random_run(w, r, 64);
                mm.madvise(addr, n * PAGE_SIZE, MADV_PAGEOUT)
            }
            OP_PUNCH => self.op_punch(w),
            OP_SPLIT => self.op_split(w, mm),
            _ => Err(EAGAIN),
        };
        if res != Err(EAGAIN) {
            self.log(w, op, r, 0, &res);
        }
        Ok(())
    }

    /// fallocate(PUNCH_HOLE) of a random part of the COW range's file:
    /// shmem_fallocate() unmaps the file's pages from every mapping but
    /// keeps private COW copies (even_cows == 0), which is all the COW
    /// range maps (its populate and writes break COW): nothing the model
    /// has changes.
    fn op_punch(&self, w: &mut WorkerCtx<'_>) -> Result {
        let s = &self.shared[self.params.ranges as usize];
        let first = w.rng.below(s.half as u64) as usize;
        let n = 1 + w.rng.below((s.half - first) as u64) as usize;
        self.file.punch_hole(first * PAGE_SIZE, n * PAGE_SIZE)
    }

    /// split_folio() of a large folio of an anon range (range 0, the THP
    /// one, half the time): unmap (PMD split, migration entries), split,
    /// remap, racing the others' migrations and rmap walks. EAGAIN if the
    /// page's folio is small.
    fn op_split(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let r = self.thp_biased_range(w);
        // In range 0, the upper half 3 times in 4: the lower half's THP
        // is what pin_write and mlock_toggle need large (mutations 001 and
        // 103), and after a split only a remap or a collapse makes it
        // again (001 missed 1 of 3 runs of 120 s with both halves split
        // alike).
        let s = &self.shared[r];
        let upper_only = r == 0 && w.rng.below(4) != 0;
        // The first large anon folio of up to 8 random pages (most pages
        // are small most of the time: one look found one 66 times in
        // 20 x 60 s).
        let folio = {
            let guard = mm.mm().mmap_read_lock();
            (0..8).find_map(|_| {
                let addr = match upper_only {
                    true => self.page_addr(r, s.half + w.rng.below(s.half as u64) as usize),
                    false => self.random_run(w, r, 1).0,
                };
                if addr < PAGE_SIZE {
                    return None;
                }
                ffi::pte_lookup(mm.mm(), &guard, addr, true)
                    .folio
                    .filter(|f| {
                        let info = f.info();
                        info.order > 0 && info.anon
                    })
            })
        };
        // Clear of the mover's mlock calls on the range (`expose` bit 1).
        let _hold = match self.params.expose & 2 {
            0 => Some(s.enter_churn().ok_or(EAGAIN)?),
            _ => None,
        };
        // `folio` is large and anon (the lookup filtered it).
        folio.map_or(Err(EAGAIN), |f| f.lock().split())
    }

    /// The NUMA-misplaced path (do_numa_page's migration) for one page.
    fn op_misplaced(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>, r: usize) -> Result {
        let (addr, _, _) = self.random_run(w, r, 1);
        if addr < PAGE_SIZE {
            return Err(EAGAIN);
        }
        let to = w.rng.below(2) as i32;
        let guard = mm.mm().mmap_read_lock();
        let Some(folio) = ffi::pte_lookup(mm.mm(), &guard, addr, true).folio else {
            return Err(ENOENT);
        };
        let (isolated, migrated) = ffi::migrate_misplaced(mm.mm(), &guard, addr, folio, to);
        drop(guard);
        w.run.count(Counter::Isolated, u64::from(isolated));
        w.run.count(Counter::Migrated, u64::from(migrated));
        Ok(())
    }
}

// ------------------------------------------------------------- checkpoints

impl Mix {
    /// `trace_mlock=1`: the first mlock violation of the run prints its
    /// folio's (and its 15 neighbours') last mlock calls.
    fn dump_mlock_trace(&self, pfn: usize) {
        if let Some(t) = &self.mltrace {
            if !self.mltrace_dumped.xchg(true, Relaxed) {
                t.dump(pfn & !15, 16, 64);
            }
        }
    }

    /// Parks the churners and compares every page with the model.
    fn checkpoint(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        let run = w.run;
        let Some(_held) = self.check.hold(w, 1000 * run.params.stall_s) else {
            return Ok(());
        };
        let before = run_violations(run);
        ffi::lru_add_drain_all();
        let mut m = self.model.lock();
        for r in 0..self.shared.len() {
            match self.shared[r].kind {
                Kind::Shared => self.check_shared(run, mm, &mut w.buf, &m, r)?,
                _ => self.check_range(run, mm, &mut w.buf, &m, r)?,
            }
        }
        let truncated = core::mem::replace(&mut m.truncated, KVec::new());
        for f in truncated {
            let info = f.info();
            run.count(Counter::Checks, 1);
            if info.mapcount == 0 && info.mlocked {
                run.violation(Violation {
                    invariant: Invariant::MunlockedWhenUnmapped,
                    addr: 0,
                    pfn: info.pfn,
                    expected: 0,
                    found: 1,
                    what: "PG_mlocked of a COW folio a truncation unmapped",
                });
            }
        }
        let orphans = core::mem::replace(&mut m.orphans, KVec::new());
        for f in orphans {
            run.count(Counter::Checks, 1);
            if let Some(vi) = checkers::check_folio_released(&f) {
                run.violation(vi);
            }
        }
        self.isolated.check(run, 500);
        run.count(Counter::Rounds, 1);
        self.publish_stats(run);
        if run_violations(run) != before && !m.reported {
            m.reported = true;
            run.attach(|t| self.write_rings(t));
        }
        m.last_check = Instant::now();
        Ok(())
    }

    fn check_range(
        &self,
        run: &RunShared,
        mm: &MmUse<'_>,
        buf: &mut [u8],
        m: &Model,
        r: usize,
    ) -> Result {
        let s = &self.shared[r];
        let rm = &m.ranges[r];
        let me = mm.mm().as_raw() as usize;
        let thp = s.kind == Kind::Anon && s.half * PAGE_SIZE >= HPAGE_SIZE;
        for (i, &want) in rm.pages.iter().enumerate() {
            let addr = self.page_addr(r, i);
            if (s.kind == Kind::Anon && i >= s.half && s.upper.load(Relaxed) == 0)
                || s.lower.load(Relaxed) == 0
            {
                continue;
            }
            let l = {
                let guard = mm.mm().mmap_read_lock();
                ffi::pte_lookup(mm.mm(), &guard, addr, true)
            };
            run.count(Counter::Checks, 1);
            let v = |invariant, pfn, expected, found, what| Violation {
                invariant,
                addr,
                pfn,
                expected,
                found,
                what,
            };
            match (want, l.state) {
                (_, PteState::Migration { pfn, .. }) => {
                    run.violation(v(
                        Invariant::NoMigrationEntry,
                        pfn,
                        0,
                        1,
                        "migration entry at a checkpoint",
                    ));
                    continue;
                }
                (ABSENT, PteState::None) => continue,
                (ABSENT, PteState::Present { pfn, .. }) => {
                    // In a THP-sized range the kernel may fill absent ptes
                    // with zeroes at any time (khugepaged's collapse, whose
                    // max_ptes_none is 511; the huge zero page on a read
                    // fault): absent there means "no data".
                    drop(l);
                    if thp && mm.read(addr, buf).is_ok() && buf.iter().all(|&b| b == 0) {
                        run.count(Counter::PagesVerified, 1);
                        continue;
                    }
                    run.violation(v(
                        Invariant::PagePresent,
                        pfn,
                        0,
                        1,
                        "present pte (not zero-filled) where the model has none",
                    ));
                    continue;
                }
                (_, PteState::Present { .. }) => {}
                (_, _) => {
                    run.violation(v(
                        Invariant::PagePresent,
                        0,
                        1,
                        0,
                        "present ptes where the model has data",
                    ));
                    continue;
                }
            }
            if let (
                PteState::Present {
                    pfn,
                    writable: true,
                    ..
                },
                Some((a, c)),
            ) = (l.state, rm.ro)
            {
                if s.kind == Kind::Anon && i >= a && i < a + c {
                    run.violation(v(
                        Invariant::PteWriteProtected,
                        pfn,
                        0,
                        1,
                        "writable pte in a range mprotect()ed read-only",
                    ));
                }
            }
            let Some(folio) = &l.folio else { continue };
            let info = folio.info();

            let huge = matches!(l.state, PteState::Present { huge: true, .. });
            // Zero-filled pages may map the shared zero page (a read fault,
            // or a split huge zero page): not an anon folio, only its data
            // is checked (a page with model data mapping it fails that).
            let head = info.anon && (info.order == 0 || (huge && addr & (HPAGE_SIZE - 1) == 0));
            if head {
                if let Some(vi) = checkers::check_rmap_single(folio, me, addr) {
                    run.violation(vi);
                }
                if info.mapcount != 1 {
                    run.violation(v(
                        Invariant::Mapcount,
                        info.pfn,
                        1,
                        info.mapcount as u64,
                        "folio_mapcount of a singly mapped folio",
                    ));
                }
            }
            // PG_mlocked is defined for small and PMD-mapped folios; a
            // PTE-mapped large folio may legitimately be either. In a range
            // mlock(2) locked, it is guaranteed only for pages faulted in
            // after the lock (mlock_new_folio at the fault, and after any
            // later migration), not for pages mapped when it walked:
            // mlock_vma_pages_range() skips a pte that
            // is a migration entry when it walks, and the migration's
            // remove_migration_pte() sees VM_LOCKED|VM_IO then and leaves
            // the new folio unlocked (mm/mlock.c: it prefers that to a
            // double count); nor for the lower half's pages at all, which
            // the upper half's walk exposes the same way (`op_lock`). The
            // COW range was MAP_LOCKED from its mmap.
            let sure = !rm.unsure[i];
            // mlock_count may undercount, never overcount (mm/mlock.c: an
            // overcount leaves the folio unevictable after munlock): a
            // singly mapped folio counts at most its one VM_LOCKED mapping,
            // none in an unlocked range.
            let locked_maps = u32::from(rm.locked || s.kind == Kind::Cow);
            match info.mlock_count {
                Some(n) if head && info.mlocked && n > locked_maps => {
                    self.dump_mlock_trace(info.pfn);
                    run.violation(v(
                        Invariant::MlockCount,
                        info.pfn,
                        u64::from(locked_maps),
                        u64::from(n),
                        "mlock_count of a singly mapped folio (VM_LOCKED mappings of it expected at most)",
                    ));
                }
                _ => {}
            }
            if !head {
            } else if rm.locked || s.kind == Kind::Cow {
                if !info.mlocked && sure {
                    run.violation(v(
                        Invariant::MlockedInLockedVma,
                        info.pfn,
                        1,
                        0,
                        "PG_mlocked of a folio mapped in a VM_LOCKED range",
                    ));
                }
            } else if info.mlocked && s.kind == Kind::Anon {
                self.dump_mlock_trace(info.pfn);
                run.violation(v(
                    Invariant::MunlockedWhenUnmapped,
                    info.pfn,
                    0,
                    1,
                    "PG_mlocked of a folio only an unlocked range maps",
                ));
            }
            drop(l);
            if want == ZERO {
                mm.read(addr, buf)?;
                if let Some(pos) = buf.iter().position(|&b| b != 0) {
                    run.violation(v(
                        Invariant::DataPattern,
                        0,
                        0,
                        u64::from(buf[pos]),
                        "byte of a zero-filled page",
                    ));
                }
            } else if let Some(vi) =
                checkers::check_pattern(mm, buf, addr, self.seed, r * ID_STRIDE + i, want)?
            {
                run.violation(vi);
            }
            run.count(Counter::PagesVerified, 1);
        }
        Ok(())
    }
}

impl Mix {
    /// The shared range: each file page is mapped (present pte) in none,
    /// one or both of its mappings, as faults happened; wherever it is
    /// mapped, it is the same page, never a migration entry; its folio's
    /// mapcount is the number of those ptes, and rmap_walk finds exactly
    /// them; it is not PG_mlocked (no VM_LOCKED mapping); read through the
    /// first mapping, it holds the model's data (absent: zeroes).
    fn check_shared(
        &self,
        run: &RunShared,
        mm: &MmUse<'_>,
        buf: &mut [u8],
        m: &Model,
        r: usize,
    ) -> Result {
        let s = &self.shared[r];
        let (a, b) = (s.lower.load(Relaxed), s.upper.load(Relaxed));
        if a == 0 || b == 0 {
            return Ok(());
        }
        let me = mm.mm().as_raw() as usize;
        for (i, &want) in m.ranges[r].pages.iter().enumerate() {
            let (addr, baddr) = (a + i * PAGE_SIZE, b + i * PAGE_SIZE);
            let (la, lb) = {
                let guard = mm.mm().mmap_read_lock();
                (
                    ffi::pte_lookup(mm.mm(), &guard, addr, true),
                    ffi::pte_lookup(mm.mm(), &guard, baddr, true),
                )
            };
            run.count(Counter::Checks, 1);
            let v = |invariant, at, pfn, expected, found, what| Violation {
                invariant,
                addr: at,
                pfn,
                expected,
                found,
                what,
            };
            let mut pfns = KVec::new();
            let mut folio = None;
            for (at, l) in [(addr, la), (baddr, lb)] {
                match l.state {
                    PteState::None => {}
                    PteState::Present { pfn, .. } => {
                        pfns.push(pfn, GFP_KERNEL)?;
                        folio = folio.or(l.folio);
                    }
                    PteState::Migration { pfn, .. } => run.violation(v(
                        Invariant::NoMigrationEntry,
                        at,
                        pfn,
                        0,
                        1,
                        "migration entry at a checkpoint (shared file page)",
                    )),
                    PteState::Other => run.violation(v(
                        Invariant::PagePresent,
                        at,
                        0,
                        0,
                        1,
                        "non-present entry (not a migration entry) mapping a shared file page",
                    )),
                }
            }
            if let [p, q] = pfns[..] {
                if p != q {
                    run.violation(v(
                        Invariant::SharedPage,
                        baddr,
                        q,
                        p as u64,
                        q as u64,
                        "pfn the second MAP_SHARED mapping maps where the first maps another",
                    ));
                }
            }
            if let Some(f) = &folio {
                let info = f.info();
                let c = pfns.len() as u64;
                if info.order == 0 && info.mapcount as u64 != c {
                    run.violation(v(
                        Invariant::Mapcount,
                        addr,
                        info.pfn,
                        c,
                        info.mapcount as u64,
                        "folio_mapcount of a shared file page (its present ptes expected)",
                    ));
                }
                if info.mlocked {
                    run.violation(v(
                        Invariant::MunlockedWhenUnmapped,
                        addr,
                        info.pfn,
                        0,
                        1,
                        "PG_mlocked of a shared file page no VM_LOCKED vma maps",
                    ));
                }
                let pages = info.pfn..info.pfn + (1 << info.order);
                let mut found = 0u64;
                {
                    let lock = f.lock();
                    lock.rmap_walk(|hit| {
                        if matches!(hit.pte, PteState::Present { pfn, .. } if pages.contains(&pfn))
                        {
                            found += 1;
                            if hit.mm != me || (hit.addr != addr && hit.addr != baddr) {
                                found += 1 << 32;
                            }
                        }
                        true
                    });
                }
                if info.order == 0 && found != c {
                    run.violation(v(
                        Invariant::RmapMappings,
                        addr,
                        info.pfn,
                        c,
                        found,
                        "mappings rmap_walk found of a shared file page (its present ptes expected; +2^32 per one elsewhere)",
                    ));
                }
            }
            drop(folio);
            match want {
                ABSENT => {
                    mm.read(addr, buf)?;
                    if let Some(pos) = buf.iter().position(|&x| x != 0) {
                        run.violation(v(
                            Invariant::DataPattern,
                            addr,
                            0,
                            0,
                            u64::from(buf[pos]),
                            "byte of a shared file page never written since a punch (zeroes expected)",
                        ));
                    }
                }
                _ => {
                    if let Some(vi) =
                        checkers::check_pattern(mm, buf, addr, self.seed, r * ID_STRIDE + i, want)?
                    {
                        run.violation(vi);
                    }
                }
            }
            run.count(Counter::PagesVerified, 1);
        }
        Ok(())
    }
}

fn run_violations(run: &RunShared) -> u64 {
    run.violations_seen()
}

/// `meet.go` when the churner could not meet the move (too few folios).
const NOT_MET: u64 = 1 << 63;

impl Scenario for Mix {
    const ROLES: &'static [&'static str] = ROLES;
    type Params = MixParams;

    fn workers(&self) -> usize {
        self.params.workers as usize
    }

    fn setup(run: &RunShared, mm: &MmUse<'_>) -> Result<Self> {
        run.require_two_nodes()?;
        let params: MixParams = run.params.own()?;
        let churners = params.workers as u32 - 1;
        let half = run.params.pages.clamp(4, 1024);
        let nr = params.ranges as usize;
        let mut shared = KVec::new();
        let mut ranges = KVec::new();
        for r in 0..nr + 3 {
            let (kind, n) = match r {
                0 => (Kind::Anon, HPAGE_SIZE / PAGE_SIZE),
                r if r < nr => (Kind::Anon, half),
                r if r == nr => (Kind::Cow, half),
                r if r == nr + 1 => (Kind::Stack, STACK_PAGES),
                _ => (Kind::Shared, half),
            };
            shared.push(
                Shared {
                    kind,
                    half: n,
                    lower: Atomic::new(0),
                    upper: Atomic::new(0),
                    gen: Atomic::new(0),
                    mlocking: Atomic::new(false),
                    churning: Atomic::new(0),
                },
                GFP_KERNEL,
            )?;
            let total = if kind == Kind::Anon { 2 * n } else { n };
            let mut pages = KVec::with_capacity(total, GFP_KERNEL)?;
            let mut unsure = KVec::with_capacity(total, GFP_KERNEL)?;
            for _ in 0..total {
                pages.push(ABSENT, GFP_KERNEL)?;
                unsure.push(false, GFP_KERNEL)?;
            }
            ranges.push(
                RangeModel {
                    pages,
                    locked: kind == Kind::Cow,
                    onfault: false,
                    unsure,
                    ro: None,
                    away: false,
                },
                GFP_KERNEL,
            )?;
        }
        let file = ShmemFile::new(half * PAGE_SIZE)?;
        let sfile = ShmemFile::new(half * PAGE_SIZE)?;
        let park = match params.park {
            0 => None,
            _ => Some(
                ParkPoint::new(mm.mm(), super::move_migrate::PARK_TIMEOUT_MS).map_err(
                    |e| match e == EOPNOTSUPP {
                        true => run.skip(
                            "needs CONFIG_MMU_NOTIFIER (the park point; park=0 runs without)",
                        ),
                        false => e,
                    },
                )?,
            ),
        };
        let model = KBox::pin_init(
            new_mutex!(Model {
                ranges,
                next_gen: 0,
                truncated: KVec::new(),
                orphans: KVec::new(),
                last_check: Instant::now(),
                reported: false,
            }),
            GFP_KERNEL,
        )?;
        let mltrace = match params.trace_mlock {
            0 => None,
            _ => Some(MlockTrace::start()?),
        };
        let this = Self {
            params,
            seed: run.seed,
            shared,
            model,
            file,
            sfile,
            second: KBox::pin_init(new_spinlock!(None), GFP_KERNEL)?,
            park,
            check: Checkpoint::new(churners),
            isolated: IsolatedBaseline::take(),
            stats: [const {
                OpStat {
                    done: Atomic::new(0),
                    failed: Atomic::new(0),
                    errno: Atomic::new(0),
                }
            }; NOPS],
            rings: [const {
                Ring {
                    head: Atomic::new(0),
                    at: [const { Atomic::new(0) }; RING],
                    what: [const { Atomic::new(0) }; RING],
                }
            }; MAX_WORKERS],
            meet: Meet {
                range: Atomic::new(0),
                epoch: Atomic::new(0),
                claimed: Atomic::new(0),
                go: Atomic::new(0),
                kind: Atomic::new(MEET_MOVE),
                done: Atomic::new(0),
                src: Atomic::new(0),
                dst: Atomic::new(0),
                len: Atomic::new(0),
            },
            mltrace,
            mltrace_dumped: Atomic::new(false),
        };
        {
            let mut m = this.model.lock();
            for r in (0..nr + 3).filter(|&r| r != nr + 1) {
                this.remap(mm, &mut m, r)?; // not the stack: op_stack makes it
            }
        }
        Ok(this)
    }

    fn step(&self, w: &mut WorkerCtx<'_>, mm: &MmUse<'_>) -> Result {
        match w.role {
            MOVER => self.mover(w, mm),
            _ => self.churn(w, mm),
        }
    }

    fn finish(&self, run: &RunShared, mm: &MmUse<'_>) -> Result<KVec<FolioRef>> {
        self.publish_stats(run);
        let mut kept = KVec::new();
        for s in self.shared.iter() {
            for (addr, n) in parts(s) {
                if addr != 0 {
                    // Not the shared zero page (mapped by a read fault or
                    // a split huge zero page): it is never released.
                    for f in checkers::mapped_folios(mm.mm(), addr, n)? {
                        if f.info().anon {
                            kept.push(f, GFP_KERNEL)?;
                        }
                    }
                }
            }
        }
        if run.violations_seen() > 0 && !self.model.lock().reported {
            run.attach(|t| self.write_rings(t));
        }
        Ok(kept)
    }
}
