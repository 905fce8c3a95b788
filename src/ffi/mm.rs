// SPDX-License-Identifier: GPL-2.0

//! The test mm: [`mm_create`], and [`MmUse`], the proof that the current
//! kthread has it attached (mmap, mremap, mlock, munmap, user copies).

use super::{file::ShmemFile, raw_mm, RawFile, RawMm};
use core::{cell::Cell, marker::PhantomData, ptr::NonNull};
use kernel::ffi::{c_int, c_ulong};
use kernel::{
    bindings,
    mm::MmWithUser,
    prelude::*,
    sync::aref::ARef,
    uaccess::{UserPtr, UserSlice},
};

extern "C" {
    fn mmt_mm_create() -> *mut RawMm;
    fn mmt_vm_mmap_file_private(file: *mut RawFile, len: c_ulong, locked: bool) -> c_ulong;
    fn mmt_vm_mmap_file_shared(file: *mut RawFile, addr: c_ulong, len: c_ulong) -> c_ulong;
    fn mmt_vma_set_temp_stack(mm: *mut RawMm, addr: c_ulong, on: bool) -> c_int;
    fn mmt_relocate_vma_down(mm: *mut RawMm, addr: c_ulong, shift: c_ulong) -> c_int;

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
    fn mmt_sys_mlock2(start: c_ulong, len: c_ulong, flags: c_int) -> isize;
    fn mmt_sys_madvise(start: c_ulong, len: c_ulong, advice: c_int) -> isize;
    fn mmt_sys_mprotect(start: c_ulong, len: c_ulong, prot: c_ulong) -> isize;
}

const MREMAP_MAYMOVE: c_ulong = 1;
const MREMAP_FIXED: c_ulong = 2;
const MREMAP_DONTUNMAP: c_ulong = 4;

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
/// While this exists, `current->mm` is `mm` (except inside
/// [`MmUse::with_other`], while `live` is false); it is dropped on the
/// thread that created it (it is neither `Send` nor `Sync`).
pub(crate) struct MmUse<'a> {
    mm: &'a MmWithUser,
    /// False while [`MmUse::with_other`] has another mm attached: the
    /// methods that act on current->mm refuse (EBUSY) then.
    live: Cell<bool>,
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
        // INVARIANT: `mm` is now current->mm; `PhantomData<*mut ()>` keeps
        // the value on this thread.
        Self {
            mm,
            live: Cell::new(true),
            _not_send: PhantomData,
        }
    }

    fn live(&self) -> Result {
        match self.live.get() {
            true => Ok(()),
            false => Err(EBUSY),
        }
    }

    /// Runs `f` with `other` attached instead (a second test mm: mmap and
    /// write it), then attaches this one again. Meanwhile this value's
    /// current->mm methods return EBUSY, so a closure that captured it
    /// cannot act on the wrong mm.
    pub(crate) fn with_other<R>(
        &self,
        other: &MmWithUser,
        f: impl FnOnce(&MmUse<'_>) -> R,
    ) -> Result<R> {
        self.live()?;
        self.live.set(false);
        // SAFETY: by the invariant `self.mm` is current->mm, attached by
        // this thread: it may detach it. It is attached again below, before
        // `live` is set, so the invariant holds whenever `live` is true.
        unsafe { bindings::kthread_unuse_mm(self.mm.as_raw()) };
        let r = f(&MmUse::new(other));
        // SAFETY: the temporary `MmUse` of `other` was dropped (detached) at
        // the end of the statement above: this kthread has no mm now.
        unsafe { bindings::kthread_use_mm(self.mm.as_raw()) };
        self.live.set(true);
        Ok(r)
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
        self.live()?;
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
        self.live()?;
        // SAFETY: `file` is a live file we hold a reference on; the mapping
        // is made in current->mm, the attached test mm by the invariant.
        let addr = unsafe { mmt_vm_mmap_file_private(file.as_ptr(), len as c_ulong, locked) };
        if (addr as isize) < 0 && (addr as isize) >= -4095 {
            return Err(Error::from_errno(addr as i32));
        }
        Ok(addr)
    }

    /// `mmap(addr, len, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_FIXED, file, 0)`
    /// in the attached mm (replaces whatever was mapped there).
    pub(crate) fn mmap_file_shared_at(&self, file: &ShmemFile, addr: usize, len: usize) -> Result {
        self.live()?;
        // SAFETY: `file` is a live file we hold a reference on; the mapping
        // is made in current->mm, the attached test mm by the invariant.
        let got =
            unsafe { mmt_vm_mmap_file_shared(file.as_ptr(), addr as c_ulong, len as c_ulong) };
        if (got as isize) < 0 && (got as isize) >= -4095 {
            return Err(Error::from_errno(got as i32));
        }
        Ok(())
    }

    /// `mremap(old, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, new)` in the
    /// attached mm, through the syscall entry (copy_vma + move_page_tables).
    pub(crate) fn mremap_fixed(&self, old: usize, len: usize, new: usize) -> Result {
        self.mremap(old, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, new)
            .map(|_| ())
    }

    /// The same with `MREMAP_DONTUNMAP`: the ptes move, the old vma stays
    /// (empty; VM_LOCKED cleared).
    pub(crate) fn mremap_dontunmap(&self, old: usize, len: usize, new: usize) -> Result {
        self.mremap(
            old,
            len,
            len,
            MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
            new,
        )
        .map(|_| ())
    }

    /// `mremap(addr, old_len, new_len, 0)`: shrinks the vma's tail, or
    /// grows it in place (no move; a VM_LOCKED vma's new part is
    /// populated).
    pub(crate) fn mremap_resize(&self, addr: usize, old_len: usize, new_len: usize) -> Result {
        match self.mremap(addr, old_len, new_len, 0, 0)? {
            a if a == addr => Ok(()),
            _ => Err(EFAULT),
        }
    }

    fn mremap(
        &self,
        old: usize,
        old_len: usize,
        new_len: usize,
        flags: c_ulong,
        new: usize,
    ) -> Result<usize> {
        self.live()?;
        // SAFETY: the syscall acts on current->mm, the attached test mm by
        // the invariant; it validates its arguments itself.
        let ret = unsafe {
            mmt_sys_mremap(
                old as c_ulong,
                old_len as c_ulong,
                new_len as c_ulong,
                flags,
                new as c_ulong,
            )
        };
        if (-4095..0).contains(&ret) {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(ret as usize)
    }

    /// mlock2(2) with MLOCK_ONFAULT: VM_LOCKED|VM_LOCKONFAULT, present pages
    /// mlocked, nothing populated.
    pub(crate) fn mlock_onfault(&self, start: usize, len: usize) -> Result {
        self.live()?;
        const MLOCK_ONFAULT: c_int = 1;
        // SAFETY: as for `mlock`.
        let ret = unsafe { mmt_sys_mlock2(start as c_ulong, len as c_ulong, MLOCK_ONFAULT) };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(())
    }

    /// mlock(2) (`lock`) or munlock(2) of a range of the attached mm,
    /// through the syscall entries.
    pub(crate) fn mlock(&self, start: usize, len: usize, lock: bool) -> Result {
        self.live()?;
        // SAFETY: the syscalls act on current->mm (the attached test mm by
        // the invariant) and validate their arguments.
        let ret = unsafe { mmt_sys_mlock(start as c_ulong, len as c_ulong, lock) };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(())
    }

    /// madvise(2) of a range of the attached mm, through the syscall entry
    /// (`advice`: the MADV_* number).
    pub(crate) fn madvise(&self, start: usize, len: usize, advice: i32) -> Result {
        self.live()?;
        // SAFETY: the syscall acts on current->mm (the attached test mm by
        // the invariant) and validates its arguments.
        let ret = unsafe { mmt_sys_madvise(start as c_ulong, len as c_ulong, advice) };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(())
    }

    /// mprotect(2) of a range of the attached mm to PROT_READ (`!writable`)
    /// or PROT_READ|PROT_WRITE, through the syscall entry.
    pub(crate) fn mprotect(&self, start: usize, len: usize, writable: bool) -> Result {
        self.live()?;
        const PROT_READ: c_ulong = 1;
        const PROT_WRITE: c_ulong = 2;
        let prot = if writable {
            PROT_READ | PROT_WRITE
        } else {
            PROT_READ
        };
        // SAFETY: as for `madvise`.
        let ret = unsafe { mmt_sys_mprotect(start as c_ulong, len as c_ulong, prot) };
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
        self.live()?;
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
        self.live()?;
        UserSlice::new(UserPtr::from_addr(addr), data.len())
            .writer()
            .write_slice(data)
    }

    /// `copy_from_user()` from the attached mm.
    pub(crate) fn read(&self, addr: usize, out: &mut [u8]) -> Result {
        self.live()?;
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
