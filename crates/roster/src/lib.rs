//! The roster: `roster.toml` at the repository root, read and checked. It is the one list of
//! every model and peer conclab runs — its id, its runtime, its command line, the workloads
//! it runs and the knobs it takes, how it is installed — so that the benchmarks, their tables
//! and plots, the tests, the Makefile and the Rust models' own command lines all read the same
//! list, and a new peer is one entry and its program.
//!
//! It is also where the contract's list of workloads lives, once: [`Workload`], which the
//! file's entries, every model's `--workload` and the suites name.
//!
//! A mistake in the file is an error that names the entry and the field: an unknown runtime,
//! workload or flag, a field nobody reads (a typo), an id given twice. Nothing falls back to a
//! default: a runtime not in `[runtime.*]` is refused, never taken for Rust.
//!
//! # Layout
//!
//! - [`Workload`]: the workloads of CONTRACT.md; [`Flag`] and [`Sizes`]: the optional knobs
//!   a program takes, and what its `--workers` sizes.
//! - [`Roster`]: the file, loaded and checked ([`Roster::embedded`]: the copy built into the
//!   binaries); [`Roster::of`] finds a row's program by its label ("py-threads (10 workers)"
//!   is the program `py-threads`).
//! - [`Program`], [`Runtime`]: one entry of each kind; [`Places`]: what the placeholders
//!   of a command line (`{bin}`, `{python}`, `{venv}`, `{peers}`) stand for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

/// What each task does (CONTRACT.md, "Task i"): the one list of workloads.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Deserialize,
    serde::Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// Wait `--ms` milliseconds without using the CPU.
    Sleep,
    /// One HTTP/1.1 GET to the local service, which answers after `--ms` milliseconds.
    Http,
    /// A chain of `--work` SHA-256 rounds.
    Cpu,
    /// Read (or with `--write` write) one `--bytes` block of the data file `--file`.
    Disk,
    /// Pass a token round a ring of the N tasks, `--laps` times: every hand-off a switch.
    Brigade,
    /// One query to PostgreSQL (`--db-url`): read row (i mod --rows) + 1, waiting `--ms` in
    /// the server; with `--write`, update it.
    Db,
    /// Crawl a web from `--seed`: a task is a URL, found as the crawl runs.
    Crawl,
}

impl Workload {
    /// Every workload, in the contract's order.
    pub const ALL: [Workload; 7] = [
        Workload::Sleep,
        Workload::Http,
        Workload::Cpu,
        Workload::Disk,
        Workload::Brigade,
        Workload::Db,
        Workload::Crawl,
    ];

    /// Its name on the command line and in roster.toml.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Sleep => "sleep",
            Workload::Http => "http",
            Workload::Cpu => "cpu",
            Workload::Disk => "disk",
            Workload::Brigade => "brigade",
            Workload::Db => "db",
            Workload::Crawl => "crawl",
        }
    }

    /// The workload called `name`, if there is one.
    pub fn named(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An optional knob a program takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    /// `--offload`: cpu tasks handed from an event loop to a pool (and `/cpu` when serving).
    Offload,
    /// `--serve ADDR`: serve HTTP instead of running tasks.
    Serve,
    /// `--timeline FILE`: each task's span and runner.
    Timeline,
    /// `--pipes`: on the brigade, the token through a pipe per pair instead of its usual way.
    Pipes,
}

/// What a program's `--workers W` sizes, besides the db workload's pool of W connections,
/// which every program takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sizes {
    /// The pool its tasks run on (processes, threads, a runtime's workers), for every
    /// workload but the brigade, and the workers that serve with `--serve`.
    Tasks,
    /// The event loops its tasks run on, a thread each (`monoio`'s runtimes), for every
    /// workload but the brigade, and the loops that serve with `--serve`. Not a pool: every
    /// task can wait at once on a loop, so W of them never make N tasks take turns.
    Loops,
    /// On the brigade too: the threads the ring's tasks run on (not a pool they wait for,
    /// which would leave tasks waiting on a token that never comes).
    Brigade,
    /// On disk, the file operations in flight: the threads a loop hands files to, or the
    /// entries on a ring.
    Disk,
    /// With `--offload`, the pool an event loop hands cpu tasks to.
    Offload,
    /// On crawl, the requests in flight.
    Crawl,
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// Keyed by the name the programs give as their `runtime`.
    pub runtime: BTreeMap<String, Runtime>,
    /// In the order the tables list them.
    pub program: Vec<Program>,
}

/// What a runtime's rows share.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    /// The row of this runtime that runs one cpu task at a time (a label, so it may carry
    /// flags: "go-goroutines (1 worker)"): what its speedups are over.
    pub one_at_a_time: String,
    /// A command that prints the runtime's version, for the machine facts (Rust's, rustc's,
    /// is among them already).
    #[serde(default)]
    pub version: Option<Vec<String>>,
}

/// One model or peer.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    pub id: String,
    pub runtime: String,
    /// The command line before the contract's flags, with placeholders (see [`Places`]).
    pub run: Vec<String>,
    /// The workloads it runs: every one unless the entry lists some.
    #[serde(default = "every_workload")]
    pub workloads: Vec<Workload>,
    /// The optional knobs it takes.
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// What its `--workers` sizes, besides db's connections.
    #[serde(default)]
    pub workers: Vec<Sizes>,
    /// What to run when it cannot run here.
    pub install: String,
    /// A command that prints the version of what it runs on, beyond its runtime's.
    #[serde(default)]
    pub version: Option<Vec<String>>,
    /// One line: what the model is.
    pub doc: String,
}

fn every_workload() -> Vec<Workload> {
    Workload::ALL.to_vec()
}

impl Program {
    /// Whether it runs `workload`.
    pub fn runs(&self, workload: Workload) -> bool {
        self.workloads.contains(&workload)
    }

    /// Whether it takes `flag`.
    pub fn takes(&self, flag: Flag) -> bool {
        self.flags.contains(&flag)
    }

    /// Whether its `--workers` sizes `what`.
    pub fn sizes(&self, what: Sizes) -> bool {
        self.workers.contains(&what)
    }

    /// Whether its tasks run on a pool that `--workers` sizes (procs, threads, tokio's
    /// workers, and the peers' executors). The pools suite sweeps the peers' by this, and
    /// picks the models' pools itself (`crates/bench/src/pools`).
    pub fn has_pool(&self) -> bool {
        self.sizes(Sizes::Tasks)
    }

    /// Its command line with the placeholders filled in.
    pub fn argv(&self, places: &Places) -> Vec<String> {
        places.fill(&self.run)
    }

    pub fn is_rust(&self) -> bool {
        self.runtime == "rust"
    }
}

/// What the placeholders of a command line stand for.
#[derive(Clone, Debug)]
pub struct Places {
    /// `{bin}`: the folder of the Rust binaries (target/release).
    pub bin: PathBuf,
    /// `{python}`: the peers' Python.
    pub python: PathBuf,
    /// `{peers}`: scripts/peers. `{venv}` is the folder `python` is in.
    pub peers: PathBuf,
}

impl Places {
    /// The repository's: `bin` given, the Python `python` (else `.venv/bin/python`, else
    /// `python3` from PATH), the peers in scripts/peers.
    pub fn new(bin: PathBuf, python: Option<PathBuf>) -> Places {
        let python = python.unwrap_or_else(|| {
            let venv = root().join(".venv/bin/python");
            if venv.exists() {
                venv
            } else {
                PathBuf::from("python3")
            }
        });
        Places { bin, python, peers: root().join("scripts/peers") }
    }

    pub fn fill(&self, argv: &[String]) -> Vec<String> {
        // A bare `python3` (from PATH) is in no folder: `{venv}/go` is then `go`, from PATH.
        let venv = match self.python.parent() {
            Some(v) if !v.as_os_str().is_empty() => format!("{}/", v.display()),
            _ => String::new(),
        };
        argv.iter()
            .map(|a| {
                a.replace("{venv}/", &venv)
                    .replace("{venv}", venv.trim_end_matches('/'))
                    .replace("{bin}", &self.bin.display().to_string())
                    .replace("{python}", &self.python.display().to_string())
                    .replace("{peers}", &self.peers.display().to_string())
            })
            .collect()
    }
}

/// The repository root, where roster.toml is.
pub fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// A row's program id: its label up to the first space ("tokio --offload" → "tokio").
pub fn id_of(label: &str) -> &str {
    label.split(' ').next().unwrap_or(label)
}

/// The flags a label names after its id: "(N workers)" or "(1 worker)" is `--workers N`,
/// "--offload" is itself; other words describe the row and add nothing.
pub fn flags_of(label: &str) -> Vec<String> {
    let mut flags = Vec::new();
    let words: Vec<&str> = label.split([' ', '(', ')']).filter(|w| !w.is_empty()).collect();
    for pair in words.windows(2) {
        if matches!(pair[1], "worker" | "workers") && pair[0].parse::<u32>().is_ok() {
            flags.extend(["--workers".to_string(), pair[0].to_string()]);
        }
    }
    if words.contains(&"--offload") {
        flags.push("--offload".into());
    }
    flags
}

impl Roster {
    /// roster.toml at the repository root, or the file `CONCLAB_ROSTER` names.
    pub fn path() -> PathBuf {
        std::env::var_os("CONCLAB_ROSTER").map_or_else(|| root().join("roster.toml"), PathBuf::from)
    }

    /// The roster the binaries were built with: roster.toml as it was at build time, so
    /// that a model's command line takes exactly the knobs its entry declares, wherever the
    /// binary is run from.
    pub fn embedded() -> &'static Roster {
        static EMBEDDED: OnceLock<Roster> = OnceLock::new();
        EMBEDDED.get_or_init(|| {
            let text = include_str!("../../../roster.toml");
            Roster::parse(text).unwrap_or_else(|e| panic!("roster.toml as built: {e}"))
        })
    }

    /// The file at [`Roster::path`], read and checked.
    pub fn load() -> Result<Roster, String> {
        let path = Roster::path();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read the roster {}: {e}", path.display()))?;
        Roster::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parse and check: each mistake names its entry and field.
    pub fn parse(text: &str) -> Result<Roster, String> {
        let roster: Roster = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
        roster.check()?;
        Ok(roster)
    }

    fn check(&self) -> Result<(), String> {
        let runtimes = || self.runtime.keys().cloned().collect::<Vec<_>>().join(", ");
        for (i, p) in self.program.iter().enumerate() {
            let at = format!("program '{}'", p.id);
            if p.id.is_empty() || p.id.contains(char::is_whitespace) {
                return Err(format!("{at}: an id is one word (labels add flags after a space)"));
            }
            if self.program[..i].iter().any(|q| q.id == p.id) {
                return Err(format!("{at}: the id is given twice"));
            }
            if !self.runtime.contains_key(&p.runtime) {
                return Err(format!(
                    "{at}: runtime '{}' is not one of {}; add a [runtime.{}] table",
                    p.runtime,
                    runtimes(),
                    p.runtime
                ));
            }
            if p.run.is_empty() {
                return Err(format!("{at}: run is empty"));
            }
            if p.workloads.is_empty() {
                return Err(format!("{at}: workloads is empty (leave it out for every workload)"));
            }
        }
        for (name, r) in &self.runtime {
            if self.program(id_of(&r.one_at_a_time)).is_none() {
                return Err(format!(
                    "runtime '{name}': one_at_a_time '{}' is no program's row",
                    r.one_at_a_time
                ));
            }
        }
        Ok(())
    }

    pub fn program(&self, id: &str) -> Option<&Program> {
        self.program.iter().find(|p| p.id == id)
    }

    /// The program a row's label belongs to; an unknown one is an error, never a default.
    pub fn of(&self, label: &str) -> Result<&Program, String> {
        self.program(id_of(label)).ok_or_else(|| {
            format!("'{}' is not in the roster ({})", id_of(label), Roster::path().display())
        })
    }

    /// The runtime a row runs on, and that runtime.
    pub fn runtime_of(&self, label: &str) -> Result<(&str, &Runtime), String> {
        let program = self.of(label)?;
        let (name, runtime) = self.runtime.get_key_value(&program.runtime).expect("checked");
        Ok((name, runtime))
    }

    /// The programs that run `workload`, in the roster's order.
    pub fn running(&self, workload: Workload) -> impl Iterator<Item = &Program> + '_ {
        self.program.iter().filter(move |p| p.runs(workload))
    }

    /// The Rust models' ids.
    pub fn models(&self) -> Vec<&str> {
        self.program.iter().filter(|p| p.is_rust()).map(|p| p.id.as_str()).collect()
    }

    /// The peers: every program that is not a Rust model.
    pub fn peers(&self) -> impl Iterator<Item = &Program> {
        self.program.iter().filter(|p| !p.is_rust())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
        [runtime.rust]
        one_at_a_time = "serial"

        [[program]]
        id = "serial"
        runtime = "rust"
        run = ["{bin}/serial"]
        workloads = ["sleep"]
        flags = []
        install = "make build"
        doc = "one after another"
    "#;

    #[test]
    fn the_repositorys_roster_is_well_formed() {
        let roster = Roster::load().unwrap();
        assert_eq!(
            roster.models(),
            ["serial", "procs", "threads", "tokio", "epoll", "uring", "ring", "monoio"]
        );
        assert!(roster.peers().count() >= 7);
    }

    #[test]
    fn an_unknown_runtime_is_an_error_never_rust() {
        let text = ONE.replace("runtime = \"rust\"", "runtime = \"java\"");
        let e = Roster::parse(&text).unwrap_err();
        assert!(e.contains("program 'serial': runtime 'java' is not one of rust"), "{e}");
        let roster = Roster::parse(ONE).unwrap();
        assert!(roster.runtime_of("loom (4 workers)").unwrap_err().contains("'loom' is not in"));
    }

    #[test]
    fn unknown_workloads_flags_fields_and_twice_given_ids_are_named() {
        let cases = [
            (ONE.replace("[\"sleep\"]", "[\"sleep\", \"gpu\"]"), "unknown variant `gpu`"),
            (ONE.replace("flags = []", "flags = [\"turbo\"]"), "unknown variant `turbo`"),
            (ONE.replace("flags = []", "workers = [\"all\"]"), "unknown variant `all`"),
            (ONE.replace("[\"sleep\"]", "[]"), "workloads is empty"),
            (ONE.replace("doc =", "docs ="), "unknown field `docs`"),
            (
                format!("{ONE}\n[[program]]\n{}", ONE.split("[[program]]").nth(1).unwrap()),
                "given twice",
            ),
            (
                ONE.replace("one_at_a_time = \"serial\"", "one_at_a_time = \"x\""),
                "no program's row",
            ),
        ];
        for (text, wanted) in cases {
            let e = Roster::parse(&text).unwrap_err();
            assert!(e.contains(wanted), "{wanted:?} not in {e:?}");
        }
    }

    #[test]
    fn an_entry_runs_every_workload_unless_it_lists_some_and_sizes_what_it_says() {
        let every = Roster::parse(&ONE.replace("workloads = [\"sleep\"]\n", "")).unwrap();
        assert_eq!(every.program[0].workloads, Workload::ALL);
        let knobs = ONE.replace("flags = []", "flags = [\"offload\"]\nworkers = [\"disk\"]");
        let p = &Roster::parse(&knobs).unwrap().program[0];
        assert!(p.takes(Flag::Offload) && !p.takes(Flag::Serve));
        assert!(p.sizes(Sizes::Disk) && !p.has_pool());
        assert_eq!(Workload::named("db"), Some(Workload::Db));
        assert!(Workload::ALL.iter().all(|&w| Workload::named(w.name()) == Some(w)));
    }

    #[test]
    fn the_binaries_roster_is_the_file() {
        let file = Roster::load().unwrap();
        let ids = |r: &Roster| r.program.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(Roster::embedded()), ids(&file));
    }

    #[test]
    fn a_label_names_its_program_and_placeholders_are_filled() {
        assert_eq!(id_of("py-threads (10 workers)"), "py-threads");
        assert_eq!(id_of("tokio --offload"), "tokio");
        assert_eq!(flags_of("go-goroutines (1 worker)"), ["--workers", "1"]);
        assert_eq!(flags_of("epoll --offload (2 workers)"), ["--workers", "2", "--offload"]);
        assert!(flags_of("py-threads (the GIL)").is_empty());
        let places =
            Places { bin: "/b".into(), python: "/v/bin/python".into(), peers: "/p".into() };
        let argv = ["{python}", "{peers}/x.py", "{venv}/go", "{bin}/serial"].map(String::from);
        assert_eq!(places.fill(&argv), ["/v/bin/python", "/p/x.py", "/v/bin/go", "/b/serial"]);
        let bare = Places { python: "python3".into(), ..places };
        assert_eq!(bare.fill(&["{venv}/go".to_string()]), ["go"]);
    }
}
