// SPDX-License-Identifier: GPL-2.0

//! [`Rng`]: the seeded RNG of a run, and [`wrap`].

/// `a % n`, or 0 for `n == 0`: never the remainder-by-zero panic path
/// (which objtool 7.3 does not know as noreturn).
pub(crate) fn wrap(a: u64, n: u64) -> u64 {
    a.checked_rem(n).unwrap_or(0)
}

/// Seeded xorshift64* (a run with the same seed makes the same choices).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        Self((seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (0 if `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        wrap(self.next(), n)
    }
}
