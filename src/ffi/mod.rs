// SPDX-License-Identifier: GPL-2.0

//! The FFI layer: the only place in mmtorture with `unsafe` code.
//!
//! Everything here wraps either an `mmt_*` function of `src/shim.c` (which
//! resolves unexported symbols and wraps static inlines and macros) or an
//! exported kernel function, in a safe Rust API whose types carry the
//! contract: [`FolioRef`] owns a folio reference, [`folio::FolioLock`] proves the
//! folio lock, [`MmUse`] proves the current kthread has the test mm attached,
//! [`IsolatedList`] owns LRU-isolated folios and puts them back on drop,
//! [`Kthread`] owns a thread and joins it on drop.
//!
//! One object per file, each declaring the shim functions it calls:
//! [`mm`] (the test mm and [`MmUse`]), [`file`] ([`ShmemFile`]), [`pte`]
//! ([`pte_lookup`]), [`folio`] ([`FolioRef`], `FolioLock`, the reverse
//! map), [`isolate`] ([`IsolatedList`], migration), [`park`] ([`ParkPoint`]),
//! [`gup`] ([`PageRef`]), [`kthread`] ([`Kthread`]), [`stat`] (vmstat). This
//! file keeps the small free functions, the opaque C types and the checks of
//! the shim's struct layouts.
//!
//! # Lock order
//!
//! `Torture::inner` (debugfs/rmmod only) → the kernel's mmap_lock → folio
//! lock ([`FolioRef::lock`]) → anon_vma/i_mmap lock (taken inside
//! [`folio::FolioLock::rmap_walk`]) → page-table lock (taken inside [`pte_lookup`]).
//! The engine's `RunShared` mutexes (violations, result, skip, stuck) are
//! leaf locks, never held across a call that takes another.
//! `copy_{to,from}_user()` ([`MmUse::write`], [`MmUse::read`]) is never
//! called with the mmap_lock held: it faults and takes it.

use kernel::ffi::{c_char, c_int, c_ulong};
use kernel::{mm::MmWithUser, prelude::*};

mod file;
mod folio;
mod gup;
mod isolate;
mod kthread;
mod mltrace;
mod mm;
mod park;
mod pte;
mod stat;

pub(crate) use file::ShmemFile;
pub(crate) use folio::FolioRef;
pub(crate) use gup::PageRef;
pub(crate) use isolate::{migrate_misplaced, IsolatedList, NewFolio};
pub(crate) use kthread::{
    exit_orphaned, kthread_should_stop, module_pin, module_unpin, nap, sleep_until_woken, Kthread,
    ThreadMain,
};
pub(crate) use mltrace::MlockTrace;
pub(crate) use mm::{mm_create, MmUse};
pub(crate) use park::ParkPoint;
pub(crate) use pte::{pte_lookup, PteLookup, PteState};
pub(crate) use stat::{mod_isolated_anon, stat, Stat};

/// Declares opaque C types: the shim's prototypes use these rather than the
/// bindgen structs, which are not FFI-safe as far as rustc can tell.
macro_rules! opaque {
    ($($name:ident => $c:literal),* $(,)?) => {$(
        #[doc = concat!("Opaque `struct ", $c, "`.")]
        #[repr(C)]
        pub(crate) struct $name {
            _opaque: [u8; 0],
        }
    )*};
}

opaque!(
    RawFile => "file",
    RawFolio => "folio",
    RawMm => "mm_struct",
    RawPage => "page",
    RawPark => "mmt_park",
    RawTask => "task_struct",
    RawVma => "vm_area_struct",
);

fn raw_mm(mm: &MmWithUser) -> *mut RawMm {
    mm.as_raw().cast()
}

/// The shim's layouts and constants, generated from src/abi.c by Kbuild
/// (into `src/`, hence the path).
mod abi {
    #![allow(dead_code)]
    include!("../abi_gen.rs");
}

// The Rust mirrors of shim.h's structs (`pte::RawPteInfo`,
// `folio::RawFolioInfo`) must match it exactly: a field moved, resized or
// reordered on either side is a compile error here, not a silent misread.
const _: () = {
    use core::mem::{offset_of, size_of};
    use folio::RawFolioInfo;
    use pte::RawPteInfo;
    assert!(size_of::<RawPteInfo>() == abi::MMT_PTE_INFO_SIZE);
    assert!(offset_of!(RawPteInfo, kind) == abi::MMT_PTE_INFO_KIND);
    assert!(offset_of!(RawPteInfo, writable) == abi::MMT_PTE_INFO_WRITABLE);
    assert!(offset_of!(RawPteInfo, pfn) == abi::MMT_PTE_INFO_PFN);
    assert!(offset_of!(RawPteInfo, folio) == abi::MMT_PTE_INFO_FOLIO);
    assert!(size_of::<RawFolioInfo>() == abi::MMT_FOLIO_INFO_SIZE);
    assert!(offset_of!(RawFolioInfo, pfn) == abi::MMT_FOLIO_INFO_PFN);
    assert!(offset_of!(RawFolioInfo, nid) == abi::MMT_FOLIO_INFO_NID);
    assert!(offset_of!(RawFolioInfo, order) == abi::MMT_FOLIO_INFO_ORDER);
    assert!(offset_of!(RawFolioInfo, mapcount) == abi::MMT_FOLIO_INFO_MAPCOUNT);
    assert!(offset_of!(RawFolioInfo, refcount) == abi::MMT_FOLIO_INFO_REFCOUNT);
    assert!(offset_of!(RawFolioInfo, mlock_count) == abi::MMT_FOLIO_INFO_MLOCK_COUNT);
    assert!(offset_of!(RawFolioInfo, anon) == abi::MMT_FOLIO_INFO_ANON);
    assert!(offset_of!(RawFolioInfo, lru) == abi::MMT_FOLIO_INFO_LRU);
    assert!(offset_of!(RawFolioInfo, mlocked) == abi::MMT_FOLIO_INFO_MLOCKED);
    assert!(offset_of!(RawFolioInfo, locked) == abi::MMT_FOLIO_INFO_LOCKED);
    assert!(offset_of!(RawFolioInfo, unevictable) == abi::MMT_FOLIO_INFO_UNEVICTABLE);
};

extern "C" {
    fn mmt_resolve_symbols(missing: *mut *const c_char, ibt_force: bool) -> c_int;
    fn mmt_lru_add_drain_all();
    fn mmt_rcu_barrier();
    fn mmt_migrate_mm(mm: *mut RawMm, from: c_int, to: c_int) -> c_int;
    fn mmt_num_online_cpus() -> c_int;
    fn mmt_cpu_online(cpu: c_int) -> bool;
    fn mmt_node_online(nid: c_int) -> bool;
    fn mmt_cond_resched();
    fn mmt_random_u64() -> u64;
    fn mmt_ktime_fast_ns() -> u64;
    fn mmt_report_taints() -> c_ulong;
}

/// Resolves every unexported symbol the shim needs. On failure, logs the
/// missing symbol's name and returns `ENOENT`, so `insmod` fails clearly;
/// `ENOEXEC` (each unusable symbol named on the console) if kernel IBT is
/// enforced (or `ibt_force`) and a resolved function has no ENDBR.
pub(crate) fn resolve_symbols(ibt_force: bool) -> Result {
    let mut missing: *const c_char = core::ptr::null();
    // SAFETY: `missing` is a valid location for the shim to store a pointer to
    // a static string.
    let ret = unsafe { mmt_resolve_symbols(&mut missing, ibt_force) };
    if ret == 0 {
        return Ok(());
    }
    if !missing.is_null() {
        // SAFETY: on failure the shim stores a pointer to a static,
        // NUL-terminated symbol name.
        let name = unsafe { CStr::from_char_ptr(missing) };
        pr_err!(
            "cannot resolve kernel symbol {}: is this the kernel mmtorture was built for?\n",
            name.to_str().unwrap_or("?")
        );
        return Err(ENOENT);
    }
    Err(Error::from_errno(ret))
}

/// `rcu_barrier()`: waits for every pending RCU callback (SLAB_TYPESAFE_BY_RCU
/// frees with CONFIG_SLUB_RCU_DEBUG included).
pub(crate) fn rcu_barrier() {
    // SAFETY: sleepable context, no locks held by our callers.
    unsafe { mmt_rcu_barrier() };
}

/// `lru_add_drain_all()`: flushes per-cpu LRU batches so folios can be isolated.
pub(crate) fn lru_add_drain_all() {
    // SAFETY: no preconditions beyond sleepable context.
    unsafe { mmt_lru_add_drain_all() };
}

/// `do_migrate_pages(mm, {from}, {to}, MPOL_MF_MOVE)`: the migrate_pages(2)
/// path. Takes the mmap_lock itself: the caller must not hold it. Returns the
/// number of pages not migrated.
pub(crate) fn migrate_mm(mm: &MmWithUser, from: i32, to: i32) -> Result<i32> {
    if !node_online(from) || !node_online(to) {
        return Err(EINVAL);
    }
    // SAFETY: `mm` is valid (we hold mm_users); nodes are online.
    let ret = unsafe { mmt_migrate_mm(raw_mm(mm), from, to) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(ret)
}

/// Number of online CPUs.
pub(crate) fn num_online_cpus() -> u32 {
    // SAFETY: no preconditions.
    unsafe { mmt_num_online_cpus() as u32 }
}

/// Is `cpu` online?
pub(crate) fn cpu_online(cpu: u32) -> bool {
    // SAFETY: the shim range-checks `cpu`.
    unsafe { mmt_cpu_online(cpu as c_int) }
}

/// Is NUMA node `nid` online?
pub(crate) fn node_online(nid: i32) -> bool {
    // SAFETY: the shim range-checks `nid`.
    unsafe { mmt_node_online(nid) }
}

/// `cond_resched()`.
pub(crate) fn cond_resched() {
    // SAFETY: callers are kthreads in sleepable context.
    unsafe { mmt_cond_resched() };
}

/// The kernel taints a report leaves (bit i = taint i): BAD_PAGE (KASAN,
/// Bad page state), WARN, DIE.
pub(crate) fn report_taints() -> usize {
    // SAFETY: no preconditions.
    unsafe { mmt_report_taints() }
}

/// Monotonic milliseconds (NMI-safe clock), for rate limits.
pub(crate) fn now_ms() -> u64 {
    // SAFETY: no preconditions.
    unsafe { mmt_ktime_fast_ns() / 1_000_000 }
}

/// `get_random_u64()`: used only when no seed was given.
pub(crate) fn random_u64() -> u64 {
    // SAFETY: no preconditions.
    unsafe { mmt_random_u64() }
}
