// SPDX-License-Identifier: GPL-2.0

//! Parameters: what a `run` line may say ([`ParamSpec`], [`COMMON_PARAMS`]),
//! a scenario's own as a typed struct ([`ScenarioParams`],
//! [`scenario_params!`](crate::scenario_params)), and a run's parsed values
//! ([`Params`]).

use super::desc::ScenarioDesc;
use crate::ffi;
use core::fmt::Write;
use kernel::prelude::*;

/// A parameter a scenario accepts: `key=value` on the `run` line.
pub(crate) struct ParamSpec {
    pub(crate) name: &'static str,
    pub(crate) default: u64,
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) help: &'static str,
}

/// Parameters every scenario accepts (besides `cpus=`).
pub(crate) const COMMON_PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "duration",
        default: 5,
        min: 1,
        max: 3600,
        help: "seconds",
    },
    ParamSpec {
        name: "pages",
        default: 64,
        min: 1,
        max: 65536,
        help: "test pages",
    },
    ParamSpec {
        name: "seed",
        default: 0,
        min: 0,
        max: u64::MAX,
        help: "0 = random",
    },
    ParamSpec {
        name: "shuffle_ms",
        default: 200,
        min: 0,
        max: 60000,
        help: "CPU shuffle period, 0 = off",
    },
    ParamSpec {
        name: "stall_s",
        default: 30,
        min: 1,
        max: 600,
        help: "a worker without progress this long is stuck",
    },
];

/// A scenario's own parameters as a typed struct (see
/// [`scenario_params!`](crate::scenario_params)): reading a parameter the
/// scenario does not declare, or a misspelt one, is a compile error.
pub(crate) trait ScenarioParams: Sized + Send + Sync + 'static {
    /// The declared parameters, in field order.
    const SPECS: &'static [ParamSpec];
    /// Builds the struct from values in [`Self::SPECS`] order.
    fn from_values(values: &[u64]) -> Self;
}

/// Declares a scenario's parameters: a struct with one `u64` field per
/// parameter, and its [`ScenarioParams`] table (name = field name).
///
/// ```ignore
/// scenario_params! {
///     /// Parameters of `x`.
///     pub(crate) struct XParams {
///         /// held this long
///         hold_us: 500, 0..=1_000_000, "max isolation hold";
///     }
/// }
/// ```
#[macro_export]
macro_rules! scenario_params {
    ($(#[$m:meta])* $vis:vis struct $name:ident {
        $($(#[$fm:meta])* $field:ident: $default:expr, $min:literal..=$max:expr, $help:literal;)*
    }) => {
        $(#[$m])*
        $vis struct $name {
            $($(#[$fm])* pub(crate) $field: u64,)*
        }
        impl $crate::engine::ScenarioParams for $name {
            const SPECS: &'static [$crate::engine::ParamSpec] = &[$(
                $crate::engine::ParamSpec {
                    name: ::core::stringify!($field),
                    default: $default,
                    min: $min,
                    max: $max,
                    help: $help,
                },
            )*];
            #[allow(unused_variables, unused_mut)]
            fn from_values(values: &[u64]) -> Self {
                let mut it = values.iter().copied();
                Self { $($field: it.next().unwrap_or($default),)* }
            }
        }
    };
}

/// A scenario without parameters of its own.
pub(crate) struct NoParams;

impl ScenarioParams for NoParams {
    const SPECS: &'static [ParamSpec] = &[];
    fn from_values(_values: &[u64]) -> Self {
        Self
    }
}

/// The parsed parameters of one run: the common ones as fields, the
/// scenario's own through [`Params::own`].
pub(crate) struct Params {
    values: KVec<(&'static str, u64)>,
    /// Run length (s).
    pub(crate) duration: u64,
    /// Test pages.
    pub(crate) pages: usize,
    /// CPU shuffle period (ms), 0 = off.
    pub(crate) shuffle_ms: u64,
    /// A worker without progress this long (s) is stuck.
    pub(crate) stall_s: u64,
    /// CPUs workers run on (worker i starts on `cpus[i % len]`).
    pub(crate) cpus: KVec<u32>,
}

impl Params {
    /// Value of parameter `name` (one of the scenario's or the common ones).
    pub(super) fn get(&self, name: &str) -> Option<u64> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// The scenario's own parameters, typed. `P` must be the scenario's
    /// own [`ScenarioParams`] (the table is built from it, so it is).
    pub(crate) fn own<P: ScenarioParams>(&self) -> Result<P> {
        let own = self.values.get(COMMON_PARAMS.len()..).unwrap_or(&[]);
        let same =
            own.len() == P::SPECS.len() && own.iter().zip(P::SPECS).all(|((n, _), s)| *n == s.name);
        if !same {
            pr_err!("parameters read through a type that is not the scenario's own\n");
            return Err(EINVAL);
        }
        let mut values = KVec::with_capacity(own.len(), GFP_KERNEL)?;
        for (_, v) in own {
            values.push(*v, GFP_KERNEL)?;
        }
        Ok(P::from_values(&values))
    }

    /// Parses `key=value` words for `desc`. A bad word is reported with
    /// pr_warn (naming it and what is accepted) and gives `EINVAL`.
    pub(crate) fn parse<'a>(
        desc: &ScenarioDesc,
        words: impl Iterator<Item = &'a str>,
    ) -> Result<Self> {
        let name = desc.name;
        let mut values = KVec::new();
        for spec in all_params(desc) {
            values.push((spec.name, spec.default), GFP_KERNEL)?;
        }
        let mut cpus = KVec::new();
        let mut seen: KVec<&str> = KVec::new();
        for word in words {
            let Some((key, val)) = word.split_once('=') else {
                crate::input_warn!("run {}: '{}' is not key=value\n", name, word);
                return Err(EINVAL);
            };
            if seen.contains(&key) {
                crate::input_warn!("run {}: parameter '{}' given twice\n", name, key);
                return Err(EINVAL);
            }
            seen.push(key, GFP_KERNEL)?;
            if key == "cpus" {
                if !parse_cpu_list(val, &mut cpus)? {
                    crate::input_warn!("run {}: cpus='{}' is not a list of distinct online CPUs (e.g. 0-3 or 0,2)\n", name, val);
                    return Err(EINVAL);
                }
                continue;
            }
            let Some(spec) = all_params(desc).find(|s| s.name == key) else {
                crate::input_warn!(
                    "run {}: unknown parameter '{}' (see scenarios)\n",
                    name,
                    key
                );
                return Err(EINVAL);
            };
            let Some(v) = parse_u64(val) else {
                crate::input_warn!("run {}: {}='{}' is not a number\n", name, key, val);
                return Err(EINVAL);
            };
            if v < spec.min || v > spec.max {
                crate::input_warn!(
                    "run {}: {}={} is out of range {}..={} ({})\n",
                    name,
                    key,
                    v,
                    spec.min,
                    spec.max,
                    spec.help
                );
                return Err(EINVAL);
            }
            if let Some(slot) = values.iter_mut().find(|(n, _)| *n == key) {
                slot.1 = v;
            }
        }
        if cpus.is_empty() {
            for cpu in 0..ffi::num_online_cpus() {
                cpus.push(cpu, GFP_KERNEL)?;
            }
        }
        let common = |n: &str| values.iter().find(|(k, _)| *k == n).map_or(0, |(_, v)| *v);
        Ok(Self {
            duration: common("duration"),
            pages: common("pages") as usize,
            shuffle_ms: common("shuffle_ms"),
            stall_s: common("stall_s"),
            values,
            cpus,
        })
    }

    /// Writes the `key=value ...` words that reproduce these parameters.
    pub(crate) fn write_args(&self, f: &mut impl Write, seed: u64) -> core::fmt::Result {
        for (name, v) in self.values.iter() {
            let v = if *name == "seed" { seed } else { *v };
            write!(f, " {name}={v}")?;
        }
        write!(f, " cpus=")?;
        for (i, c) in self.cpus.iter().enumerate() {
            write!(f, "{}{c}", if i > 0 { "," } else { "" })?;
        }
        Ok(())
    }
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn declares(specs: &[ParamSpec], name: &str) -> bool {
    let mut i = 0;
    while i < specs.len() {
        if str_eq(specs[i].name, name) {
            return true;
        }
        i += 1;
    }
    false
}

/// Compile-time check of a scenario table (`const _: () = check_table(..)`):
/// every coverage waiver names a parameter its scenario declares.
pub(crate) const fn check_table(table: &[ScenarioDesc]) {
    let mut i = 0;
    while i < table.len() {
        let mut j = 0;
        while j < table[i].coverage.len() {
            if let Some((name, _)) = table[i].coverage[j].unless {
                if !declares(table[i].params, name) && !declares(COMMON_PARAMS, name) {
                    panic!(
                        "a coverage need is waived by a parameter its scenario does not declare"
                    );
                }
            }
            j += 1;
        }
        i += 1;
    }
}

/// The common parameters followed by `desc`'s own.
pub(crate) fn all_params(desc: &ScenarioDesc) -> impl Iterator<Item = &ParamSpec> {
    Iterator::chain(COMMON_PARAMS.iter(), desc.params.iter())
}

fn parse_u64(s: &str) -> Option<u64> {
    if let Some(hex) = s.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// `0-3`, `1,3`, `0,2-3`: online CPUs only, no duplicates. Ok(false) if
/// the list is malformed.
fn parse_cpu_list(s: &str, out: &mut KVec<u32>) -> Result<bool> {
    for part in s.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (Ok(lo), Ok(hi)) = (lo.parse::<u32>(), hi.parse::<u32>()) else {
            return Ok(false);
        };
        if lo > hi || hi >= 4096 {
            return Ok(false);
        }
        for cpu in lo..=hi {
            if !ffi::cpu_online(cpu) || out.contains(&cpu) {
                return Ok(false);
            }
            out.push(cpu, GFP_KERNEL)?;
        }
    }
    Ok(true)
}
