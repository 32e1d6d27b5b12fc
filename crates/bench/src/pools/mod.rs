//! `make bench-pools`: the article's "the best pool size is generally CPU × 2", put to the
//! test (`results/pools/`). Every pool model — `threads`, `procs`, `epoll`'s pools (`--offload`
//! on cpu, its file threads on disk) and the Python pools — runs each workload with
//! `--workers` 1, 2, 4 … up to N; the median wall of three runs a point.
//!
//! - `tables.rs`: the tables, the plots with CPU × 2 marked, and the verdicts.

pub mod tables;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cli;
use crate::programs::Programs;
use crate::suite::Suite;
use roster::Workload;

/// One workload of the sweep: its arguments, and the pool sizes tried.
pub struct Case {
    pub workload: &'static str,
    pub args: Vec<String>,
    pub sizes: Vec<u32>,
}

#[derive(Serialize, Deserialize)]
pub struct Results {
    pub facts: serde_json::Value,
    pub cores: u32,
    pub runs: u32,
    pub cases: Vec<CaseResult>,
}

#[derive(Serialize, Deserialize)]
pub struct CaseResult {
    pub workload: String,
    pub args: String,
    pub points: Vec<Point>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Point {
    pub program: String,
    pub workers: u32,
    /// Each run's own wall time (its report's `wall_s`).
    pub walls: Vec<f64>,
    /// "ok", or why a run failed.
    pub status: String,
}

impl crate::table::OfProgram for Point {
    fn program(&self) -> &str {
        &self.program
    }
}

impl Point {
    pub fn median_wall(&self) -> Option<f64> {
        (self.status == "ok").then(|| crate::stats::median(self.walls.iter().copied())).flatten()
    }
}

/// A pool program: its name, its command line before the workload's arguments, the
/// workloads it has a pool for, and the largest pool worth starting.
struct Program {
    name: String,
    argv: Vec<String>,
    missing: Option<String>,
    workloads: Vec<&'static str>,
    max: u32,
}

/// The workloads the suite sweeps: its `cases`. Of the models, the blocking pools run them
/// all and `epoll`'s two pools their own one; tokio's runtime workers are measured at one a
/// core in results/cpu, and the rings' `--workers` on disk caps the reads in flight on one
/// thread: no pool.
const ALL: &[&str] = &["sleep", "http", "cpu", "disk"];

fn programs(programs: &Programs) -> Vec<Program> {
    let model = |name: &str, extra: &[&str], workloads: &[&'static str], max| {
        let mut argv = crate::run::model_program(name);
        argv.extend(extra.iter().map(|s| s.to_string()));
        let label = [name].into_iter().chain(extra.iter().copied()).collect::<Vec<_>>().join(" ");
        Program { name: label, argv, missing: None, workloads: Vec::from(workloads), max }
    };
    // A peer's cases: those of its workloads the roster says it runs.
    let peer = |row: crate::run::Row, max| {
        let entry = crate::programs::roster().of(&row.name).ok();
        let runs = |w: &&str| entry.is_some_and(|p| Workload::named(w).is_some_and(|w| p.runs(w)));
        let workloads = ALL.iter().copied().filter(runs).collect();
        Program { name: row.name, argv: row.argv, missing: row.missing, workloads, max }
    };
    let mut all = vec![
        model("threads", &[], ALL, 1024),
        model("procs", &[], ALL, 1024),
        model("epoll", &["--offload"], &["cpu"], 1024),
        model("epoll", &[], &["disk"], 1024),
        peer(programs.row("py-threads", &[]), 1024),
        // A process per worker, each its own interpreter: 32 is half a GiB of them.
        peer(programs.row("py-processes", &[]), 32),
    ];
    // And every other peer with a pool the roster says --workers sizes.
    let others = programs.the_rest(Workload::Sleep, all.iter().map(|p| p.name.as_str()), &[]);
    let pooled = |r: &crate::run::Row| {
        crate::programs::roster().of(&r.name).is_ok_and(|p| !p.is_rust() && p.has_pool())
    };
    all.extend(others.into_iter().filter(pooled).map(|r| peer(r, 1024)));
    all
}

fn cases(addr: &str, quick: bool) -> Vec<Case> {
    let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    let upto = |n: u32| (0..).map(|k| 1u32 << k).take_while(|&w| w <= n).collect::<Vec<_>>();
    let mut cases = vec![
        Case {
            workload: "sleep",
            args: words("--workload sleep --tasks 64 --ms 20"),
            sizes: upto(64),
        },
        Case {
            workload: "http",
            args: words(&format!("--workload http --tasks 64 --ms 20 --addr {addr}")),
            sizes: upto(64),
        },
        Case {
            workload: "cpu",
            args: words("--workload cpu --tasks 16 --work 200000"),
            sizes: upto(16),
        },
        Case { workload: "disk", args: words("--workload disk --tasks 20000"), sizes: upto(256) },
    ];
    if quick {
        for c in &mut cases {
            c.sizes.retain(|&w| w <= 4);
        }
    }
    cases
}

fn run(o: &cli::Sweep) -> anyhow::Result<Results> {
    let peers = Programs::find(&o.python);
    let service = crate::service::Service::start()?;
    let programs = programs(&peers);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let runs = if o.quick { 1 } else { 3 };
    let mut r = Results {
        facts: crate::facts::json(&crate::facts::collect(None, peers.versions())),
        cores,
        runs,
        cases: vec![],
    };
    let limit = Duration::from_secs(120);
    for case in cases(&service.addr, o.quick) {
        let mut result = CaseResult {
            workload: case.workload.into(),
            args: case.args.join(" "),
            points: vec![],
        };
        for p in programs.iter().filter(|p| p.workloads.contains(&case.workload)) {
            for &w in case.sizes.iter().filter(|&&w| w <= p.max) {
                let mut point = Point {
                    program: p.name.clone(),
                    workers: w,
                    walls: vec![],
                    status: "ok".into(),
                };
                if let Some(why) = &p.missing {
                    point.status = why.clone();
                } else {
                    for _ in 0..runs {
                        let mut argv = p.argv.clone();
                        argv.extend(case.args.iter().cloned());
                        argv.extend(["--workers".to_string(), w.to_string(), "--json".into()]);
                        let ran = child::run_argv(&argv, &[], limit).map_err(anyhow::Error::msg)?;
                        match crate::run::report_line(&ran.stdout) {
                            Some(report) if ran.outcome(limit) == "ok" => {
                                point.walls.push(report.wall_s)
                            }
                            _ => {
                                point.status = ran.outcome(limit);
                                break;
                            }
                        }
                    }
                }
                eprintln!(
                    "bench pools: {:>8} {:>22} W = {w:>4}: {} {}",
                    case.workload,
                    p.name,
                    point.median_wall().map_or(String::new(), |m| format!("{m:.4} s")),
                    point.status
                );
                result.points.push(point);
            }
        }
        r.cases.push(result);
    }
    drop(service);
    Ok(r)
}

/// `make bench-pools` → results/pools/.
pub const SUITE: Suite<cli::Sweep, Results> = Suite::new("pools", run, tables::TEMPLATES);
