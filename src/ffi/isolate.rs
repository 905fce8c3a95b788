// SPDX-License-Identifier: GPL-2.0

//! [`IsolatedList`]: LRU-isolated folios and migrate_pages(), and the
//! NUMA-misplaced migration path.

use super::{folio::FolioRef, raw_mm, RawFolio, RawMm};
use kernel::ffi::{c_int, c_ulong};
use kernel::{
    bindings,
    mm::{MmWithUser, MmapReadGuard},
    prelude::*,
    types::Opaque,
};

extern "C" {
    fn mmt_list_init(list: *mut bindings::list_head);
    fn mmt_isolate_folio_to_list(folio: *mut RawFolio, list: *mut bindings::list_head) -> bool;
    fn mmt_putback_movable_pages(list: *mut bindings::list_head);
    fn mmt_migrate_pages_to_node(
        list: *mut bindings::list_head,
        nid: c_int,
        sync: bool,
        succeeded: *mut u32,
    ) -> c_int;
    fn mmt_alloc_migration_target(src: *mut RawFolio, nid: c_int) -> *mut RawFolio;
    fn mmt_migrate_pages_cb(
        list: *mut bindings::list_head,
        get_new: unsafe extern "C" fn(*mut RawFolio, c_ulong) -> *mut RawFolio,
        private: c_ulong,
        succeeded: *mut u32,
    ) -> c_int;
    fn mmt_migrate_misplaced(
        mm: *mut RawMm,
        addr: c_ulong,
        folio: *mut RawFolio,
        nid: c_int,
        isolated: *mut bool,
    ) -> c_int;
}

/// A list of LRU-isolated folios (NR_ISOLATED_* accounted), as compaction
/// and migrate_pages(2) build. Dropping it puts leftovers back.
pub(crate) struct IsolatedList {
    head: Pin<KBox<Opaque<bindings::list_head>>>,
}

impl IsolatedList {
    /// An empty list.
    pub(crate) fn new() -> Result<Self> {
        let head = KBox::pin(Opaque::<bindings::list_head>::uninit(), GFP_KERNEL)?;
        // SAFETY: `head` is pinned, valid memory for a list_head.
        unsafe { mmt_list_init(head.get()) };
        Ok(Self { head })
    }

    /// `isolate_folio_to_list()`: isolates `folio` from the LRU onto this list.
    /// Returns false if it was not on the LRU (already isolated, in a per-cpu
    /// batch, being freed).
    pub(crate) fn isolate(&mut self, folio: &FolioRef) -> bool {
        // SAFETY: we hold a reference on the folio (required by the callee);
        // the list head is valid and initialised.
        unsafe { mmt_isolate_folio_to_list(folio.as_ptr(), self.head.get()) }
    }

    /// `migrate_pages()` to `nid` (MR_SYSCALL). Returns (return value,
    /// folios that succeeded). Folios that failed stay on the list.
    pub(crate) fn migrate_to(&mut self, nid: i32, sync: bool) -> (i32, u32) {
        let mut ok = 0u32;
        // SAFETY: the list holds only folios we isolated; `ok` is a valid
        // out-parameter; migrate_pages() may sleep and we are a kthread.
        let ret = unsafe { mmt_migrate_pages_to_node(self.head.get(), nid, sync, &mut ok) };
        (ret, ok)
    }
}

/// What a [`IsolatedList::migrate_with`] allocator decides for one folio.
pub(crate) enum NewFolio {
    /// Allocate the destination on this node (alloc_migration_target()).
    On(i32),
    /// Refuse: migrate_pages() stops allocating, moves what it already
    /// unmapped, and leaves the rest on the list.
    Refuse,
}

/// `get_new_folio` callback of [`IsolatedList::migrate_with`].
///
/// # Safety
///
/// `private` must be the `&mut &mut dyn FnMut() -> NewFolio` passed by
/// `migrate_with`, alive for the duration of the migrate_pages() call.
unsafe extern "C" fn new_folio_trampoline(src: *mut RawFolio, private: c_ulong) -> *mut RawFolio {
    // SAFETY: by the function's contract.
    let decide = unsafe { &mut *(private as *mut &mut dyn FnMut() -> NewFolio) };
    match decide() {
        // SAFETY: `src` is the folio migrate_pages() is migrating.
        NewFolio::On(nid) => unsafe { mmt_alloc_migration_target(src, nid) },
        NewFolio::Refuse => core::ptr::null_mut(),
    }
}

impl IsolatedList {
    /// `migrate_pages(MIGRATE_SYNC, MR_COMPACTION)` with `decide` called for
    /// each folio's destination, from inside migrate_pages(): after the
    /// folios before it were unmapped (replaced by migration entries) and
    /// before they are moved back. `decide` runs on this thread, with no mm
    /// lock held, and may sleep. Returns (return value, folios migrated).
    pub(crate) fn migrate_with(&mut self, mut decide: impl FnMut() -> NewFolio) -> (i32, u32) {
        let mut ok = 0u32;
        let mut dynf: &mut dyn FnMut() -> NewFolio = &mut decide;
        // SAFETY: the list holds only folios we isolated; the callback
        // argument outlives the call; the trampoline matches new_folio_t.
        let ret = unsafe {
            mmt_migrate_pages_cb(
                self.head.get(),
                new_folio_trampoline,
                core::ptr::from_mut(&mut dynf) as c_ulong,
                &mut ok,
            )
        };
        (ret, ok)
    }
}

impl Drop for IsolatedList {
    fn drop(&mut self) {
        // SAFETY: the list holds only folios isolated by `isolate`;
        // putback_movable_pages() returns them to the LRU and undoes the
        // NR_ISOLATED_* accounting.
        unsafe { mmt_putback_movable_pages(self.head.get()) };
    }
}

/// The NUMA-misplaced migration path (`migrate_misplaced_folio_prepare()` +
/// `migrate_misplaced_folio()`, as do_numa_page()) for the folio mapped at
/// `addr`, consuming our reference. Returns (isolated, migrated).
pub(crate) fn migrate_misplaced(
    mm: &MmWithUser,
    _locked: &MmapReadGuard<'_>,
    addr: usize,
    folio: FolioRef,
    nid: i32,
) -> (bool, bool) {
    let mut isolated = false;
    let raw = folio.as_ptr();
    // Ownership of our reference passes to the shim, which drops it once
    // the folio is isolated (the isolation holds its own), or we drop it.
    let folio = core::mem::ManuallyDrop::new(folio);
    // SAFETY: `mm`'s mmap_lock is held (the guard); we own a reference on
    // `raw`; `isolated` is a valid out-parameter.
    let ret =
        unsafe { mmt_migrate_misplaced(raw_mm(mm), addr as c_ulong, raw, nid, &mut isolated) };
    if !isolated {
        drop(core::mem::ManuallyDrop::into_inner(folio));
    }
    (isolated, ret == 0)
}
