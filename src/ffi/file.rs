// SPDX-License-Identifier: GPL-2.0

//! [`ShmemFile`]: an unlinked shmem file.

use super::RawFile;
use core::ptr::NonNull;
use kernel::{ffi::c_int, prelude::*};

extern "C" {
    fn mmt_shmem_file(size: i64) -> *mut RawFile;
    fn mmt_file_truncate(file: *mut RawFile, size: i64) -> c_int;
    fn mmt_file_punch_hole(file: *mut RawFile, off: i64, len: i64) -> c_int;
    fn mmt_fput(file: *mut RawFile);
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
    /// The file, for the shim (valid while `self` lives).
    pub(super) fn as_ptr(&self) -> *mut RawFile {
        self.0.as_ptr()
    }

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

    /// fallocate(2) `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE` of
    /// `len` bytes at `off`: `vfs_fallocate()`.
    pub(crate) fn punch_hole(&self, off: usize, len: usize) -> Result {
        // SAFETY: we hold a reference on the file; sleepable context.
        let ret = unsafe { mmt_file_punch_hole(self.0.as_ptr(), off as i64, len as i64) };
        kernel::error::to_result(ret)
    }
}

impl Drop for ShmemFile {
    fn drop(&mut self) {
        // SAFETY: by the invariant we own this reference.
        unsafe { mmt_fput(self.0.as_ptr()) };
    }
}
