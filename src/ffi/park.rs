// SPDX-License-Identifier: GPL-2.0

//! [`ParkPoint`]: a race window held open by a kretprobe on
//! move_page_tables().

use super::RawPark;
use core::ptr::NonNull;
use kernel::{
    ffi::c_void,
    prelude::*,
    sync::atomic::{Acquire, Atomic, Relaxed, Release},
};

extern "C" {
    fn mmt_park_register(
        on_start: unsafe extern "C" fn(*mut c_void),
        on_end: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
    ) -> *mut RawPark;
    fn mmt_park_arm(p: *mut RawPark, on: bool);
    fn mmt_park_unregister(p: *mut RawPark);
    fn mmt_ktime_fast_ns() -> u64;
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
        // INVARIANT: `raw` is registered with a pointer to `*state`, which is
        // pinned and moves into `Self` with it.
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
