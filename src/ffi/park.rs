// SPDX-License-Identifier: GPL-2.0

//! [`ParkPoint`]: a race window held open by an mmu_notifier on the test mm,
//! inside move_page_tables().

use super::{abi, raw_mm, RawMm, RawPark};
use core::ptr::NonNull;
use kernel::{
    ffi::{c_uint, c_void},
    mm::MmWithUser,
    new_condvar, new_spinlock,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        CondVar, CondVarTimeoutResult, SpinLock,
    },
    time::{delay::fsleep, msecs_to_jiffies, Delta, Instant, Monotonic},
};

extern "C" {
    fn mmt_park_register(
        mm: *mut RawMm,
        on_start: unsafe extern "C" fn(*mut c_void),
        on_end: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
    ) -> *mut RawPark;
    fn mmt_park_arm(p: *mut RawPark, on: bool, clear: c_uint);
    fn mmt_park_unregister(p: *mut RawPark);
}

/// The shared state of a [`ParkPoint`].
///
/// Lock order: `closed` is a leaf lock. It is taken by the parked task
/// inside invalidate_range_start (mmap_lock held, no rmap lock yet) or,
/// armed with [`ParkPoint::arm_clear`], inside try_to_migrate_one()'s
/// invalidate_range_start/end (folio and anon_vma locks held), and by the
/// task that opens the gate, possibly inside an rmap walk (anon_vma or
/// i_mmap lock held); nothing else is taken under it.
#[pin_data]
struct ParkState {
    /// While true, the armed thread sleeps at move_page_tables()'s
    /// invalidate_range_start.
    #[pin]
    closed: SpinLock<bool>,
    /// Signalled when the gate opens.
    #[pin]
    opened: CondVar,
    entered: Atomic<u64>,
    exited: Atomic<u64>,
    timeouts: Atomic<u64>,
    /// How long the armed thread may stay parked (µs).
    timeout_us: Atomic<u64>,
    /// Parks up to this count (of `entered`) go on though the gate is
    /// closed ([`ParkPoint::let_through`]).
    passed: Atomic<u64>,
    /// How long a park let through sleeps before it goes on (µs).
    after_us: Atomic<u64>,
}

/// invalidate_range_start of the armed thread's move (process context,
/// blockable: it sleeps while the gate is closed, up to the timeout).
///
/// # Safety
///
/// `arg` must point to the live `ParkState` the notifier was registered with.
unsafe extern "C" fn park_on_start(arg: *mut c_void) {
    // SAFETY: by the function's contract.
    let st = unsafe { &*arg.cast::<ParkState>() };
    let ticket = st.entered.fetch_add(1, Relaxed) + 1;
    let t0 = Instant::<Monotonic>::now();
    let limit = st.timeout_us.load(Relaxed) as i64;
    let mut closed = st.closed.lock();
    let mut let_through = false;
    while *closed {
        if st.passed.load(Relaxed) >= ticket {
            let_through = true;
            break;
        }
        let left = limit - t0.elapsed().as_micros_ceil();
        if left <= 0 {
            st.timeouts.add(1, Relaxed);
            break;
        }
        // Interrupted (a kthread takes no signal but SIGKILL) or woken: the
        // loop looks at the gate and the clock again. (At least a jiffy.)
        let ms = (left as u64).div_ceil(1000).min(u64::from(u32::MAX)) as u32;
        let _: CondVarTimeoutResult = st
            .opened
            .wait_interruptible_timeout(&mut closed, msecs_to_jiffies(ms));
    }
    drop(closed);
    let after = st.after_us.load(Relaxed);
    if let_through && after > 0 {
        fsleep(Delta::from_micros(after as i64));
    }
}

/// invalidate_range_end of the same range: every pte has moved.
///
/// # Safety
///
/// As [`park_on_start`].
unsafe extern "C" fn park_on_end(arg: *mut c_void) {
    // SAFETY: by the function's contract.
    let st = unsafe { &*arg.cast::<ParkState>() };
    st.exited.fetch_add(1, Release);
}

/// A race window held open on purpose, scoped to the test mm: an
/// mmu_notifier registered on it. move_page_tables() calls
/// invalidate_range_start after it expanded (relocate_vma_down) or
/// copied/merged (copy_vma) the vma and before it moves any pte; there the
/// thread that armed the park sleeps while the gate is closed (bounded by a
/// timeout). Other mms never reach the notifier; other threads of the test
/// mm pass through it.
///
/// # Invariants
///
/// `raw` is a notifier registered on the test mm whose callbacks get a
/// pointer to `*state`, which stays allocated until it is unregistered in
/// `Drop`.
pub(crate) struct ParkPoint {
    raw: NonNull<RawPark>,
    state: Pin<KBox<ParkState>>,
}

// SAFETY: the notifier and its state are only touched through atomics, the
// state's lock and the shim's arm/unregister, which are safe from any thread.
unsafe impl Send for ParkPoint {}
// SAFETY: as above.
unsafe impl Sync for ParkPoint {}

impl ParkPoint {
    /// Registers the notifier on `mm`, gate open, armed for nobody. Fails
    /// with EOPNOTSUPP on a kernel without CONFIG_MMU_NOTIFIER.
    pub(crate) fn new(mm: &MmWithUser, timeout_ms: u32) -> Result<Self> {
        let state = KBox::pin_init(
            pin_init!(ParkState {
                closed <- new_spinlock!(false),
                opened <- new_condvar!(),
                entered: Atomic::new(0),
                exited: Atomic::new(0),
                timeouts: Atomic::new(0),
                timeout_us: Atomic::new(u64::from(timeout_ms) * 1000),
                passed: Atomic::new(0),
                after_us: Atomic::new(0),
            }),
            GFP_KERNEL,
        )?;
        let arg = core::ptr::from_ref::<ParkState>(&state).cast_mut().cast();
        // SAFETY: `mm` is a live mm with users; the callbacks match the
        // shim's prototypes; `arg` points to pinned state that outlives the
        // registration (see `Drop`).
        let raw = unsafe { mmt_park_register(raw_mm(mm), park_on_start, park_on_end, arg) };
        let raw = NonNull::new(kernel::error::from_err_ptr(raw)?).ok_or(ENOMEM)?;
        // INVARIANT: `raw` is registered with a pointer to `*state`, which is
        // pinned and moves into `Self` with it.
        Ok(Self { raw, state })
    }

    /// Arms the park for the current thread (or disarms it): its next
    /// blockable unmap range of the test mm parks, once.
    pub(crate) fn arm(&self, on: bool) {
        // SAFETY: registered (invariant); called by the thread that arms.
        unsafe { mmt_park_arm(self.raw.as_ptr(), on, 0) };
    }

    /// Arms the park for the current thread in its next blockable clear
    /// range of the test mm, once: at its start (`at_start`: in
    /// try_to_migrate_one(), for migration or a folio split's unmap,
    /// nothing is unmapped yet) and/or at its end (`at_end`: every pte of
    /// the vma is a migration entry). The thread holds the folio lock and
    /// the anon_vma lock while it sleeps there. `arm(false)` disarms.
    pub(crate) fn arm_clear(&self, at_start: bool, at_end: bool) {
        let mut clear = 0;
        if at_start {
            clear |= abi::MMT_PARK_CLEAR_START;
        }
        if at_end {
            clear |= abi::MMT_PARK_CLEAR_END;
        }
        // SAFETY: registered (invariant); called by the thread that arms.
        unsafe { mmt_park_arm(self.raw.as_ptr(), true, clear as c_uint) };
    }

    /// Lets the parks entered so far go on, the gate staying closed for
    /// the next: each sleeps `after_us` first.
    pub(crate) fn let_through(&self, after_us: u64) {
        self.state.after_us.store(after_us, Relaxed);
        {
            let _closed = self.state.closed.lock();
            let n = self.state.entered.load(Relaxed);
            self.state.passed.store(n, Relaxed);
        }
        self.state.opened.notify_all();
    }

    /// How long the armed thread may stay parked from now on (µs); the
    /// timeout `new` was given until then.
    pub(crate) fn hold_us(&self, us: u64) {
        self.state.timeout_us.store(us, Relaxed);
    }

    /// Closes (the armed thread will wait) or opens the gate.
    pub(crate) fn close(&self, closed: bool) {
        *self.state.closed.lock() = closed;
        if !closed {
            self.state.opened.notify_all();
        }
    }

    /// Times the armed thread entered move_page_tables()'s range.
    pub(crate) fn entered(&self) -> u64 {
        self.state.entered.load(Acquire)
    }

    /// Times the armed thread's moves ended (every pte moved).
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
        // SAFETY: registered (invariant); unregistering waits (SRCU) for
        // running callbacks, after which `state` is no longer referenced.
        unsafe { mmt_park_unregister(self.raw.as_ptr()) };
    }
}
