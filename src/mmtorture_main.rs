// SPDX-License-Identifier: GPL-2.0

//! mmtorture: puts the kernel's own rmap_walk, migrate_pages,
//! move_page_tables and munlock paths into controlled races from kthreads
//! pinned on several CPUs, against an mm the module creates, and checks mm
//! invariants from inside the kernel.
//!
//! The only user interface is debugfs, `/sys/kernel/debug/mmtorture/`:
//! - `control` (w): `run <scenario> [key=value ...]` or `stop`;
//! - `scenarios` (r): one line per scenario with its parameters and defaults;
//! - `status` (r): state, counters and elapsed time of the current/last run;
//! - `result` (r): KTAP report of the last finished run;
//! - `params` (r): every scenario parameter with its range, and the coverage
//!   each scenario needs.
//!
//! Layers, each importing only those after it: this file (debugfs) →
//! `scenarios` (what is tested, one table) → `engine` (run lifecycle,
//! workers) → `checkers` (invariants) → `ffi` + `shim.c` (the only unsafe
//! code and C). docs/design.md has the file map.

use kernel::{
    debugfs::{Dir, File},
    fmt, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    uaccess::UserSliceReader,
};

mod checkers;
mod compat;
mod engine;
mod ffi;
mod scenarios;

use engine::{Params, RunShared, RunState, Runner};
use ffi::Kthread;

/// `module!` with the load parameter `ibt_force` of type `$ty` (default
/// `$default`). Its type depends on the kernel (a compile-time cfg from
/// Kbuild, README "Kernel releases"): `bool` where `module!` takes bool
/// parameters (7.3: `mmt_param_bool`), else `u8` (7.2); `ibt_force=1` loads
/// the same on both.
macro_rules! mmtorture_module {
    ($ty:tt, $default:tt) => {
        module! {
            type: MmTortureModule,
            name: "mmtorture",
            authors: ["mmtorture developers"],
            description: "Races mm paths (rmap_walk, migrate_pages, move_page_tables, munlock) and checks invariants",
            license: "GPL",
            params: {
                ibt_force: $ty {
                    default: $default,
                    description: "refuse to load, as on a CPU enforcing kernel IBT, if a resolved function has no ENDBR (test knob)",
                },
            },
        }
    };
}
#[cfg(mmt_param_bool)]
mmtorture_module!(bool, false);
#[cfg(not(mmt_param_bool))]
mmtorture_module!(u8, 0);

/// The `ibt_force` load parameter, set (non-zero) or not, whatever its type.
/// Its accessor returns the value (7.3: `mmt_param_value_copy`) or a
/// reference to it (7.2).
fn ibt_force() -> bool {
    let p = &module_parameters::ibt_force;
    #[cfg(mmt_param_value_copy)]
    let v = p.value();
    #[cfg(not(mmt_param_value_copy))]
    let v = *p.value();
    v != Default::default()
}

/// The current or last run and its runner thread.
struct Current {
    run: Arc<RunShared>,
    /// Joined (kthread_stop) when dropped.
    _runner: Kthread<Runner>,
}

/// Module-wide state behind the debugfs files.
///
/// Lock order: `inner` is taken only by debugfs handlers and module exit.
/// The runner and workers never take it (they only touch their own
/// `RunShared`), so joining the runner while holding `inner` cannot deadlock.
#[pin_data]
struct Torture {
    #[pin]
    inner: Mutex<Inner>,
}

struct Inner {
    current: Option<Current>,
    shutting_down: bool,
}

impl Torture {
    fn run(&self, mut words: core::str::SplitWhitespace<'_>) -> Result {
        let Some(name) = words.next() else {
            crate::input_warn!("control: 'run' needs a scenario name (see scenarios)\n");
            return Err(EINVAL);
        };
        let Some(desc) = scenarios::find(name) else {
            crate::input_warn!("control: unknown scenario '{}' (see scenarios)\n", name);
            return Err(EINVAL);
        };
        let params = Params::parse(desc, words)?;
        let mut inner = self.inner.lock();
        if inner.shutting_down {
            return Err(ENODEV);
        }
        if let Some(cur) = &inner.current {
            if cur.run.state() == RunState::Running {
                crate::input_warn!(
                    "control: a run of {} is in progress (write 'stop' first)\n",
                    cur.run.desc.name
                );
                return Err(EBUSY);
            }
        }
        // Join the finished runner of the previous run before replacing it.
        inner.current = None;
        let run = RunShared::new(desc, params)?;
        let runner = Runner::start(run.clone())?;
        inner.current = Some(Current {
            run,
            _runner: runner,
        });
        Ok(())
    }

    fn stop(&self) {
        if let Some(cur) = &self.inner.lock().current {
            cur.run.request_stop();
        }
    }

    /// Module exit: stop the run (workers, mm teardown) and join the runner.
    fn shutdown(&self) {
        let mut inner = self.inner.lock();
        inner.shutting_down = true;
        if let Some(cur) = inner.current.take() {
            cur.run.request_stop();
            drop(cur);
        }
    }
}

fn control_write(t: &Arc<Torture>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 512];
    let n = reader.len();
    if n == 0 || n > buf.len() {
        crate::input_warn!("control: command must be 1..{} bytes\n", buf.len());
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..n])?;
    let Ok(line) = core::str::from_utf8(&buf[..n]) else {
        crate::input_warn!("control: command is not UTF-8\n");
        return Err(EINVAL);
    };
    let mut words = line.split_whitespace();
    match words.next() {
        Some("run") => t.run(words),
        Some("stop") if words.next().is_none() => {
            t.stop();
            Ok(())
        }
        _ => {
            crate::input_warn!(
                "control: bad command '{}': expected 'run <scenario> [key=value ...]' or 'stop'\n",
                line.trim()
            );
            Err(EINVAL)
        }
    }
}

fn status_read(t: &Arc<Torture>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match &t.inner.lock().current {
        Some(cur) => cur.run.write_status(f),
        None => writeln!(f, "state: idle"),
    }
}

fn result_read(t: &Arc<Torture>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match &t.inner.lock().current {
        Some(cur) => cur.run.write_result(f),
        None => writeln!(f, "# no run yet"),
    }
}

fn scenarios_read(_t: &Arc<Torture>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for s in scenarios::SCENARIOS {
        write!(f, "{}", s.name)?;
        for p in engine::all_params(s) {
            write!(f, " {}={}", p.name, p.default)?;
        }
        write!(f, " cpus=all roles=")?;
        for (i, r) in s.roles.iter().enumerate() {
            write!(f, "{}{}", if i > 0 { "," } else { "" }, r)?;
        }
        writeln!(f, " # {}", s.description)?;
    }
    Ok(())
}

/// `params`: one line per parameter of every scenario, with its range and
/// the coverage each scenario needs: `<scenario> <key> <default> <min> <max>
/// # <help>`, then `<scenario> needs <counter>>=<min>[ unless k=v] ...`.
fn params_read(_t: &Arc<Torture>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for s in scenarios::SCENARIOS {
        for p in engine::all_params(s) {
            writeln!(
                f,
                "{} {} {} {} {} # {}",
                s.name, p.name, p.default, p.min, p.max, p.help
            )?;
        }
        write!(f, "{} needs", s.name)?;
        for n in s.coverage {
            write!(f, " {}>={}", n.counter.name(), n.min)?;
            if let Some((k, v)) = n.unless {
                write!(f, "(unless {k}={v})")?;
            }
        }
        writeln!(
            f,
            " # for runs of {} s or more; shorter runs need proportionally less, at least 1",
            engine::Need::FULL_S
        )?;
    }
    Ok(())
}

struct MmTortureModule {
    torture: Arc<Torture>,
    _files: KVec<Pin<KBox<File<Arc<Torture>>>>>,
    _dir: Dir,
}

impl kernel::Module for MmTortureModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        ffi::resolve_symbols(ibt_force())?;
        let torture = Arc::pin_init(
            pin_init!(Torture {
                inner <- new_mutex!(Inner { current: None, shutting_down: false }),
            }),
            GFP_KERNEL,
        )?;
        let dir = Dir::new(c"mmtorture");
        let mut files = KVec::with_capacity(5, GFP_KERNEL)?;
        // Each callback must be its own function item (debugfs asserts it
        // is zero-sized), hence a macro rather than a table.
        macro_rules! file {
            ($make:ident, $name:literal, $callback:expr) => {
                files.push(
                    KBox::pin_init(dir.$make($name, torture.clone(), $callback), GFP_KERNEL)?,
                    GFP_KERNEL,
                )?
            };
        }
        file!(write_callback_file, c"control", &control_write);
        file!(read_callback_file, c"status", &status_read);
        file!(read_callback_file, c"result", &result_read);
        file!(read_callback_file, c"scenarios", &scenarios_read);
        file!(read_callback_file, c"params", &params_read);
        pr_info!("loaded: {} scenarios\n", scenarios::SCENARIOS.len());
        Ok(Self {
            torture,
            _files: files,
            _dir: dir,
        })
    }
}

impl Drop for MmTortureModule {
    fn drop(&mut self) {
        // Stops any run (workers joined, test mm torn down) before the files
        // and the state go away.
        self.torture.shutdown();
        pr_info!("unloaded\n");
    }
}
