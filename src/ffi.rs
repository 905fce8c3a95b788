// SPDX-License-Identifier: GPL-2.0

//! The FFI layer: the only place in mmtorture with `unsafe` code.
//!
//! Everything here wraps either an `mmt_*` function of `src/shim.c` (which
//! resolves unexported symbols and wraps static inlines and macros) or an
//! exported kernel function, in a safe Rust API whose types carry the
//! contract: [`FolioRef`] owns a folio reference, [`FolioLock`] proves the
//! folio lock, [`MmUse`] proves the current kthread has the test mm attached,
//! [`IsolatedList`] owns LRU-isolated folios and puts them back on drop,
//! [`Kthread`] owns a thread and joins it on drop.
//!
//! Lock order used by callers (the kernel's own): mmap_lock → folio lock →
//! anon_vma lock (taken inside rmap_walk) → page-table lock (taken inside
//! [`pte_lookup`]).

use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::ffi::{c_char, c_int, c_ulong, c_void};
use kernel::{
    bindings,
    mm::{MmWithUser, MmapReadGuard},
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc,
    },
    types::Opaque,
    uaccess::{UserPtr, UserSlice},
};

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

#[repr(C)]
#[derive(Default)]
struct RawPteInfo {
    kind: c_int,
    writable: bool,
    pfn: c_ulong,
    folio: Option<NonNull<RawFolio>>,
}

#[repr(C)]
#[derive(Default)]
struct RawFolioInfo {
    pfn: c_ulong,
    nid: c_int,
    order: c_int,
    mapcount: c_int,
    refcount: c_int,
    anon: bool,
    lru: bool,
    mlocked: bool,
    locked: bool,
    unevictable: bool,
}

/// The shim's layouts and constants, generated from src/abi.c by Kbuild.
mod abi {
    #![allow(dead_code)]
    include!("abi_gen.rs");
}

// The mirrors above must match shim.h exactly: a field moved, resized or
// reordered on either side is a compile error here, not a silent misread.
const _: () = {
    use core::mem::{offset_of, size_of};
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
    assert!(offset_of!(RawFolioInfo, anon) == abi::MMT_FOLIO_INFO_ANON);
    assert!(offset_of!(RawFolioInfo, lru) == abi::MMT_FOLIO_INFO_LRU);
    assert!(offset_of!(RawFolioInfo, mlocked) == abi::MMT_FOLIO_INFO_MLOCKED);
    assert!(offset_of!(RawFolioInfo, locked) == abi::MMT_FOLIO_INFO_LOCKED);
    assert!(offset_of!(RawFolioInfo, unevictable) == abi::MMT_FOLIO_INFO_UNEVICTABLE);
};

type RmapOne = unsafe extern "C" fn(*mut RawFolio, *mut RawVma, c_ulong, *mut c_void) -> bool;

extern "C" {
    fn mmt_resolve_symbols(missing: *mut *const c_char, ibt_force: bool) -> c_int;
    fn mmt_mm_create() -> *mut RawMm;
    fn mmt_shmem_file(size: i64) -> *mut RawFile;
    fn mmt_vm_mmap_file_private(file: *mut RawFile, len: c_ulong, locked: bool) -> c_ulong;
    fn mmt_file_truncate(file: *mut RawFile, size: i64) -> c_int;
    fn mmt_fput(file: *mut RawFile);
    fn mmt_folio_isolate_lru(folio: *mut RawFolio) -> bool;
    fn mmt_folio_putback_lru(folio: *mut RawFolio);
    fn mmt_zone_stat(item: c_int) -> i64;
    fn mmt_nr_mlock() -> c_int;
    fn mmt_nr_unevictable() -> c_int;
    fn mmt_kthread_start(
        f: unsafe extern "C" fn(*mut c_void) -> c_int,
        data: *mut c_void,
        cpu: c_int,
        name: *const c_char,
    ) -> *mut RawTask;
    fn mmt_task_set_cpu(t: *mut RawTask, cpu: c_int) -> c_int;
    fn mmt_kthread_stop(t: *mut RawTask) -> c_int;
    fn mmt_kthread_should_stop() -> bool;
    fn mmt_task_show_stack(t: *mut RawTask);
    fn mmt_module_pin() -> bool;
    fn mmt_module_unpin();
    fn mmt_task_put(t: *mut RawTask);
    fn mmt_module_put_and_exit() -> !;
    fn mmt_mod_isolated_anon(nid: c_int, delta: core::ffi::c_long);
    fn mmt_vm_mmap_file_shared(file: *mut RawFile, addr: c_ulong, len: c_ulong) -> c_ulong;
    fn mmt_num_online_cpus() -> c_int;
    fn mmt_cpu_online(cpu: c_int) -> bool;
    fn mmt_node_online(nid: c_int) -> bool;
    fn mmt_pte_lookup(
        mm: *mut RawMm,
        addr: c_ulong,
        get_folio: bool,
        info: *mut RawPteInfo,
    ) -> c_int;
    fn mmt_pte_lookup_rmap(vma: *mut RawVma, addr: c_ulong, info: *mut RawPteInfo);
    fn mmt_folio_info(folio: *mut RawFolio, info: *mut RawFolioInfo);
    fn mmt_folio_get(folio: *mut RawFolio);
    fn mmt_folio_put(folio: *mut RawFolio);
    fn mmt_folio_lock(folio: *mut RawFolio);
    fn mmt_folio_unlock(folio: *mut RawFolio);
    fn mmt_rmap_walk(folio: *mut RawFolio, rmap_one: RmapOne, arg: *mut c_void);
    fn mmt_vma_mm(vma: *mut RawVma) -> *mut RawMm;
    fn mmt_list_init(list: *mut bindings::list_head);
    fn mmt_isolate_folio_to_list(folio: *mut RawFolio, list: *mut bindings::list_head) -> bool;
    fn mmt_lru_add_drain_all();
    fn mmt_putback_movable_pages(list: *mut bindings::list_head);
    fn mmt_migrate_pages_to_node(
        list: *mut bindings::list_head,
        nid: c_int,
        sync: bool,
        succeeded: *mut u32,
    ) -> c_int;
    fn mmt_gup_page(mm: *mut RawMm, addr: c_ulong, pin: bool) -> *mut RawPage;
    fn mmt_gup_release(page: *mut RawPage, pin: bool);
    fn mmt_page_pfn(page: *mut RawPage) -> c_ulong;
    fn mmt_page_write(page: *mut RawPage, off: usize, src: *const c_void, len: usize);
    fn mmt_migrate_misplaced(
        mm: *mut RawMm,
        addr: c_ulong,
        folio: *mut RawFolio,
        nid: c_int,
        isolated: *mut bool,
    ) -> c_int;
    fn mmt_park_register(
        on_start: unsafe extern "C" fn(*mut c_void),
        on_end: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
    ) -> *mut RawPark;
    fn mmt_park_arm(p: *mut RawPark, on: bool);
    fn mmt_park_unregister(p: *mut RawPark);
    fn mmt_alloc_migration_target(src: *mut RawFolio, nid: c_int) -> *mut RawFolio;
    fn mmt_migrate_pages_cb(
        list: *mut bindings::list_head,
        get_new: unsafe extern "C" fn(*mut RawFolio, c_ulong) -> *mut RawFolio,
        private: c_ulong,
        succeeded: *mut u32,
    ) -> c_int;
    fn mmt_rcu_barrier();
    fn mmt_migrate_mm(mm: *mut RawMm, from: c_int, to: c_int) -> c_int;
    fn mmt_node_stat(item: c_int) -> i64;
    fn mmt_nr_isolated_anon() -> c_int;
    fn mmt_nr_isolated_file() -> c_int;
    fn mmt_nr_anon_mapped() -> c_int;
    fn mmt_cond_resched();
    fn mmt_random_u64() -> u64;
    fn mmt_ktime_fast_ns() -> u64;
    fn mmt_report_taints() -> c_ulong;

    // Exported by the kernel; declared here with opaque types.
    fn mmt_vm_mmap_anon(hint: c_ulong, len: c_ulong, growsdown: bool) -> c_ulong;
    fn mmt_sys_mremap(
        addr: c_ulong,
        old_len: c_ulong,
        new_len: c_ulong,
        flags: c_ulong,
        new_addr: c_ulong,
    ) -> isize;
    fn mmt_sys_mlock(start: c_ulong, len: c_ulong, lock: bool) -> isize;
    fn mmt_vma_set_temp_stack(mm: *mut RawMm, addr: c_ulong, on: bool) -> c_int;
    fn mmt_relocate_vma_down(mm: *mut RawMm, addr: c_ulong, shift: c_ulong) -> c_int;
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

/// Creates a fresh, empty user address space (as `kunit_attach_mm()` does).
pub(crate) fn mm_create() -> Result<ARef<MmWithUser>> {
    // SAFETY: no preconditions; returns NULL or an mm with one `mm_users` ref.
    let raw = unsafe { mmt_mm_create() };
    let raw = NonNull::new(raw.cast::<MmWithUser>()).ok_or(ENOMEM)?;
    // SAFETY: `mm_alloc()` returned an mm whose single `mm_users` reference we
    // now own; `MmWithUser` is `repr(transparent)` over `mm_struct`.
    Ok(unsafe { ARef::from_raw(raw) })
}

/// The current kthread's use of a test mm (`kthread_use_mm()` scope).
///
/// # Invariants
///
/// While this exists, `current->mm` is `mm`; it is dropped on the thread that
/// created it (it is neither `Send` nor `Sync`).
pub(crate) struct MmUse<'a> {
    mm: &'a MmWithUser,
    _not_send: PhantomData<*mut ()>,
}

impl<'a> MmUse<'a> {
    /// Attaches `mm` to the current thread. Must be called from one of
    /// mmtorture's kthreads (they have no mm of their own).
    pub(crate) fn new(mm: &'a MmWithUser) -> Self {
        // SAFETY: `mm` is valid for `'a`; our kthreads have no mm, which is
        // what kthread_use_mm() requires (it WARNs otherwise). It takes its
        // own mm_count reference.
        unsafe { bindings::kthread_use_mm(mm.as_raw()) };
        Self {
            mm,
            _not_send: PhantomData,
        }
    }

    /// The attached mm.
    pub(crate) fn mm(&self) -> &'a MmWithUser {
        self.mm
    }

    /// `mmap(NULL or hint, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
    /// [|MAP_FIXED_NOREPLACE])` in the attached mm.
    pub(crate) fn mmap_anon(&self, hint: usize, len: usize) -> Result<usize> {
        self.mmap_anon_flags(hint, len, false)
    }

    /// [`Self::mmap_anon`], with MAP_GROWSDOWN if `growsdown` (a stack).
    pub(crate) fn mmap_anon_flags(
        &self,
        hint: usize,
        len: usize,
        growsdown: bool,
    ) -> Result<usize> {
        // SAFETY: an anonymous mapping in current->mm, which this type's
        // invariant guarantees is the attached test mm.
        let addr = unsafe { mmt_vm_mmap_anon(hint as c_ulong, len as c_ulong, growsdown) };
        // vm_mmap() returns an address or a negative errno.
        if (addr as isize) < 0 && (addr as isize) >= -4095 {
            return Err(Error::from_errno(addr as i32));
        }
        Ok(addr as usize)
    }

    /// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE[|MAP_LOCKED], file, 0)`
    /// in the attached mm (MAP_LOCKED: VM_LOCKED and populated, as mlock()).
    pub(crate) fn mmap_file_private(
        &self,
        file: &ShmemFile,
        len: usize,
        locked: bool,
    ) -> Result<usize> {
        // SAFETY: `file` is a live file we hold a reference on; the mapping
        // is made in current->mm, the attached test mm by the invariant.
        let addr = unsafe { mmt_vm_mmap_file_private(file.0.as_ptr(), len as c_ulong, locked) };
        if (addr as isize) < 0 && (addr as isize) >= -4095 {
            return Err(Error::from_errno(addr as i32));
        }
        Ok(addr)
    }

    /// `mmap(addr, len, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_FIXED, file, 0)`
    /// in the attached mm (replaces whatever was mapped there).
    pub(crate) fn mmap_file_shared_at(&self, file: &ShmemFile, addr: usize, len: usize) -> Result {
        // SAFETY: `file` is a live file we hold a reference on; the mapping
        // is made in current->mm, the attached test mm by the invariant.
        let got =
            unsafe { mmt_vm_mmap_file_shared(file.0.as_ptr(), addr as c_ulong, len as c_ulong) };
        if (got as isize) < 0 && (got as isize) >= -4095 {
            return Err(Error::from_errno(got as i32));
        }
        Ok(())
    }

    /// `mremap(old, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, new)` in the
    /// attached mm, through the syscall entry (copy_vma + move_page_tables).
    pub(crate) fn mremap_fixed(&self, old: usize, len: usize, new: usize) -> Result {
        const MREMAP_MAYMOVE: c_ulong = 1;
        const MREMAP_FIXED: c_ulong = 2;
        // SAFETY: the syscall acts on current->mm, the attached test mm by
        // the invariant; it validates its arguments itself.
        let ret = unsafe {
            mmt_sys_mremap(
                old as c_ulong,
                len as c_ulong,
                len as c_ulong,
                MREMAP_MAYMOVE | MREMAP_FIXED,
                new as c_ulong,
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(())
    }

    /// mlock(2) (`lock`) or munlock(2) of a range of the attached mm,
    /// through the syscall entries.
    pub(crate) fn mlock(&self, start: usize, len: usize, lock: bool) -> Result {
        // SAFETY: the syscalls act on current->mm (the attached test mm by
        // the invariant) and validate their arguments.
        let ret = unsafe { mmt_sys_mlock(start as c_ulong, len as c_ulong, lock) };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(())
    }

    /// Marks (or unmarks) the vma at `addr` as exec's temporary stack
    /// (VM_STACK_INCOMPLETE_SETUP), under the mmap write lock.
    pub(crate) fn set_temp_stack(&self, addr: usize, on: bool) -> Result {
        // SAFETY: the shim takes the mmap write lock of the attached mm.
        let ret = unsafe { mmt_vma_set_temp_stack(raw_mm(self.mm), addr as c_ulong, on) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// `relocate_vma_down()`: exec's stack shift of the vma at `addr` down by
    /// `shift` bytes, under the mmap write lock (as setup_arg_pages()).
    pub(crate) fn relocate_vma_down(&self, addr: usize, shift: usize) -> Result {
        // SAFETY: the shim takes the mmap write lock and looks the vma up.
        let ret =
            unsafe { mmt_relocate_vma_down(raw_mm(self.mm), addr as c_ulong, shift as c_ulong) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// `munmap(addr, len)` in the attached mm.
    pub(crate) fn munmap(&self, addr: usize, len: usize) -> Result {
        // SAFETY: unmapping a range of current->mm (the test mm) has no
        // memory-safety preconditions for the caller.
        let ret = unsafe { bindings::vm_munmap(addr as c_ulong, len) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// `copy_to_user()` into the attached mm (faults pages in as needed).
    pub(crate) fn write(&self, addr: usize, data: &[u8]) -> Result {
        UserSlice::new(UserPtr::from_addr(addr), data.len())
            .writer()
            .write_slice(data)
    }

    /// `copy_from_user()` from the attached mm.
    pub(crate) fn read(&self, addr: usize, out: &mut [u8]) -> Result {
        UserSlice::new(UserPtr::from_addr(addr), out.len())
            .reader()
            .read_slice(out)
    }
}

impl Drop for MmUse<'_> {
    fn drop(&mut self) {
        // SAFETY: by the invariant, we are on the thread that attached `mm`.
        unsafe { bindings::kthread_unuse_mm(self.mm.as_raw()) };
    }
}

/// An unlinked shmem file (as memfd_create() makes), closed on drop.
///
/// # Invariants
///
/// `self.0` is a file reference returned by `shmem_file_setup()`.
pub(crate) struct ShmemFile(NonNull<RawFile>);

// SAFETY: file references may be used and dropped from any thread.
unsafe impl Send for ShmemFile {}
// SAFETY: truncation and mmap on a shared file are thread-safe.
unsafe impl Sync for ShmemFile {}

impl ShmemFile {
    /// A new shmem file of `size` bytes.
    pub(crate) fn new(size: usize) -> Result<Self> {
        // SAFETY: no preconditions; returns a file or an error pointer.
        let f = unsafe { mmt_shmem_file(size as i64) };
        let f = kernel::error::from_err_ptr(f)?;
        // INVARIANT: not an error pointer, so a file reference.
        NonNull::new(f).map(Self).ok_or(ENOMEM)
    }

    /// truncate(2): `vfs_truncate()` to `size` bytes.
    pub(crate) fn truncate(&self, size: usize) -> Result {
        // SAFETY: we hold a reference on the file; sleepable context.
        let ret = unsafe { mmt_file_truncate(self.0.as_ptr(), size as i64) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }
}

impl Drop for ShmemFile {
    fn drop(&mut self) {
        // SAFETY: by the invariant we own this reference.
        unsafe { mmt_fput(self.0.as_ptr()) };
    }
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
    // INVARIANT: the shim took a reference on `raw.folio` for us.
    let folio = raw.folio.map(FolioRef);
    PteLookup { state, folio }
}

impl RawPteInfo {
    fn state(&self) -> PteState {
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

/// Snapshot of a folio's state (`folio_mapcount()`, flags, ...).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FolioInfo {
    pub(crate) pfn: usize,
    pub(crate) nid: i32,
    pub(crate) order: i32,
    pub(crate) mapcount: i32,
    pub(crate) refcount: i32,
    pub(crate) mlocked: bool,
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
            mlocked: raw.mlocked,
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
        FolioLock { folio: self }
    }
}

impl Clone for FolioRef {
    fn clone(&self) -> Self {
        // SAFETY: we hold a reference, so taking another is allowed.
        unsafe { mmt_folio_get(self.0.as_ptr()) };
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

impl Drop for FolioLock<'_> {
    fn drop(&mut self) {
        // SAFETY: we hold the folio lock (taken in `FolioRef::lock`).
        unsafe { mmt_folio_unlock(self.folio.0.as_ptr()) };
    }
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
        unsafe { mmt_isolate_folio_to_list(folio.0.as_ptr(), self.head.get()) }
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

/// The shared state of a [`ParkPoint`].
struct ParkState {
    /// While closed, the armed thread spins at move_page_tables() entry.
    closed: Atomic<bool>,
    entered: Atomic<u64>,
    exited: Atomic<u64>,
    timeouts: Atomic<u64>,
    timeout_ns: u64,
}

/// Entry handler of the park kretprobe (atomic context: spins, never sleeps).
///
/// # Safety
///
/// `arg` must point to the live `ParkState` the probe was registered with.
unsafe extern "C" fn park_on_start(arg: *mut c_void) {
    // SAFETY: by the function's contract.
    let st = unsafe { &*arg.cast::<ParkState>() };
    st.entered.add(1, Relaxed);
    // The handler runs in int3 (NMI-like) context: only the NMI-safe clock.
    // SAFETY: no preconditions.
    let t0 = unsafe { mmt_ktime_fast_ns() };
    while st.closed.load(Acquire) {
        // SAFETY: no preconditions.
        if unsafe { mmt_ktime_fast_ns() } - t0 >= st.timeout_ns {
            st.timeouts.add(1, Relaxed);
            break;
        }
        core::hint::spin_loop();
    }
}

/// Return handler of the park kretprobe.
///
/// # Safety
///
/// As [`park_on_start`].
unsafe extern "C" fn park_on_end(arg: *mut c_void) {
    // SAFETY: by the function's contract.
    let st = unsafe { &*arg.cast::<ParkState>() };
    st.exited.fetch_add(1, Release);
}

/// A race window held open on purpose: a kretprobe on move_page_tables(),
/// which the kernel enters after it expanded (relocate_vma_down) or
/// copied/merged (copy_vma) the vma and before it moves any pte. The thread
/// that armed it spins at that entry while the gate is closed (bounded by a
/// timeout: the probe runs with preemption off).
///
/// # Invariants
///
/// `raw` is a registered probe whose callbacks get a pointer to `*state`,
/// which stays allocated until the probe is unregistered in `Drop`.
pub(crate) struct ParkPoint {
    raw: NonNull<RawPark>,
    state: Pin<KBox<ParkState>>,
}

// SAFETY: the probe and its state are only touched through atomics and the
// shim's arm/unregister, which are safe from any thread.
unsafe impl Send for ParkPoint {}
// SAFETY: as above.
unsafe impl Sync for ParkPoint {}

impl ParkPoint {
    /// Registers the probe, gate open, armed for nobody.
    pub(crate) fn new(timeout_ms: u64) -> Result<Self> {
        let state = KBox::pin(
            ParkState {
                closed: Atomic::new(false),
                entered: Atomic::new(0),
                exited: Atomic::new(0),
                timeouts: Atomic::new(0),
                timeout_ns: timeout_ms * 1_000_000,
            },
            GFP_KERNEL,
        )?;
        let arg = core::ptr::from_ref::<ParkState>(&state).cast_mut().cast();
        // SAFETY: the callbacks match the shim's prototypes; `arg` points to
        // pinned state that outlives the registration (see `Drop`).
        let raw = unsafe { mmt_park_register(park_on_start, park_on_end, arg) };
        let raw = NonNull::new(kernel::error::from_err_ptr(raw)?).ok_or(ENOMEM)?;
        Ok(Self { raw, state })
    }

    /// Arms the park for the current thread (or disarms it).
    pub(crate) fn arm(&self, on: bool) {
        // SAFETY: the probe is registered (invariant).
        unsafe { mmt_park_arm(self.raw.as_ptr(), on) };
    }

    /// Closes (the armed thread will wait) or opens the gate.
    pub(crate) fn close(&self, closed: bool) {
        self.state.closed.store(closed, Release);
    }

    /// Times the armed thread entered move_page_tables().
    pub(crate) fn entered(&self) -> u64 {
        self.state.entered.load(Acquire)
    }

    /// Times the armed thread returned from move_page_tables().
    pub(crate) fn exited(&self) -> u64 {
        self.state.exited.load(Acquire)
    }

    /// Times it waited out the whole timeout.
    pub(crate) fn timeouts(&self) -> u64 {
        self.state.timeouts.load(Relaxed)
    }
}

impl Drop for ParkPoint {
    fn drop(&mut self) {
        self.close(false);
        // SAFETY: registered (invariant); unregistering waits for running
        // handlers, after which `state` is no longer referenced.
        unsafe { mmt_park_unregister(self.raw.as_ptr()) };
    }
}

/// `rcu_barrier()`: waits for every pending RCU callback (SLAB_TYPESAFE_BY_RCU
/// frees with CONFIG_SLUB_RCU_DEBUG included).
pub(crate) fn rcu_barrier() {
    // SAFETY: sleepable context, no locks held by our callers.
    unsafe { mmt_rcu_barrier() };
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
    let raw = folio.0.as_ptr();
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

/// vmstat counters the checkers read, exactly (per-cpu deltas folded in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stat {
    IsolatedAnon,
    IsolatedFile,
    AnonMapped,
    Mlock,
    Unevictable,
}

impl Stat {
    /// The counter's name in /proc/vmstat.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stat::IsolatedAnon => "nr_isolated_anon",
            Stat::IsolatedFile => "nr_isolated_file",
            Stat::AnonMapped => "nr_anon_pages",
            Stat::Mlock => "nr_mlock",
            Stat::Unevictable => "nr_unevictable",
        }
    }
}

/// Reads a vmstat counter (pages).
pub(crate) fn stat(s: Stat) -> i64 {
    // SAFETY: the item getters return valid enum values; the readers only
    // sum atomics and per-cpu diffs.
    unsafe {
        match s {
            Stat::IsolatedAnon => mmt_node_stat(mmt_nr_isolated_anon()),
            Stat::IsolatedFile => mmt_node_stat(mmt_nr_isolated_file()),
            Stat::AnonMapped => mmt_node_stat(mmt_nr_anon_mapped()),
            Stat::Unevictable => mmt_node_stat(mmt_nr_unevictable()),
            Stat::Mlock => mmt_zone_stat(mmt_nr_mlock()),
        }
    }
}

/// Busted op only: moves NR_ISOLATED_ANON of node `nid` by `delta` pages
/// without isolating anything (what a double putback would leave).
pub(crate) fn mod_isolated_anon(nid: i32, delta: i64) {
    // SAFETY: the shim range-checks `nid`; the counter is only arithmetic.
    unsafe { mmt_mod_isolated_anon(nid, delta as core::ffi::c_long) };
}

/// A kthread running `T::thread_main` on a shared `Arc<T>`.
///
/// # Invariants
///
/// `task` was returned by `mmt_kthread_start` and we hold a reference on it;
/// `data` is the `Arc` pointer handed to the thread, whose ownership passes
/// to the thread once its function runs.
pub(crate) struct Kthread<T: ThreadMain> {
    task: NonNull<RawTask>,
    data: *const T,
}

// SAFETY: a task reference may be used from any thread; `data` is only turned
// back into an `Arc<T>` (which is Send for T: Send + Sync) in `Drop`.
unsafe impl<T: ThreadMain> Send for Kthread<T> {}
// SAFETY: `&Kthread` only allows `set_cpu`, safe from any thread.
unsafe impl<T: ThreadMain> Sync for Kthread<T> {}

/// The body of a kthread.
pub(crate) trait ThreadMain: Send + Sync + Sized + 'static {
    /// Runs on the new thread. Should return once [`kthread_should_stop`] or
    /// its own stop condition is true.
    fn thread_main(this: Arc<Self>);
}

/// Thread function of every [`Kthread`].
///
/// # Safety
///
/// `data` must come from `Arc::<T>::into_raw` and be owned by this call.
unsafe extern "C" fn kthread_trampoline<T: ThreadMain>(data: *mut c_void) -> c_int {
    // SAFETY: `data` came from `Arc::into_raw` in `Kthread::start`; the thread
    // function runs at most once, so ownership is taken exactly once.
    let arc = unsafe { Arc::from_raw(data.cast::<T>()) };
    T::thread_main(arc);
    0
}

impl<T: ThreadMain> Kthread<T> {
    /// Starts a kthread named `name` allowed on `cpu` (or anywhere if `cpu`
    /// is negative), running `T::thread_main(data)`.
    pub(crate) fn start(data: Arc<T>, cpu: i32, name: &CStr) -> Result<Self> {
        let raw = Arc::into_raw(data);
        // SAFETY: the trampoline matches `int (*)(void *)`; `raw` stays valid
        // until the thread drops it or `Drop` reclaims it; `name` is a valid
        // C string for the duration of the call.
        let task = unsafe {
            mmt_kthread_start(
                kthread_trampoline::<T>,
                raw as *mut c_void,
                cpu,
                name.as_char_ptr(),
            )
        };
        if let Some(e) = kernel::error::from_err_ptr(task).err() {
            // SAFETY: the thread was not created, so we still own `raw`.
            drop(unsafe { Arc::from_raw(raw) });
            return Err(e);
        }
        Ok(Self {
            // SAFETY: not an error pointer, so a valid task.
            task: unsafe { NonNull::new_unchecked(task) },
            data: raw,
        })
    }

    /// Moves the thread to `cpu` (CPU shuffling).
    pub(crate) fn set_cpu(&self, cpu: i32) -> Result {
        // SAFETY: we hold a reference on the task.
        let ret = unsafe { mmt_task_set_cpu(self.task.as_ptr(), cpu) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }
}

impl<T: ThreadMain> Kthread<T> {
    /// Prints the thread's stack on the console (`sched_show_task()`).
    pub(crate) fn show_stack(&self) {
        // SAFETY: we hold a reference on the task.
        unsafe { mmt_task_show_stack(self.task.as_ptr()) };
    }

    /// Gives up on joining a thread that does not return (stuck in the
    /// kernel under test): releases the task reference without
    /// kthread_stop(). The thread must have started its function (so it owns
    /// its `Arc`), and a [`module_pin`] reference must be held for it, which
    /// the thread drops with [`exit_orphaned`].
    pub(crate) fn forget(self) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: we hold a task reference (the invariant), released here
        // instead of by kthread_stop_put(); the thread runs on and owns `data`.
        unsafe { mmt_task_put(this.task.as_ptr()) };
    }
}

/// `try_module_get(THIS_MODULE)`: false once the module is going away.
pub(crate) fn module_pin() -> bool {
    // SAFETY: no preconditions.
    unsafe { mmt_module_pin() }
}

/// `module_put(THIS_MODULE)` of a [`module_pin`] reference.
pub(crate) fn module_unpin() {
    // SAFETY: callers drop only a reference they took with module_pin().
    unsafe { mmt_module_unpin() }
}

/// Ends an orphaned kthread: drops the module reference [`module_pin`]
/// took and exits without returning into module code.
pub(crate) fn exit_orphaned() -> ! {
    // SAFETY: called only by a thread whose handle was orphaned, so the module
    // reference this releases was taken for it.
    unsafe { mmt_module_put_and_exit() }
}

impl<T: ThreadMain> Drop for Kthread<T> {
    /// `kthread_stop()`: asks the thread to stop and waits for it.
    fn drop(&mut self) {
        // SAFETY: we hold a task reference, released by kthread_stop_put().
        let ret = unsafe { mmt_kthread_stop(self.task.as_ptr()) };
        if ret == EINTR.to_errno() {
            // The thread function never ran (stopped before it was
            // scheduled), so the `Arc` handed to it is still ours.
            // SAFETY: `data` came from `Arc::into_raw` and was not consumed.
            drop(unsafe { Arc::from_raw(self.data) });
        }
    }
}

/// `kthread_should_stop()` for the current kthread.
pub(crate) fn kthread_should_stop() -> bool {
    // SAFETY: only called from kthreads started by `Kthread::start`.
    unsafe { mmt_kthread_should_stop() }
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
