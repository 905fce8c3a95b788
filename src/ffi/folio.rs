// SPDX-License-Identifier: GPL-2.0

//! [`FolioRef`] (a folio reference), [`FolioLock`] (the folio lock held)
//! and the reverse-map walk.

use super::{
    pte::{PteState, RawPteInfo},
    RawFolio, RawMm, RawVma,
};
use core::ptr::NonNull;
use kernel::ffi::{c_int, c_ulong, c_void};

type RmapOne = unsafe extern "C" fn(*mut RawFolio, *mut RawVma, c_ulong, *mut c_void) -> bool;

extern "C" {
    fn mmt_folio_info(folio: *mut RawFolio, info: *mut RawFolioInfo);
    fn mmt_folio_get(folio: *mut RawFolio);
    fn mmt_folio_put(folio: *mut RawFolio);
    fn mmt_folio_isolate_lru(folio: *mut RawFolio) -> bool;
    fn mmt_folio_putback_lru(folio: *mut RawFolio);
    fn mmt_folio_lock(folio: *mut RawFolio);
    fn mmt_folio_unlock(folio: *mut RawFolio);
    fn mmt_folio_split(folio: *mut RawFolio) -> c_int;
    fn mmt_rmap_walk(folio: *mut RawFolio, rmap_one: RmapOne, arg: *mut c_void);
    fn mmt_vma_mm(vma: *mut RawVma) -> *mut RawMm;
    fn mmt_pte_lookup_rmap(vma: *mut RawVma, addr: c_ulong, info: *mut RawPteInfo);
}

/// `struct mmt_folio_info` (shim.h); its layout is checked in the parent
/// module.
#[repr(C)]
#[derive(Default)]
pub(super) struct RawFolioInfo {
    pub(super) pfn: c_ulong,
    pub(super) nid: c_int,
    pub(super) order: c_int,
    pub(super) mapcount: c_int,
    pub(super) refcount: c_int,
    pub(super) mlock_count: c_int,
    pub(super) anon: bool,
    pub(super) lru: bool,
    pub(super) mlocked: bool,
    pub(super) locked: bool,
    pub(super) unevictable: bool,
}

/// Snapshot of a folio's state (`folio_mapcount()`, flags, ...).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FolioInfo {
    pub(crate) pfn: usize,
    pub(crate) nid: i32,
    pub(crate) order: i32,
    pub(crate) mapcount: i32,
    pub(crate) refcount: i32,
    /// folio->mlock_count while on the unevictable LRU (else None): how
    /// many VM_LOCKED mappings mlock counted (it may undercount, never
    /// overcount: mm/mlock.c).
    pub(crate) mlock_count: Option<u32>,
    pub(crate) mlocked: bool,
    /// folio_test_anon(): false for the shared zero page and page cache.
    pub(crate) anon: bool,
}

/// One reference on a folio.
///
/// # Invariants
///
/// `self.0` points to a folio on which this value owns one reference.
pub(crate) struct FolioRef(NonNull<RawFolio>);

// SAFETY: a folio reference may be used and dropped from any thread.
unsafe impl Send for FolioRef {}
// SAFETY: the methods taking `&self` only read folio state or take the folio
// lock, which is safe from any thread.
unsafe impl Sync for FolioRef {}

impl FolioRef {
    /// Takes ownership of a folio reference.
    ///
    /// # Safety
    ///
    /// The caller owns one reference on `folio`, which passes to the result.
    pub(super) unsafe fn from_raw(folio: NonNull<RawFolio>) -> Self {
        // INVARIANT: by the function's contract, we now own one reference.
        Self(folio)
    }

    /// The folio, for the shim (valid while `self` lives).
    pub(super) fn as_ptr(&self) -> *mut RawFolio {
        self.0.as_ptr()
    }

    /// Reads the folio's state.
    pub(crate) fn info(&self) -> FolioInfo {
        let mut raw = RawFolioInfo::default();
        // SAFETY: we hold a reference, so the folio is valid.
        unsafe { mmt_folio_info(self.0.as_ptr(), &mut raw) };
        FolioInfo {
            pfn: raw.pfn,
            nid: raw.nid,
            order: raw.order,
            mapcount: raw.mapcount,
            refcount: raw.refcount,
            mlock_count: u32::try_from(raw.mlock_count).ok(),
            mlocked: raw.mlocked,
            anon: raw.anon,
        }
    }

    /// `folio_isolate_lru()` + `folio_putback_lru()` around `hold`, as
    /// reclaim or compaction would take the folio off its LRU list for a
    /// while. Returns false if it was not on an LRU list.
    pub(crate) fn isolate_lru_for(&self, hold: impl FnOnce()) -> bool {
        // SAFETY: we hold a reference (folio_isolate_lru() requires one).
        if !unsafe { mmt_folio_isolate_lru(self.0.as_ptr()) } {
            return false;
        }
        hold();
        // SAFETY: we isolated it above, so putting it back is ours to do.
        unsafe { mmt_folio_putback_lru(self.0.as_ptr()) };
        true
    }

    /// Takes the folio lock (sleeps).
    pub(crate) fn lock(&self) -> FolioLock<'_> {
        // SAFETY: we hold a reference; we are in sleepable context (callers
        // are kthreads holding no spinlock).
        unsafe { mmt_folio_lock(self.0.as_ptr()) };
        // INVARIANT: the lock was taken above.
        FolioLock { folio: self }
    }
}

impl Clone for FolioRef {
    fn clone(&self) -> Self {
        // SAFETY: we hold a reference, so taking another is allowed.
        unsafe { mmt_folio_get(self.0.as_ptr()) };
        // INVARIANT: the reference taken above is the new value's.
        Self(self.0)
    }
}

impl Drop for FolioRef {
    fn drop(&mut self) {
        // SAFETY: by the invariant we own one reference.
        unsafe { mmt_folio_put(self.0.as_ptr()) };
    }
}

/// The folio lock, held.
///
/// # Invariants
///
/// This value holds `folio`'s lock, taken by [`FolioRef::lock`].
pub(crate) struct FolioLock<'a> {
    folio: &'a FolioRef,
}

/// One mapping found by [`FolioLock::rmap_walk`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct RmapHit {
    /// The mapping mm, as an address (for identity comparison only).
    pub(crate) mm: usize,
    /// Where the folio is expected in that mm.
    pub(crate) addr: usize,
    /// The page-table entry at `addr`, read when the walk got there.
    pub(crate) pte: PteState,
}

/// `rmap_one` callback handed to rmap_walk() by [`FolioLock::rmap_walk`].
///
/// # Safety
///
/// `vma` must be valid and `arg` must point to a live
/// `&mut dyn FnMut(RmapHit) -> bool` (what `FolioLock::rmap_walk` passes).
unsafe extern "C" fn rmap_one_trampoline(
    _folio: *mut RawFolio,
    vma: *mut RawVma,
    addr: c_ulong,
    arg: *mut c_void,
) -> bool {
    // SAFETY: `arg` is the `&mut &mut dyn FnMut` passed by `rmap_walk` below,
    // alive for the duration of the walk.
    let f = unsafe { &mut *arg.cast::<&mut dyn FnMut(RmapHit) -> bool>() };
    // SAFETY: rmap_walk passes a valid vma.
    let mm = unsafe { mmt_vma_mm(vma) } as usize;
    let mut raw = RawPteInfo::default();
    // SAFETY: inside rmap_walk the folio's rmap lock is held, which keeps
    // the vma's page tables alive; `raw` is a valid out-parameter.
    unsafe { mmt_pte_lookup_rmap(vma, addr, &mut raw) };
    f(RmapHit {
        mm,
        addr,
        pte: raw.state(),
    })
}

impl FolioLock<'_> {
    /// `rmap_walk()`: calls `f` for every mapping the kernel's reverse map
    /// finds for this folio, until `f` returns false.
    pub(crate) fn rmap_walk(&self, mut f: impl FnMut(RmapHit) -> bool) {
        let mut dynf: &mut dyn FnMut(RmapHit) -> bool = &mut f;
        // SAFETY: the folio is locked and referenced; the callback argument
        // outlives the call; the trampoline matches `rmap_one`'s prototype.
        unsafe {
            mmt_rmap_walk(
                self.folio.0.as_ptr(),
                rmap_one_trampoline,
                core::ptr::from_mut(&mut dynf).cast(),
            )
        };
    }
}

impl FolioLock<'_> {
    /// `split_folio()`: splits a large folio into order-0 folios (unmap,
    /// split, remap; a PMD mapping is split on the way). The folio this
    /// lock holds becomes the head's order-0 folio, still locked and
    /// referenced. A small folio is left alone.
    pub(crate) fn split(&self) -> kernel::error::Result {
        // SAFETY: the folio is locked (by the invariant) and referenced
        // (`FolioRef`); sleepable context (kthreads holding no spinlock).
        let ret = unsafe { mmt_folio_split(self.folio.0.as_ptr()) };
        kernel::error::to_result(ret)
    }
}

impl Drop for FolioLock<'_> {
    fn drop(&mut self) {
        // SAFETY: we hold the folio lock (taken in `FolioRef::lock`).
        unsafe { mmt_folio_unlock(self.folio.0.as_ptr()) };
    }
}
