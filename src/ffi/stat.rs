// SPDX-License-Identifier: GPL-2.0

//! vmstat counters, read exactly.

use kernel::ffi::c_int;

extern "C" {
    fn mmt_node_stat(item: c_int) -> i64;
    fn mmt_zone_stat(item: c_int) -> i64;
    fn mmt_nr_isolated_anon() -> c_int;
    fn mmt_nr_isolated_file() -> c_int;
    fn mmt_nr_anon_mapped() -> c_int;
    fn mmt_nr_mlock() -> c_int;
    fn mmt_nr_unevictable() -> c_int;
    fn mmt_mod_isolated_anon(nid: c_int, delta: core::ffi::c_long);
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
