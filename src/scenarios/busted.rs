// SPDX-License-Identifier: GPL-2.0

//! `busted`: `smoke` with one piece of real mm state broken on purpose, like
//! locktorture's `lock_busted_ops`, kept apart from the real ops. `bug=N`
//! picks the op from [`BUSTED_OPS`]; the checker named there must report it
//! (selftests/mmtorture_busted.sh runs each and greps for that checker). A
//! busted run that passes means the checker is blind.

use super::smoke::{Breaker, Smoke};
use crate::checkers::{self, PAGE_SIZE};
use crate::engine::{RunShared, WorkerCtx};
use crate::ffi::{self, FolioRef, IsolatedList, MmUse, PageRef, ShmemFile};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Mutex,
    },
    time::{delay::fsleep, Delta},
};

/// A hook of one busted op.
type Hook = fn(&Busted, &Smoke<Busted>, &RunShared, &MmUse<'_>) -> Result;

/// One busted op: what it breaks, where, and which checker must see it.
pub(crate) struct BustedOp {
    pub(crate) name: &'static str,
    /// The checker(s) that must report it (`result` names them).
    pub(crate) caught_by: &'static str,
    /// After the second migration round's migration (migrator thread).
    round: Option<Hook>,
    /// Before the final quiescent checks.
    before_final: Option<Hook>,
    /// After the final quiescent checks (undoes `before_final`).
    after_final: Option<Hook>,
    /// Before the range is unmapped for the teardown check.
    before_teardown: Option<Hook>,
    /// The migrator's nap after the second round loses its timer interrupt.
    lost_nap: bool,
}

const fn op(name: &'static str, caught_by: &'static str) -> BustedOp {
    BustedOp {
        name,
        caught_by,
        round: None,
        before_final: None,
        after_final: None,
        before_teardown: None,
        lost_nap: false,
    }
}

/// The busted ops, by `bug=` number.
pub(crate) static BUSTED_OPS: &[BustedOp] = &[
    // 0: one word of one page is overwritten behind the data pattern's back.
    BustedOp {
        round: Some(corrupt_word),
        ..op("corrupt-word", "data-pattern")
    },
    // 1: one folio is migrated back to the source node, unreported.
    BustedOp {
        round: Some(hidden_migration),
        ..op("hidden-migration", "folio-node")
    },
    // 2: a GUP reference on one folio is held past the mm teardown.
    BustedOp {
        before_teardown: Some(leak_gup_ref),
        ..op("gup-ref-leak", "folio-released")
    },
    // 3: one folio stays isolated across an NR_ISOLATED check.
    BustedOp {
        before_final: Some(leak_isolation),
        ..op("isolation-leak", "vmstat-baseline")
    },
    // 4: one page is replaced by a fresh, unfaulted mapping.
    BustedOp {
        before_final: Some(unmap_page),
        ..op("unmapped-page", "page-present")
    },
    // 5: one shmem page is mapped at two addresses: mapcount 2 and two
    // rmap mappings where the range expects one.
    BustedOp {
        before_final: Some(map_twice),
        after_final: Some(unmap_twice),
        ..op("page-mapped-twice", "mapcount,rmap-mappings")
    },
    // 6: NR_ISOLATED_ANON is decremented once too often (a double putback).
    BustedOp {
        before_final: Some(isolated_underflow),
        ..op("isolated-underflow", "vmstat-baseline")
    },
    // 7: the migrator sleeps uninterruptibly, as a thread the kernel under
    // test wedged would, until 40 s after the runner gave up on it (so its
    // selftest sees the module pinned), at most 4 * stall_s + 60 s.
    BustedOp {
        round: Some(wedge),
        ..op("wedged-worker", "worker-stuck")
    },
    // 8: not an mm bug but the guest's: the migrator's nap never gets its
    // timer interrupt (seen under TCG). The watchdog must wake it (status
    // `nap_kicks`) and the run must pass: no checker may fire.
    BustedOp {
        lost_nap: true,
        ..op("lost-timer-interrupt", "(none: passes with nap_kicks 1)")
    },
];

crate::scenario_params! {
    /// `busted`'s parameter: which op.
    pub(crate) struct BustedParams {
        bug: 0, 0..=8, "0 corrupt-word, 1 hidden-migration, 2 gup-ref-leak, 3 isolation-leak, 4 unmapped-page, 5 page-mapped-twice, 6 isolated-underflow, 7 wedged-worker, 8 lost-timer-interrupt";
    }
}

/// The per-run state of the busted op.
pub(crate) struct Busted {
    op: &'static BustedOp,
    /// The op's round hook has run (it runs once).
    done: Atomic<bool>,
    /// gup-ref-leak's reference, released after the teardown check.
    leaked: Pin<KBox<Mutex<Option<PageRef>>>>,
}

impl Busted {
    fn hook(&self, h: Option<Hook>, s: &Smoke<Self>, run: &RunShared, mm: &MmUse<'_>) -> Result {
        h.map_or(Ok(()), |h| h(self, s, run, mm))
    }
}

impl Breaker for Busted {
    type Params = BustedParams;

    fn new(run: &RunShared) -> Result<Self> {
        let bug = run.params.own::<BustedParams>()?.bug;
        let op = BUSTED_OPS.get(bug as usize).ok_or(EINVAL)?;
        pr_info!(
            "busted: op {} (must be caught by {})\n",
            op.name,
            op.caught_by
        );
        Ok(Self {
            op,
            done: Atomic::new(false),
            leaked: KBox::pin_init(new_mutex!(None), GFP_KERNEL)?,
        })
    }

    fn after_migrate(&self, s: &Smoke<Self>, w: &WorkerCtx<'_>, mm: &MmUse<'_>, r: u64) -> Result {
        if r != 1 || self.done.xchg(true, Relaxed) {
            return Ok(());
        }
        if self.op.lost_nap {
            // A 200 µs nap whose timer interrupt never comes.
            w.nap_lost_timer(Delta::from_micros(200));
        }
        self.hook(self.op.round, s, w.run, mm)
    }

    fn before_final(&self, s: &Smoke<Self>, run: &RunShared, mm: &MmUse<'_>) -> Result {
        self.hook(self.op.before_final, s, run, mm)
    }

    fn after_final(&self, s: &Smoke<Self>, run: &RunShared, mm: &MmUse<'_>) -> Result {
        self.hook(self.op.after_final, s, run, mm)
    }

    fn before_teardown(&self, s: &Smoke<Self>, run: &RunShared, mm: &MmUse<'_>) -> Result {
        self.hook(self.op.before_teardown, s, run, mm)
    }

    fn after_teardown(&self, _run: &RunShared) {
        drop(self.leaked.lock().take());
    }
}

fn victim_addr(s: &Smoke<Busted>) -> usize {
    s.base + s.victim() * PAGE_SIZE
}

/// The folio mapped at the victim page, with a reference (None if unmapped).
fn victim_folio(s: &Smoke<Busted>, mm: &MmUse<'_>) -> Option<FolioRef> {
    let guard = mm.mm().mmap_read_lock();
    ffi::pte_lookup(mm.mm(), &guard, victim_addr(s), true).folio
}

fn corrupt_word(_b: &Busted, s: &Smoke<Busted>, _run: &RunShared, mm: &MmUse<'_>) -> Result {
    mm.write(victim_addr(s) + 8, &0xbad0_bad0_bad0_bad0u64.to_ne_bytes())
}

fn hidden_migration(_b: &Busted, s: &Smoke<Busted>, _run: &RunShared, mm: &MmUse<'_>) -> Result {
    // Round 1 migrated towards round_nodes(1).1: move the victim's folio
    // back to where it came from, and tell nobody.
    let (from, to) = s.round_nodes(1);
    let folio = victim_folio(s, mm);
    let Some(folio) = folio else { return Ok(()) };
    if folio.info().nid != to {
        return Ok(());
    }
    ffi::lru_add_drain_all();
    let mut list = IsolatedList::new()?;
    if list.isolate(&folio) {
        drop(folio);
        list.migrate_to(from, true);
    }
    Ok(())
}

fn leak_gup_ref(b: &Busted, s: &Smoke<Busted>, _run: &RunShared, mm: &MmUse<'_>) -> Result {
    let r = {
        let guard = mm.mm().mmap_read_lock();
        PageRef::grab(mm.mm(), &guard, victim_addr(s), false)
    };
    *b.leaked.lock() = Some(r.ok_or(EFAULT)?);
    Ok(())
}

fn leak_isolation(_b: &Busted, s: &Smoke<Busted>, run: &RunShared, mm: &MmUse<'_>) -> Result {
    let folio = victim_folio(s, mm);
    let folio = folio.ok_or(EFAULT)?;
    // Migrated folios wait in per-cpu LRU batches: flush them.
    ffi::lru_add_drain_all();
    let mut list = IsolatedList::new()?;
    if !list.isolate(&folio) {
        pr_warn!("busted isolation-leak: the folio could not be isolated\n");
        return Err(EAGAIN);
    }
    s.isolated.check(run, 200);
    // Dropping the list puts the folio back.
    Ok(())
}

fn unmap_page(_b: &Busted, s: &Smoke<Busted>, _run: &RunShared, mm: &MmUse<'_>) -> Result {
    let victim = victim_addr(s);
    mm.munmap(victim, PAGE_SIZE)?;
    mm.mmap_anon(victim, PAGE_SIZE).map(|_| ())
}

/// Where page-mapped-twice maps its second copy: just past the range.
fn second_addr(s: &Smoke<Busted>) -> usize {
    s.base + s.pages * PAGE_SIZE
}

fn map_twice(_b: &Busted, s: &Smoke<Busted>, _run: &RunShared, mm: &MmUse<'_>) -> Result {
    let file = ShmemFile::new(PAGE_SIZE)?;
    mm.mmap_file_shared_at(&file, victim_addr(s), PAGE_SIZE)?;
    mm.mmap_file_shared_at(&file, second_addr(s), PAGE_SIZE)?;
    // Fault the one page cache folio in through both mappings.
    mm.write(victim_addr(s), &[1u8; 8])?;
    mm.write(second_addr(s), &[2u8; 8])
    // The mappings hold the file; dropping ours is fine.
}

fn unmap_twice(_b: &Busted, s: &Smoke<Busted>, run: &RunShared, mm: &MmUse<'_>) -> Result {
    mm.munmap(second_addr(s), PAGE_SIZE)?;
    // Back to an anonymous page with its pattern, so the rest of the run
    // (data check, teardown) sees only what the op was about.
    let victim = victim_addr(s);
    mm.munmap(victim, PAGE_SIZE)?;
    mm.mmap_anon(victim, PAGE_SIZE)?;
    let mut buf = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
    checkers::write_pattern(mm, &mut buf, victim, run.seed, s.victim(), 0)
}

fn isolated_underflow(_b: &Busted, s: &Smoke<Busted>, run: &RunShared, _mm: &MmUse<'_>) -> Result {
    ffi::mod_isolated_anon(s.nodes[0], -1);
    s.isolated.check(run, 200);
    ffi::mod_isolated_anon(s.nodes[0], 1);
    Ok(())
}

fn wedge(_b: &Busted, _s: &Smoke<Busted>, run: &RunShared, _mm: &MmUse<'_>) -> Result {
    // fsleep() is msleep(): TASK_UNINTERRUPTIBLE, and no progress stamp.
    // Stay until the runner has given up on this worker (its verdict is
    // written), then WEDGE_AFTER_S more, so the selftest sees the module
    // pinned however slow the host is; never longer than the cap.
    const WEDGE_AFTER_S: u64 = 40;
    let cap = 4 * run.params.stall_s + 60;
    let mut slept = 0;
    while run.orphans() == 0 && slept < cap {
        fsleep(Delta::from_secs(1));
        slept += 1;
    }
    fsleep(Delta::from_secs(WEDGE_AFTER_S.min(cap - slept) as i64));
    Ok(())
}
