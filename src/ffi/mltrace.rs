// SPDX-License-Identifier: GPL-2.0

//! [`MlockTrace`]: who raised or dropped a folio's mlock. Entry kprobes on
//! mlock_folio(), munlock_folio() and mlock_new_folio() record every call
//! (pfn, caller, the folio's mlock state before it) in a ring in the C
//! shim; [`MlockTrace::dump`] prints a folio's last calls on the console.
//! A debugging aid for mlock findings (`mix trace_mlock=1`).

use kernel::{error::to_result, prelude::*};

extern "C" {
    fn mmt_mlt_start() -> c_int;
    fn mmt_mlt_stop();
    fn mmt_mlt_dump(lo: usize, hi: usize, max: c_uint);
}

/// The registered probes; unregistered on drop. The ring is the shim's
/// one global: at most one run (the module runs one at a time) holds it.
pub(crate) struct MlockTrace(());

impl MlockTrace {
    /// Registers the probes.
    pub(crate) fn start() -> Result<Self> {
        // SAFETY: registers kprobes on kernel functions with a handler in
        // the shim; unregistered in `drop`.
        to_result(unsafe { mmt_mlt_start() })?;
        Ok(Self(()))
    }

    /// Prints the last `max` (at most 64) traced calls on pfns
    /// `pfn..pfn + nr`, oldest first.
    pub(crate) fn dump(&self, pfn: usize, nr: usize, max: u32) {
        // SAFETY: reads the shim's ring; no pointers passed.
        unsafe { mmt_mlt_dump(pfn, pfn + nr, max) };
    }
}

impl Drop for MlockTrace {
    fn drop(&mut self) {
        // SAFETY: the probes were registered by `start`.
        unsafe { mmt_mlt_stop() };
    }
}
