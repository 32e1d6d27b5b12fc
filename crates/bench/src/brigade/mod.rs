//! `make bench-brigade`: the article's switch claims, measured with jimblandy/context-switch's
//! bucket brigade (`results/brigade/`).
//!
//! Every model and peer passes a token round rings of N = 2 … 100,000 tasks (as far as each
//! goes), about 200,000 hand-offs a point, unpinned and pinned to one core (`taskset -c 0`),
//! since the anchor found that pinning changes the answer. `serial` (and `py-serial`) is the
//! baseline: the same pipes, one thread, no switch; the cost of the switch alone is read by
//! subtracting it.
//!
//! - `tables.rs`: the tables, plots, verdicts on the article's claims, and the README section.

pub mod tables;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use workload::Report;

use crate::cli;
use crate::programs::Programs;
use crate::suite::Suite;
use roster::Workload;

/// The ring sizes.
pub const SIZES: [u32; 7] = [2, 10, 100, 500, 1_000, 10_000, 100_000];
/// About this many hand-offs a point: L = max(1, HANDOFFS / N).
pub const HANDOFFS: u32 = 200_000;
/// The ring size the target and the claims are judged at, as the anchor's.
pub const JUDGED_AT: u32 = 500;

#[derive(Serialize, Deserialize)]
pub struct Results {
    pub facts: serde_json::Value,
    pub points: Vec<Point>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Point {
    pub program: String,
    pub n: u32,
    pub laps: u32,
    pub pinned: bool,
    /// "ok", "exit 1: …", "timed out after N s", or why it did not run.
    pub status: String,
    pub report: Option<Report>,
}

crate::table::sweep_point!(Point);

impl Point {
    pub fn ns(&self) -> Option<f64> {
        Some(self.report.as_ref()?.brigade?.ns_per_handoff).filter(|_| self.ok())
    }
}

/// A program of the benchmark: its name in the tables and its command line.
pub struct Program {
    pub name: String,
    pub argv: Vec<String>,
    pub missing: Option<String>,
}

/// The Rust models, in the order of the tables; `threads --pipes`, `tokio --workers 1` and
/// `monoio --workers 1` beside their defaults.
pub const RUST: [&str; 11] = [
    "serial",
    "procs",
    "threads",
    "threads --pipes",
    "tokio",
    "tokio --workers 1",
    "epoll",
    "uring",
    "ring",
    "monoio",
    "monoio --workers 1",
];

fn programs(programs: &Programs) -> Vec<Program> {
    // A label's words after the id are its flags here: "threads --pipes".
    let row = |label: &str| {
        programs.row(label, &label.split(' ').skip(1).map(String::from).collect::<Vec<_>>())
    };
    let mut rows: Vec<crate::run::Row> = RUST.iter().map(|l| row(l)).collect();
    let rest = programs.the_rest(Workload::Brigade, rows.iter().map(|r| r.name.as_str()), &[]);
    rows.extend(rest);
    rows.into_iter().map(|r| Program { name: r.name, argv: r.argv, missing: r.missing }).collect()
}

/// One run of `p` on a ring of `n`, pinned to core 0 or not.
fn point(p: &Program, n: u32, pinned: bool, limit: Duration) -> Point {
    let laps = (HANDOFFS / n).max(1);
    let mut point =
        Point { program: p.name.clone(), n, laps, pinned, status: String::new(), report: None };
    if let Some(why) = &p.missing {
        point.status = why.clone();
        return point;
    }
    let mut argv = p.argv.clone();
    argv.extend(
        ["--workload", "brigade", "--tasks", &n.to_string(), "--laps", &laps.to_string(), "--json"]
            .map(String::from),
    );
    // Pinned: every task of the circle on core 0, as the anchor pins.
    match child::run_argv(&child::on_core(pinned.then_some(0), &argv), &[], limit) {
        Ok(ran) => {
            point.status = ran.outcome(limit);
            point.report = crate::run::report_line(&ran.stdout);
        }
        Err(e) => point.status = format!("cannot run {}: {e}", argv[0]),
    }
    point
}

fn run(o: &cli::Sweep) -> anyhow::Result<Results> {
    let all = Programs::find(&o.python);
    let programs = programs(&all);
    let mut more = all.versions();
    more.push(("taskset", crate::facts::first_line("taskset", &["--version"])));
    let mut r =
        Results { facts: crate::facts::json(&crate::facts::collect(None, more)), points: vec![] };
    let sizes: &[u32] = if o.quick { &[2, 500] } else { &SIZES };
    let limit = Duration::from_secs(if o.quick { 20 } else { 60 });
    for pinned in [false, true] {
        for p in &programs {
            for &n in sizes {
                // A line stops where its model stopped: past a failure, a larger ring fails too.
                let stopped = r
                    .points
                    .iter()
                    .any(|q| q.program == p.name && q.pinned == pinned && q.n < n && !q.ok());
                if stopped {
                    continue;
                }
                let point = point(p, n, pinned, limit);
                eprintln!(
                    "bench brigade: {:>20} N = {n:>6}{}: {} {}",
                    p.name,
                    if pinned { " pinned" } else { "" },
                    point.ns().map_or(String::new(), |ns| format!("{ns:.0} ns")),
                    point.status
                );
                r.points.push(point);
            }
        }
    }
    Ok(r)
}

/// `make bench-brigade` → results/brigade/.
pub const SUITE: Suite<cli::Sweep, Results> = Suite::new("brigade", run, tables::TEMPLATES);
