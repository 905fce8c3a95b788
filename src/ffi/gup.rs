// SPDX-License-Identifier: GPL-2.0

//! [`PageRef`]: a GUP reference (get or pin) on a mapped page.

use super::{raw_mm, RawMm, RawPage};
use core::ptr::NonNull;
use kernel::{
    ffi::{c_ulong, c_void},
    mm::{MmWithUser, MmapReadGuard},
    page::PAGE_SIZE,
};

extern "C" {
    fn mmt_gup_page(mm: *mut RawMm, addr: c_ulong, pin: bool) -> *mut RawPage;
    fn mmt_gup_release(page: *mut RawPage, pin: bool);
    fn mmt_page_pfn(page: *mut RawPage) -> c_ulong;
    fn mmt_page_write(page: *mut RawPage, off: usize, src: *const c_void, len: usize);
}

/// An extra reference on a mapped page taken the way GUP users take it
/// (`get_user_pages_remote()`, or `pin_user_pages_remote()` if `pin`).
///
/// # Invariants
///
/// `page` holds one reference (or pin, if `pin`) taken by `mmt_gup_page`.
pub(crate) struct PageRef {
    page: NonNull<RawPage>,
    pin: bool,
}

// SAFETY: GUP references may be released from any thread.
unsafe impl Send for PageRef {}

impl PageRef {
    /// GUPs the page at `addr` (faulting it in, for write).
    pub(crate) fn grab(
        mm: &MmWithUser,
        _locked: &MmapReadGuard<'_>,
        addr: usize,
        pin: bool,
    ) -> Option<Self> {
        // SAFETY: `mm`'s mmap_lock is held (the guard), as GUP requires.
        let page = unsafe { mmt_gup_page(raw_mm(mm), addr as c_ulong, pin) };
        // INVARIANT: a non-NULL page comes with the reference (or pin) taken.
        NonNull::new(page).map(|page| Self { page, pin })
    }

    /// The page frame the reference holds.
    pub(crate) fn pfn(&self) -> usize {
        // SAFETY: we hold a reference on the page.
        unsafe { mmt_page_pfn(self.page.as_ptr()) }
    }

    /// Writes `data` at `off` through the kernel mapping of the page.
    pub(crate) fn write(&self, off: usize, data: &[u8]) {
        let len = data.len().min(PAGE_SIZE.saturating_sub(off));
        // SAFETY: we hold a reference; `off + len` is within the page.
        unsafe { mmt_page_write(self.page.as_ptr(), off, data.as_ptr().cast(), len) };
    }
}

impl Drop for PageRef {
    fn drop(&mut self) {
        // SAFETY: by the invariant we own this reference or pin.
        unsafe { mmt_gup_release(self.page.as_ptr(), self.pin) };
    }
}
