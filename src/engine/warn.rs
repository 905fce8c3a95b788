// SPDX-License-Identifier: GPL-2.0

//! Rate limit of the warnings about rejected input: [`WARN_LIMIT`] and
//! [`input_warn!`](crate::input_warn).

use crate::ffi;
use kernel::{
    prelude::*,
    sync::atomic::{Atomic, Full, Relaxed},
};

/// Rate limit of the warnings about rejected input (as printk_ratelimited:
/// at most `BURST` per `INTERVAL_MS`; the suppressed ones are counted and
/// said once the next window opens). A flood of bad writes must not flood
/// the console (under TCG the console is the bottleneck).
pub(crate) struct WarnLimit {
    window_ms: Atomic<u64>,
    printed: Atomic<u32>,
    suppressed: Atomic<u32>,
}

impl WarnLimit {
    const INTERVAL_MS: u64 = 5000;
    const BURST: u32 = 10;

    const fn new() -> Self {
        Self {
            window_ms: Atomic::new(0),
            printed: Atomic::new(0),
            suppressed: Atomic::new(0),
        }
    }

    /// May a warning be printed now?
    pub(crate) fn allow(&self) -> bool {
        let now = ffi::now_ms();
        let start = self.window_ms.load(Relaxed);
        if now.saturating_sub(start) >= Self::INTERVAL_MS
            && self.window_ms.cmpxchg(start, now, Full).is_ok()
        {
            self.printed.store(0, Relaxed);
            let n = self.suppressed.xchg(0, Relaxed);
            if n > 0 {
                pr_warn!("{} warnings about rejected control writes suppressed\n", n);
            }
        }
        if self.printed.fetch_add(1, Relaxed) < Self::BURST {
            return true;
        }
        self.suppressed.add(1, Relaxed);
        false
    }
}

/// The rate limit of every warning about rejected input.
pub(crate) static WARN_LIMIT: WarnLimit = WarnLimit::new();

/// `pr_warn!` for rejected input, rate-limited by [`WARN_LIMIT`].
#[macro_export]
macro_rules! input_warn {
    ($($arg:tt)*) => {
        if $crate::engine::WARN_LIMIT.allow() {
            ::kernel::prelude::pr_warn!($($arg)*);
        }
    };
}
