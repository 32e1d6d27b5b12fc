//! `make bench-db`: every model and peer querying a real PostgreSQL, beside pgbench on the
//! same table in the same run (`results/db/`).
//!
//! The server is a throwaway cluster (`scripts/pg_cluster.py serve`, max_connections 100),
//! pinned to one core; the clients, pgbench among them, run on the other. Three cases
//! (README, "Databases"):
//! - **Waiting in the database**: N = 1,000 queries that each wait 100 ms in the server, with
//!   a pool of W = 10, 50 and 90 connections, against the ideal ⌈N / W⌉ × 100 ms; and a
//!   connection per task at N = 90 (under max_connections) and N = 200 (past it), each
//!   waiting 1 s. pgbench with a connection per transaction (`-C`) says what a connection
//!   costs the server.
//! - **Throughput**: 100,000 point selects at W = 1, 10 and 50, beside pgbench running the
//!   same select as a prepared statement (`-M prepared`) with as many clients.
//! - **Writes**: 10,000 durable updates at W = 1, 10 and 50, beside pgbench's same update:
//!   where commits are grouped.
//!
//! - `pgbench.rs`: the anchor's runs and what they measured.
//! - `tables.rs`: the tables, the plot, the targets' verdicts and the README section.

pub mod pgbench;
pub mod tables;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use workload::Report;

use crate::cli;
use crate::programs::Programs;
use crate::suite::Suite;
use roster::Workload;
use testkit::postgres::Cluster;

/// The rows the cluster is seeded with.
pub const ROWS: u32 = 100_000;
/// The waiting case: N queries of MS ms at each pool size.
pub const WAIT_N: u32 = 1_000;
pub const WAIT_MS: u64 = 100;
pub const WAIT_POOLS: [u32; 3] = [10, 50, 90];
/// A connection per task: under and past max_connections. Each holds its connection for
/// UNPOOLED_MS: long enough that they are all open at once, which at 100 ms they are not —
/// the server opens a connection in a few ms of its one core, so the first are done before
/// the last is open.
pub const UNPOOLED: [u32; 2] = [90, 200];
pub const UNPOOLED_MS: u64 = 1000;
/// The throughput and write cases' pool sizes.
pub const POOLS: [u32; 3] = [1, 10, 50];

#[derive(Serialize, Deserialize)]
pub struct Results {
    pub facts: serde_json::Value,
    pub max_connections: u32,
    pub rows: u32,
    /// Whether the server and the clients had a core each.
    pub pinned: bool,
    pub wait: Vec<Point>,
    pub unpooled: Vec<Point>,
    /// pgbench -C: a connection per select, one client; against `reads` at W = 1, what a
    /// connection costs.
    pub connect: Option<Point>,
    pub reads: Vec<Point>,
    pub writes: Vec<Point>,
}

/// One run of one program (or of pgbench).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Point {
    pub program: String,
    pub n: u32,
    /// The pool's connections, or `None` for a connection per task.
    pub workers: Option<u32>,
    /// "ok", "exit 1: …", "timed out after N s", or why it did not run.
    pub status: String,
    pub wall_s: Option<f64>,
    pub ideal_s: Option<f64>,
    pub qps: Option<f64>,
    pub failed: Option<u32>,
    /// The client's user and system CPU per query (the whole process, children included).
    pub cpu_us_per_query: Option<f64>,
    pub first_error: Option<String>,
    pub report: Option<Report>,
}

crate::table::sweep_point!(Point);

impl Point {
    pub fn missing(program: &str, n: u32, workers: Option<u32>, why: String) -> Point {
        Point { program: program.into(), n, workers, status: why, ..Point::default() }
    }
}

/// A program of the benchmark; `serial`: one query at a time, so only W = 1 applies.
struct Program {
    name: String,
    argv: Vec<String>,
    missing: Option<String>,
    serial: bool,
}

fn programs(programs: &Programs) -> Vec<Program> {
    let rows = programs.every(Workload::Db, &[]);
    rows.into_iter()
        .map(|r| Program {
            serial: crate::programs::is_serial(&r.name),
            name: r.name,
            argv: r.argv,
            missing: r.missing,
        })
        .collect()
}

/// One run of `p`: N queries with `extra` arguments.
fn run_point(
    p: &Program,
    url: &str,
    core: Option<usize>,
    n: u32,
    workers: Option<u32>,
    extra: &[&str],
) -> Point {
    if let Some(why) = &p.missing {
        return Point::missing(&p.name, n, workers, why.clone());
    }
    let n_text = n.to_string();
    let mut argv = p.argv.clone();
    argv.extend(
        ["--workload", "db", "--db-url", url, "--tasks", &n_text, "--json"].map(String::from),
    );
    if let Some(w) = workers {
        argv.extend(["--workers".into(), w.to_string()]);
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    let limit = Duration::from_secs(300);
    let ran = match child::run_argv(&child::on_core(core, &argv), &[], limit) {
        Ok(ran) => ran,
        Err(e) => {
            return Point::missing(&p.name, n, workers, format!("cannot run {}: {e}", argv[0]))
        }
    };
    let report = crate::run::report_line(&ran.stdout);
    let mut point = Point::missing(&p.name, n, workers, ran.outcome(limit));
    if let Some(r) = &report {
        point.wall_s = Some(r.wall_s);
        point.ideal_s = r.ideal_s;
        point.qps = r.qps;
        point.failed = Some(r.failed);
        point.cpu_us_per_query = Some((r.user_s + r.sys_s) / f64::from(n) * 1e6);
        point.first_error.clone_from(&r.first_error);
    }
    point.report = report;
    point
}

fn run(o: &cli::Sweep) -> anyhow::Result<Results> {
    let peers = Programs::find(&o.python);
    let programs = programs(&peers);
    let (server_core, client_core) = (child::server_core(), child::client_core());
    let cluster = Cluster::serve(ROWS, server_core).map_err(anyhow::Error::msg)?;
    let pgbench = pgbench::Pgbench::new(cluster.port())?;
    let mut more = peers.versions();
    more.push(("postgresql", crate::facts::first_line("pgbench", &["--version"])));
    more.push(("max_connections", pgbench::MAX_CONNECTIONS.to_string()));
    let mut r = Results {
        facts: crate::facts::json(&crate::facts::collect(None, more)),
        max_connections: pgbench::MAX_CONNECTIONS,
        rows: ROWS,
        pinned: server_core.is_some(),
        wait: vec![],
        unpooled: vec![],
        connect: None,
        reads: vec![],
        writes: vec![],
    };
    let scale = |n: u32| if o.quick { n / 10 } else { n };
    let ms = WAIT_MS.to_string();
    let concurrent = programs.iter().filter(|p| !p.serial);
    for &w in &WAIT_POOLS {
        eprintln!("bench db: {} queries of {ms} ms, a pool of {w}", WAIT_N);
        for p in concurrent.clone() {
            r.wait.push(run_point(p, &cluster.url, client_core, WAIT_N, Some(w), &["--ms", &ms]));
        }
    }
    let long = UNPOOLED_MS.to_string();
    for &n in &UNPOOLED {
        eprintln!("bench db: {n} queries of {long} ms, a connection each");
        for p in concurrent.clone() {
            r.unpooled.push(run_point(p, &cluster.url, client_core, n, None, &["--ms", &long]));
        }
    }
    eprintln!("bench db: pgbench, a connection per select");
    r.connect = Some(pgbench.connecting(client_core, scale(2_000)));
    for (case, n, write) in
        [("point selects", scale(100_000), false), ("updates", scale(10_000), true)]
    {
        for &w in &POOLS {
            eprintln!("bench db: {n} {case}, W = {w}");
            let points = if write { &mut r.writes } else { &mut r.reads };
            points.push(pgbench.point(client_core, n, w, write));
            let extra: &[&str] = if write { &["--ms", "0", "--write"] } else { &["--ms", "0"] };
            for p in programs.iter().filter(|p| w == 1 || !p.serial) {
                points.push(run_point(p, &cluster.url, client_core, n, Some(w), extra));
            }
        }
    }
    drop(cluster);
    Ok(r)
}

/// `make bench-db` → results/db/.
pub const SUITE: Suite<cli::Sweep, Results> = Suite::new("db", run, tables::TEMPLATES);
