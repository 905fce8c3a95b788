// SPDX-License-Identifier: GPL-2.0

//! [`pte_lookup`]: what one user address resolves to in the page tables.

use super::{abi, folio::FolioRef, raw_mm, RawFolio, RawMm};
use core::ptr::NonNull;
use kernel::ffi::{c_int, c_ulong};
use kernel::mm::{MmWithUser, MmapReadGuard};

extern "C" {
    fn mmt_pte_lookup(
        mm: *mut RawMm,
        addr: c_ulong,
        get_folio: bool,
        info: *mut RawPteInfo,
    ) -> c_int;
}

/// `struct mmt_pte_info` (shim.h); its layout is checked in the parent module.
#[repr(C)]
#[derive(Default)]
pub(super) struct RawPteInfo {
    pub(super) kind: c_int,
    pub(super) writable: bool,
    pub(super) pfn: c_ulong,
    pub(super) folio: Option<NonNull<RawFolio>>,
}

/// What one user address resolves to in the page tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PteState {
    /// No page table or `pte_none`.
    None,
    /// A present PTE (`huge`: a PMD-mapped THP).
    Present {
        pfn: usize,
        writable: bool,
        huge: bool,
    },
    /// A migration entry (`huge`: in a PMD).
    Migration { pfn: usize, huge: bool },
    /// Any other non-present entry (swap, device, marker).
    Other,
}

/// Result of [`pte_lookup`]: the state, and the mapped folio if asked for.
pub(crate) struct PteLookup {
    pub(crate) state: PteState,
    pub(crate) folio: Option<FolioRef>,
}

/// Reads the page-table entry for `addr` in `mm` under its page-table lock.
/// With `get_folio`, a present entry's folio is returned with a reference.
pub(crate) fn pte_lookup(
    mm: &MmWithUser,
    _locked: &MmapReadGuard<'_>,
    addr: usize,
    get_folio: bool,
) -> PteLookup {
    let mut raw = RawPteInfo::default();
    // SAFETY: `mm` is valid and its mmap_lock is held (the guard proves it);
    // `raw` is a valid out-parameter.
    unsafe { mmt_pte_lookup(raw_mm(mm), addr as c_ulong, get_folio, &mut raw) };
    let state = raw.state();
    // SAFETY: the shim took a reference on `raw.folio` for us, which the
    // `FolioRef` now owns.
    let folio = raw.folio.map(|f| unsafe { FolioRef::from_raw(f) });
    PteLookup { state, folio }
}

impl RawPteInfo {
    /// The entry's state as [`PteState`].
    pub(super) fn state(&self) -> PteState {
        let (pfn, writable) = (self.pfn, self.writable);
        match self.kind as usize {
            abi::MMT_PTE_NONE => PteState::None,
            abi::MMT_PTE_PRESENT => PteState::Present {
                pfn,
                writable,
                huge: false,
            },
            abi::MMT_PTE_MIGRATION => PteState::Migration { pfn, huge: false },
            abi::MMT_PMD_PRESENT => PteState::Present {
                pfn,
                writable,
                huge: true,
            },
            abi::MMT_PMD_MIGRATION => PteState::Migration { pfn, huge: true },
            _ => PteState::Other,
        }
    }
}
