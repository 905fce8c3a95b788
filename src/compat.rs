// SPDX-License-Identifier: GPL-2.0

//! Kernel-crate items that not every supported kernel release has, under
//! the names the newest one uses, so the rest of the module reads the same
//! on all of them. Each is chosen at compile time by a cfg that Kbuild
//! derives from the tree being built against (README, "Kernel releases");
//! nothing here is decided at run time. No `unsafe`.

/// `EOPNOTSUPP`: in `kernel::error::code` (and so the prelude) from 7.3
/// (`mmt_err_eopnotsupp`). 7.2's kernel crate lacks it and its `Error` has
/// no public const constructor, so there it is a marker that compares equal
/// to an `Error` holding -EOPNOTSUPP: `e == EOPNOTSUPP` reads the same on
/// both. (Users import it by name: an explicit import wins over the
/// prelude's glob on 7.3.)
#[cfg(mmt_err_eopnotsupp)]
pub(crate) use kernel::error::code::EOPNOTSUPP;

#[cfg(not(mmt_err_eopnotsupp))]
pub(crate) use eopnotsupp::EOPNOTSUPP;

#[cfg(not(mmt_err_eopnotsupp))]
mod eopnotsupp {
    use kernel::{bindings, error::Error, ffi::c_int};

    /// The marker behind [`super::EOPNOTSUPP`] on a kernel crate without it.
    pub(crate) struct Eopnotsupp;

    pub(crate) const EOPNOTSUPP: Eopnotsupp = Eopnotsupp;

    impl PartialEq<Eopnotsupp> for Error {
        fn eq(&self, _: &Eopnotsupp) -> bool {
            self.to_errno() == -(bindings::EOPNOTSUPP as c_int)
        }
    }
}
