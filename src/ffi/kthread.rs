// SPDX-License-Identifier: GPL-2.0

//! [`Kthread`]: a kernel thread joined on drop, and what an orphaned one
//! needs (the module reference it holds).

use super::RawTask;
use core::ptr::NonNull;
use kernel::{
    ffi::{c_char, c_int, c_void},
    prelude::*,
    sync::Arc,
};

extern "C" {
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
    fn mmt_task_wake(t: *mut RawTask);
    fn mmt_nap_us(us: u64);
    fn mmt_sleep_until_woken_us(us: u64);
    fn mmt_task_put(t: *mut RawTask);
    fn mmt_module_pin() -> bool;
    fn mmt_module_unpin();
    fn mmt_module_put_and_exit() -> !;
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
        // INVARIANT: `task` came from mmt_kthread_start(), which returns it
        // with a reference for us; `raw` is the pointer handed to the thread.
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

    /// Wakes the thread whatever it sleeps in (`wake_up_process()`). Only
    /// for a thread known to be in [`nap`], where a wake-up is harmless.
    pub(crate) fn wake(&self) {
        // SAFETY: we hold a reference on the task.
        unsafe { mmt_task_wake(self.task.as_ptr()) };
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

/// Sleeps `us` µs like `fsleep()` (an hrtimer sleep on this CPU), but a
/// [`Kthread::wake`] ends it once the time is up even if the hrtimer
/// interrupt never came.
pub(crate) fn nap(us: u64) {
    // SAFETY: a plain sleep of the current task; no pointers.
    unsafe { mmt_nap_us(us) };
}

/// One sleep of `us` µs that any wake-up ends: a [`nap`] whose timer
/// interrupt is lost, for the busted op that proves the watchdog's remedy.
pub(crate) fn sleep_until_woken(us: u64) {
    // SAFETY: a plain sleep of the current task; no pointers.
    unsafe { mmt_sleep_until_woken_us(us) };
}
