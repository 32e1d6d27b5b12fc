//! A check, and the groups they come in: what the peers' tests and `bench conform` read,
//! so that neither keeps a list of its own. Each `NAME_checks.rs` declares its group once
//! (its `GROUP`), and [`crate::check_groups`] lists the groups: a new workload's checks
//! reach every peer and `bench conform --groups NAME` with no other change.

use crate::Needs;

/// One check of the contract: it panics, saying why, if the program (with its leading
/// arguments: a Python peer's script, say) fails it.
#[derive(Clone, Copy)]
pub struct Check {
    /// The check's function's name: what `bench conform` prints and a test is called.
    pub name: &'static str,
    /// What it needs of a program: a partial program is checked on what it takes.
    pub needs: Needs,
    pub run: fn(&str, &[&str]),
}

/// The checks of one part of the contract, run together: `bench conform --groups NAME`.
pub struct CheckGroup {
    /// Its name on the command line: `contract`, `serve`, a workload's name.
    pub name: &'static str,
    /// What `bench conform --help` says it checks.
    pub about: &'static str,
    /// Whether `bench conform` runs it unasked: a group that starts a server of its own
    /// (db's PostgreSQL) runs only when named.
    pub by_default: bool,
    pub checks: fn() -> Vec<Check>,
}

impl CheckGroup {
    /// A group that `bench conform` runs unasked.
    pub const fn new(name: &'static str, about: &'static str, checks: fn() -> Vec<Check>) -> Self {
        CheckGroup { name, about, by_default: true, checks }
    }

    /// The same group, run only when named: one that starts a server of its own.
    pub const fn only_when_named(self) -> Self {
        CheckGroup { by_default: false, ..self }
    }

    /// Whether a program whose roster entry is `p` takes any of the group's checks: a group
    /// it takes none of (serving, for a program that does not serve) is not run on it.
    pub fn taken_by(&self, p: &roster::Program) -> bool {
        (self.checks)().iter().any(|c| c.needs.met_by(p))
    }
}

/// A [`Check`] named as its function: `check!(needs, module::name)`, or with arguments after
/// the program's leading ones, `check!(needs, module::name, extra…)`.
#[macro_export]
macro_rules! check {
    ($needs:expr, $module:ident :: $name:ident) => {
        $crate::checks::Check {
            name: stringify!($name),
            needs: $needs,
            run: $crate::$module::$name,
        }
    };
    ($needs:expr, $module:ident :: $name:ident, $($extra:expr),+) => {
        $crate::checks::Check {
            name: stringify!($name),
            needs: $needs,
            run: |p, l| $crate::$module::$name(p, l, $($extra),+),
        }
    };
}

/// The [`Check`]s of one module that need the same: `checks!(needs, module: [name, …])`,
/// a name followed by `(extra…)` where the check takes more.
#[macro_export]
macro_rules! checks {
    ($needs:expr, $module:ident: [$($name:ident $(($($extra:expr),+))?),+ $(,)?]) => {
        vec![$($crate::check!($needs, $module::$name $(, $($extra),+)?)),+]
    };
}

/// What a failed check said: the message it panicked with (a check fails by panicking).
pub fn what_it_said(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".into())
}
