//! The roster (`roster.toml`, read by the `roster` crate) as the benchmarks use it: a row of
//! any program by its label, whether each program can run here, and the runtimes' versions.
//! Every suite, table and plot takes its programs from here, so a peer added to the roster
//! is in all of them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub use roster::{id_of, Flag, Program, Roster, Workload};

use crate::run::Row;

/// The roster, read once. `main` reads it before any subcommand, so a broken file is one
/// error at the start, and this never fails after.
pub fn roster() -> &'static Roster {
    static ROSTER: OnceLock<Roster> = OnceLock::new();
    ROSTER.get_or_init(|| Roster::load().unwrap_or_else(|e| panic!("{e}")))
}

/// Read the roster now, for `main`: its error, if it has one.
pub fn check() -> anyhow::Result<()> {
    Roster::load().map(|_| ()).map_err(anyhow::Error::msg)
}

/// The runtime a row runs on ("rust", "python", …); a label whose program is not in the
/// roster is an error, never taken for a Rust model.
pub fn runtime_of(label: &str) -> anyhow::Result<&'static str> {
    roster().runtime_of(label).map(|(name, _)| name).map_err(anyhow::Error::msg)
}

/// The row of the runtime of `label` that runs one cpu task at a time.
pub fn one_at_a_time(label: &str) -> anyhow::Result<&'static str> {
    roster().runtime_of(label).map(|(_, r)| r.one_at_a_time.as_str()).map_err(anyhow::Error::msg)
}

/// Whether a row is a Rust model's.
pub fn is_rust(label: &str) -> bool {
    roster().of(label).is_ok_and(Program::is_rust)
}

/// Whether a row's program runs one task after another: its runtime's one-at-a-time
/// program, with no pool and no loop to offload from (`serial`, `py-serial`).
pub fn is_serial(label: &str) -> bool {
    let Ok(p) = roster().of(label) else { return false };
    let one = roster().runtime.get(&p.runtime).map(|r| r.one_at_a_time.as_str());
    one == Some(p.id.as_str()) && !p.has_pool() && !p.takes(Flag::Offload)
}

/// The Rust models' ids, in the roster's order.
pub fn models() -> Vec<&'static str> {
    roster().models()
}

/// What a command line's placeholders stand for here: the binaries beside this one, and the
/// peers' Python `python` (Go and Node beside it), or without one the project's `.venv`.
pub fn places(python: Option<&str>) -> roster::Places {
    roster::Places::new(crate::run::bin_dir(), python.map(PathBuf::from))
}

/// The roster's programs with their places filled in, and whether each can run here.
pub struct Programs {
    pub places: roster::Places,
    /// Per id, found once: `None` if it runs, else why not.
    missing: Mutex<HashMap<String, Option<String>>>,
}

impl Programs {
    /// The programs, with the peers' Python `python` (Go and Node beside it).
    pub fn find(python: &str) -> Programs {
        Programs::with(places(Some(python)))
    }

    pub fn with(places: roster::Places) -> Programs {
        Programs { places, missing: Mutex::new(HashMap::new()) }
    }

    /// The row `label` ("tokio", "py-threads (10 workers)"): its program's command line, then
    /// `args`. A program not in the roster, or that cannot run here, gives a row that says
    /// why instead of a figure.
    pub fn row(&self, label: &str, args: &[String]) -> Row {
        match roster().of(label) {
            Ok(p) => {
                let argv = [p.argv(&self.places), args.to_vec()].concat();
                Row { missing: self.missing(p), ..Row::new(label, argv) }
            }
            Err(e) => Row { missing: Some(e), ..Row::new(label, vec![label.to_string()]) },
        }
    }

    /// A row for every program that runs `workload`, by its id, in the roster's order.
    pub fn every(&self, workload: Workload, args: &[String]) -> Vec<Row> {
        self.the_rest(workload, [], args)
    }

    /// A row for every program that runs `workload` and that no label in `listed` names
    /// (the rows a suite already has, and those it leaves out), by its id: what a suite that
    /// names the rows its reading is about adds, so that a program added to the roster is
    /// measured with the others.
    pub fn the_rest<'a>(
        &self,
        workload: Workload,
        listed: impl IntoIterator<Item = &'a str>,
        args: &[String],
    ) -> Vec<Row> {
        let listed: Vec<&str> = listed.into_iter().map(id_of).collect();
        let rest = roster().running(workload).filter(|p| !listed.contains(&p.id.as_str()));
        rest.map(|p| self.row(&p.id, args)).collect()
    }

    /// Why `p` cannot run here, found by running it once with `--tasks 1 --ms 0` (a Go peer
    /// not built, a Python module not installed): `None` when it runs.
    pub fn missing(&self, p: &Program) -> Option<String> {
        let mut known = self.missing.lock().unwrap_or_else(|e| e.into_inner());
        known
            .entry(p.id.clone())
            .or_insert_with(|| {
                let argv =
                    [p.argv(&self.places), ["--tasks", "1", "--ms", "0"].map(String::from).into()]
                        .concat();
                let limit = child::limit().min(Duration::from_secs(60));
                match child::run_argv(&argv, &[], limit) {
                    Ok(ran) if ran.status.is_some_and(|s| s.success()) => None,
                    Ok(ran) => Some(format!("{} (install: {})", ran.outcome(limit), p.install)),
                    Err(e) => Some(format!("{}: {e} (install: {})", argv[0], p.install)),
                }
            })
            .clone()
    }

    /// The runtimes' versions and the programs' own, for the machine facts beside every
    /// result.
    pub fn versions(&self) -> crate::facts::Facts {
        let r = roster();
        let shown = |argv: &[String]| {
            let argv = self.places.fill(argv);
            let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
            crate::facts::first_line(&argv[0], &args)
        };
        let runtimes = r.runtime.iter().filter_map(|(name, rt)| Some((name, rt.version.as_ref()?)));
        let programs = r.program.iter().filter_map(|p| Some((&p.id, p.version.as_ref()?)));
        runtimes.chain(programs).map(|(name, argv)| (name.as_str(), shown(argv))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serial_programs_are_found_from_the_roster() {
        let serial: Vec<&str> =
            roster().program.iter().map(|p| p.id.as_str()).filter(|id| is_serial(id)).collect();
        assert_eq!(serial, ["serial", "py-serial"]);
        assert!(is_serial("py-serial (the baseline)") && !is_serial("node-promises"));
        assert!(!is_serial("nginx (reference)"), "not in the roster: not serial");
    }
}
