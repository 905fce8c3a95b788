// SPDX-License-Identifier: GPL-2.0

//! Reusable invariant checks. Each reads kernel state (page tables, folio
//! state, the reverse map, vmstat, the test pages' data) and returns a
//! [`Violation`] value naming the invariant, where, what was expected and
//! what was found. Checkers report through a [`Sink`] of their own (the
//! engine's run implements it), so this layer imports nothing above it.

#![deny(unsafe_code)]

use crate::ffi::{self, FolioRef, IsolatedList, MmUse, PteLookup, PteState, Stat};
use core::fmt;
use kernel::{
    mm::{MmWithUser, MmapReadGuard},
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
    time::{delay::fsleep, Delta, Instant, Monotonic},
};

/// Size of a base page.
pub(crate) use kernel::page::PAGE_SIZE;

/// The size of a PMD-mapped THP (x86-64: 2 MiB).
pub(crate) const HPAGE_SIZE: usize = 2 << 20;

/// What the checkers did besides finding violations (the engine counts it).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tally {
    /// One invariant check performed.
    Check,
    /// A folio that could not be isolated from the LRU.
    IsolateFailed,
}

/// Where checkers report: the violations they find and what they did.
pub(crate) trait Sink {
    /// Records an invariant violation.
    fn violation(&self, v: Violation);
    /// Adds `n` to a tally.
    fn tally(&self, t: Tally, n: u64);
}

/// The invariants mmtorture checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Invariant {
    /// A test page's contents equal the pattern last written to it.
    DataPattern,
    /// No migration entry is left in a PTE/PMD once migration finished.
    NoMigrationEntry,
    /// A test page that was populated is still mapped.
    PagePresent,
    /// A folio is on the node migration reported it moved to.
    FolioNode,
    /// rmap_walk finds exactly the mappings the page tables hold.
    RmapMappings,
    /// folio_mapcount() equals the number of PTEs mapping the folio.
    Mapcount,
    /// A vmstat counter returns to its baseline.
    VmstatBaseline,
    /// Teardown released every mapping and reference of the test folios.
    FolioReleased,
    /// A folio with an extra (GUP) reference is not migrated away from its
    /// holder: the mapping keeps the referenced page and sees its writes.
    ReferencedFolioStays,
    /// A folio no VM_LOCKED vma maps is not PG_mlocked.
    MunlockedWhenUnmapped,
    /// The kernel raised no report (KASAN, Bad page state, WARN, oops)
    /// during the run: a taint it leaves appeared.
    NoKernelReport,
    /// A page faulted (written) in a VM_LOCKED vma is mapped by a folio
    /// that is PG_mlocked.
    MlockedInLockedVma,
    /// A pte in a range mprotect()ed read-only is not writable (whatever
    /// happened to the page meanwhile: migration restores the write bit
    /// from its entry, not from the vma).
    PteWriteProtected,
    /// A folio's mlock_count does not exceed the VM_LOCKED mappings of it
    /// (an overcount keeps it unevictable after the last munlock).
    MlockCount,
    /// Every present pte of two MAP_SHARED mappings of one file page maps
    /// the same page (the page cache's one).
    SharedPage,
    /// Every worker keeps making progress: none stays in the kernel under
    /// test longer than `stall_s` (a wedged thread is a kernel bug too).
    WorkerStuck,
}

impl Invariant {
    fn name(self) -> &'static str {
        match self {
            Self::DataPattern => "data-pattern",
            Self::NoMigrationEntry => "no-migration-entry",
            Self::PagePresent => "page-present",
            Self::FolioNode => "folio-node",
            Self::RmapMappings => "rmap-mappings",
            Self::Mapcount => "mapcount",
            Self::VmstatBaseline => "vmstat-baseline",
            Self::FolioReleased => "folio-released",
            Self::ReferencedFolioStays => "referenced-folio-stays",
            Self::MunlockedWhenUnmapped => "munlocked-when-unmapped",
            Self::NoKernelReport => "no-kernel-report",
            Self::MlockedInLockedVma => "mlocked-in-locked-vma",
            Self::PteWriteProtected => "pte-write-protected",
            Self::MlockCount => "mlock-count",
            Self::SharedPage => "shared-page",
            Self::WorkerStuck => "worker-stuck",
        }
    }
}

/// One invariant violation: which, where, expected vs found.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Violation {
    pub(crate) invariant: Invariant,
    /// User address in the test mm (0 if not address-specific).
    pub(crate) addr: usize,
    /// Page frame number involved (0 if none).
    pub(crate) pfn: usize,
    pub(crate) expected: u64,
    pub(crate) found: u64,
    /// What `expected`/`found` measure.
    pub(crate) what: &'static str,
}

impl kernel::fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant.name(), self.what)?;
        if self.addr != 0 {
            write!(f, " addr=0x{:x}", self.addr)?;
        }
        if self.pfn != 0 {
            write!(f, " pfn=0x{:x}", self.pfn)?;
        }
        write!(f, " expected={:#x} found={:#x}", self.expected, self.found)
    }
}

/// SplitMix64 finaliser: the per-word data pattern.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The pattern of word `word` of test page `page` at generation `gen`.
pub(crate) fn pattern_word(seed: u64, page: usize, gen: u64, word: usize) -> u64 {
    mix(seed ^ ((page as u64) << 24) ^ (gen << 48) ^ word as u64)
}

/// Fills `buf` (one page) with the pattern of (`page`, `gen`).
pub(crate) fn pattern_fill(buf: &mut [u8], seed: u64, page: usize, gen: u64) {
    for (i, chunk) in buf.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&pattern_word(seed, page, gen, i).to_ne_bytes());
    }
}

/// Writes the pattern of (`page`, `gen`) to the page at `addr` (faults it in).
pub(crate) fn write_pattern(
    mm: &MmUse<'_>,
    buf: &mut [u8],
    addr: usize,
    seed: u64,
    page: usize,
    gen: u64,
) -> Result {
    pattern_fill(buf, seed, page, gen);
    mm.write(addr, buf)
}

/// Writes the patterns of pages `first..first + n` (generation `gen`) to
/// the `n` pages from `base`.
pub(crate) fn write_range(
    mm: &MmUse<'_>,
    buf: &mut [u8],
    base: usize,
    n: usize,
    seed: u64,
    first: usize,
    gen: u64,
) -> Result {
    for i in 0..n {
        write_pattern(mm, buf, base + i * PAGE_SIZE, seed, first + i, gen)?;
    }
    Ok(())
}

/// Reads the page at `addr` and compares it with the pattern of
/// (`page`, `gen`). Returns the first mismatching word as a violation.
pub(crate) fn check_pattern(
    mm: &MmUse<'_>,
    buf: &mut [u8],
    addr: usize,
    seed: u64,
    page: usize,
    gen: u64,
) -> Result<Option<Violation>> {
    mm.read(addr, buf)?;
    for (i, chunk) in buf.chunks_exact(8).enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let found = u64::from_ne_bytes(w);
        let expected = pattern_word(seed, page, gen, i);
        if found != expected {
            return Ok(Some(Violation {
                invariant: Invariant::DataPattern,
                addr: addr + i * 8,
                pfn: 0,
                expected,
                found,
                what: "data word",
            }));
        }
    }
    Ok(None)
}

/// Counts of page-table states over a range.
#[derive(Default, Debug)]
pub(crate) struct PteCensus {
    pub(crate) present: usize,
    pub(crate) migration: usize,
    pub(crate) none: usize,
    pub(crate) other: usize,
}

/// Walks `npages` pages from `start` in the page tables, calling `f` for
/// each (with its folio referenced when present). Returns the census.
pub(crate) fn scan_ptes(
    mm: &MmWithUser,
    guard: &MmapReadGuard<'_>,
    start: usize,
    npages: usize,
    mut f: impl FnMut(usize, usize, &PteLookup),
) -> PteCensus {
    let mut c = PteCensus::default();
    for i in 0..npages {
        let addr = start + i * PAGE_SIZE;
        let l = ffi::pte_lookup(mm, guard, addr, true);
        match l.state {
            PteState::Present { .. } => c.present += 1,
            PteState::Migration { .. } => c.migration += 1,
            PteState::None => c.none += 1,
            PteState::Other => c.other += 1,
        }
        f(i, addr, &l);
    }
    c
}

/// One reference on each folio mapped in the `npages` pages from `start`
/// (a large folio once, however many of its pages are mapped there): what a
/// teardown check keeps, so it sees the folio's own references plus one.
pub(crate) fn mapped_folios(
    mm: &MmWithUser,
    start: usize,
    npages: usize,
) -> Result<KVec<FolioRef>> {
    let mut kept: KVec<FolioRef> = KVec::with_capacity(npages, GFP_KERNEL)?;
    let guard = mm.mmap_read_lock();
    scan_ptes(mm, &guard, start, npages, |_, _, l| {
        let Some(f) = &l.folio else { return };
        let pfn = f.info().pfn;
        // A folio's pages are mapped consecutively in a linear range.
        if kept.last().is_none_or(|k| k.info().pfn != pfn) {
            // Capacity was reserved: this push cannot fail.
            let _ = kept.push(f.clone(), GFP_KERNEL);
        }
    });
    Ok(kept)
}

/// Isolates the folio mapped at each of `n` pages from `start` (LRU +
/// NR_ISOLATED accounting, as compaction does), counting failures. Returns
/// the list and how many were isolated. Flushes per-cpu LRU batches first.
pub(crate) fn isolate_range(
    run: &impl Sink,
    mm: &MmWithUser,
    start: usize,
    n: usize,
) -> Result<(IsolatedList, u64)> {
    ffi::lru_add_drain_all();
    let mut list = IsolatedList::new()?;
    let mut isolated = 0u64;
    let guard = mm.mmap_read_lock();
    scan_ptes(mm, &guard, start, n, |_, _, l| {
        if let Some(f) = &l.folio {
            if list.isolate(f) {
                isolated += 1;
            } else {
                run.tally(Tally::IsolateFailed, 1);
            }
        }
    });
    Ok((list, isolated))
}

/// The per-page structural checks of a quiescent range (nobody migrating or
/// moving it): present, no migration entry, rmap finds exactly the one
/// mapping, mapcount 1. Returns the number of pages on `node` (if given).
/// The range must be naturally aligned for its large folios.
pub(crate) fn check_quiescent_range(
    run: &impl Sink,
    mm: &MmWithUser,
    start: usize,
    npages: usize,
    node: Option<i32>,
) -> usize {
    let guard = mm.mmap_read_lock();
    let me = mm.as_raw() as usize;
    let mut on_node = 0;
    scan_ptes(mm, &guard, start, npages, |_, addr, l| {
        run.tally(Tally::Check, 1);
        match l.state {
            PteState::Migration { pfn, .. } => run.violation(Violation {
                invariant: Invariant::NoMigrationEntry,
                addr,
                pfn,
                expected: 0,
                found: 1,
                what: "migration entries in the pte",
            }),
            PteState::None | PteState::Other => run.violation(Violation {
                invariant: Invariant::PagePresent,
                addr,
                pfn: 0,
                expected: 1,
                found: 0,
                what: "present ptes",
            }),
            PteState::Present { .. } => {}
        }
        let Some(folio) = &l.folio else { return };
        let info = folio.info();
        let huge = matches!(l.state, PteState::Present { huge: true, .. });
        // A large folio is checked once, at the address of its first page.
        let folio_bytes = PAGE_SIZE << info.order;
        if info.order > 0 && addr & (folio_bytes - 1) != 0 {
            return;
        }
        if node == Some(info.nid) {
            on_node += 1 << info.order;
        }
        if let Some(v) = check_rmap_single(folio, me, addr) {
            run.violation(v);
        }
        // Singly mapped: a small folio or a PMD-mapped THP has mapcount 1.
        if (info.order == 0 || huge) && info.mapcount != 1 {
            run.violation(Violation {
                invariant: Invariant::Mapcount,
                addr,
                pfn: info.pfn,
                expected: 1,
                found: info.mapcount as u64,
                what: "folio_mapcount of a singly mapped folio",
            });
        }
    });
    on_node
}

/// rmap_walk must find exactly one mapping of `folio`: in mm `mm` at `addr`.
///
/// A visit counts only where the entry at the visited address maps the
/// folio: rmap_walk also visits vmas that cover the folio's index without
/// mapping it (the old vma an MREMAP_DONTUNMAP leaves in the anon_vma).
pub(crate) fn check_rmap_single(folio: &FolioRef, mm: usize, addr: usize) -> Option<Violation> {
    let info = folio.info();
    let pages = info.pfn..info.pfn + (1 << info.order);
    let (mut total, mut matching) = (0u64, 0u64);
    {
        let lock = folio.lock();
        lock.rmap_walk(|hit| {
            let maps = match hit.pte {
                PteState::Present { pfn, .. } | PteState::Migration { pfn, .. } => {
                    pages.contains(&pfn)
                }
                _ => false,
            };
            if !maps {
                return true;
            }
            total += 1;
            if hit.mm == mm && hit.addr == addr {
                matching += 1;
            }
            true
        });
    }
    if total == 1 && matching == 1 {
        return None;
    }
    Some(Violation {
        invariant: Invariant::RmapMappings,
        addr,
        pfn: info.pfn,
        expected: 1,
        found: if matching == 1 { total } else { matching },
        what: if matching == 1 {
            "rmap_walk mappings in total"
        } else {
            "rmap_walk mappings at this (mm, addr)"
        },
    })
}

/// After teardown: the folio must be unmapped and hold only our reference.
pub(crate) fn check_folio_released(folio: &FolioRef) -> Option<Violation> {
    let info = folio.info();
    if info.mapcount != 0 {
        return Some(Violation {
            invariant: Invariant::FolioReleased,
            addr: 0,
            pfn: info.pfn,
            expected: 0,
            found: info.mapcount as u64,
            what: "folio_mapcount after teardown",
        });
    }
    if info.refcount != 1 {
        return Some(Violation {
            invariant: Invariant::FolioReleased,
            addr: 0,
            pfn: info.pfn,
            expected: 1,
            found: info.refcount as u64,
            what: "folio_ref_count after teardown (1 = the checker's own)",
        });
    }
    None
}

/// The report taints seen so far in a run; a new one is a violation (the
/// console log names the report; KASAN sets BAD_PAGE, bit 5). Each new
/// taint is reported once.
pub(crate) struct TaintWatch(Atomic<usize>);

impl TaintWatch {
    pub(crate) fn take() -> Self {
        Self(Atomic::new(ffi::report_taints()))
    }

    pub(crate) fn check(&self) -> Option<Violation> {
        let now = ffi::report_taints();
        let seen = self.0.xchg(now, Relaxed);
        (now & !seen != 0).then_some(Violation {
            invariant: Invariant::NoKernelReport,
            addr: 0,
            pfn: 0,
            expected: seen as u64,
            found: now as u64,
            what: "report taint mask (BAD_PAGE=1<<5 WARN=1<<9 DIE=1<<7): see the console",
        })
    }
}

/// Pages NR_ANON_MAPPED moves by without us: the guest's own processes
/// (the selftest shell forking `sed`, `cat`) fault and free anonymous
/// memory while a run ends; up to 77 pages were measured in 3 s busted
/// runs. The exact per-folio teardown check is what catches a leak of the
/// test pages; this baseline catches only leaks larger than the noise.
const ANON_NOISE_PAGES: usize = 512;

/// The NR_ANON_MAPPED slack for a run over `pages` test pages.
pub(crate) fn anon_mapped_slack(pages: usize) -> i64 {
    (pages / 2).max(ANON_NOISE_PAGES) as i64
}

/// Checks each baseline (with its slack) and records what does not return.
pub(crate) fn check_baselines(run: &impl Sink, baselines: &[(&Baseline, i64)], settle_ms: u64) {
    for (b, slack) in baselines {
        run.tally(Tally::Check, 1);
        if let Some(v) = b.check(*slack, settle_ms) {
            run.violation(v);
        }
    }
}

/// NR_ISOLATED_ANON and NR_ISOLATED_FILE at the start of a run: every
/// isolation, failure paths included, must be undone (no slack).
#[derive(Clone, Copy, Debug)]
pub(crate) struct IsolatedBaseline([Baseline; 2]);

impl IsolatedBaseline {
    pub(crate) fn take() -> Self {
        Self(Baseline::take_all([Stat::IsolatedAnon, Stat::IsolatedFile]))
    }

    /// [`IsolatedBaseline::take`] and the baseline of `stat`, read over the
    /// same 100 ms (one wait instead of two).
    pub(crate) fn take_with(stat: Stat) -> (Self, Baseline) {
        let [anon, file, other] =
            Baseline::take_all([Stat::IsolatedAnon, Stat::IsolatedFile, stat]);
        (Self([anon, file]), other)
    }

    /// Records a violation for each counter not back within `settle_ms`.
    pub(crate) fn check(&self, run: &impl Sink, settle_ms: u64) {
        check_baselines(run, &[(&self.0[0], 0), (&self.0[1], 0)], settle_ms);
    }
}

/// A vmstat counter's value at the start of a run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Baseline {
    pub(crate) stat: Stat,
    pub(crate) value: i64,
}

impl Baseline {
    /// The lowest of a few reads over 100 ms: what other activity isolates,
    /// maps or mlocks for a moment is not taken as the floor (so it cannot
    /// fake an underflow later).
    pub(crate) fn take(stat: Stat) -> Self {
        let [b] = Self::take_all([stat]);
        b
    }

    /// [`Baseline::take`] of several counters over the same 100 ms: each is
    /// the lowest of its five reads, and a scenario's setup waits once, not
    /// once per counter (100 ms each, a third of the time to a first round
    /// measured for `migrate_teardown_anon_vma`).
    pub(crate) fn take_all<const N: usize>(stats: [Stat; N]) -> [Self; N] {
        let mut values = stats.map(ffi::stat);
        for _ in 0..4 {
            fsleep(Delta::from_millis(25));
            for (v, s) in values.iter_mut().zip(stats) {
                *v = (*v).min(ffi::stat(s));
            }
        }
        core::array::from_fn(|i| Self {
            stat: stats[i],
            value: values[i],
        })
    }

    /// The counter must come back to within `slack` of the baseline, in
    /// both directions (other activity in the guest moves it too), within
    /// `settle_ms`: a leak stays above it, an underflow (a double
    /// decrement) below it.
    pub(crate) fn check(&self, slack: i64, settle_ms: u64) -> Option<Violation> {
        let t0 = Instant::<Monotonic>::now();
        loop {
            let now = ffi::stat(self.stat);
            if (now - self.value).abs() <= slack {
                return None;
            }
            if t0.elapsed().as_millis() as u64 >= settle_ms {
                return Some(Violation {
                    invariant: Invariant::VmstatBaseline,
                    addr: 0,
                    pfn: 0,
                    expected: self.value as u64,
                    found: now as u64,
                    what: self.stat.name(),
                });
            }
            fsleep(Delta::from_millis(20));
        }
    }
}
