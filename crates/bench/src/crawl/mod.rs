//! `make bench-crawl`: every model and peer crawling the project's web, beside Scrapy on the
//! same web in the same run (`results/crawl/`).
//!
//! The web (`web`, CONTRACT.md "The web") is pinned to one core and the crawler to the
//! other, so that the web's own CPU, measured from /proc beside each run, is never taken for
//! the crawler's. Four cases (README, "Crawling"):
//! - **Pages a second against W**, W = 1 … 10,000 requests in flight, at a latency of 0, 1,
//!   10 and 50 ms fixed and the log-normal 20 ms/200 ms, with `--per-host` ≥ W / H. Each run
//!   requests about three seconds' worth of URLs at the rate the program can reach (W / L,
//!   or its own rate at L = 0), and at least 2 × W; a program that fails or outlasts its
//!   limit at some W is not run at larger ones, and the table says why.
//! - **Memory at W = 5,000**, L = 50 ms: every concurrent program, its peak RSS against
//!   what its pages in flight need.
//! - **The io_uring crawl path**: `ring` at L = 0, W = 100 on each rung of its crawl ladder
//!   (`crates/ring/src/parts/crawl_path.rs`: one-shot and multishot RECVs), the rungs
//!   interleaved round after round, each run's system calls counted under strace once.
//! - **The fault profile**: a fresh web with `--faults` for each program (a page answers
//!   503 or resets only on its first request since the web started), its counts against the
//!   answer sheet; and its trap, crawled with `--tasks 1,000`.
//!
//! - `web.rs`: the web, started and measured.
//! - `tables.rs`: the tables, the plots, the targets' verdicts and the README section.

pub mod tables;
mod web;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cli;
use crate::ladder::CRAWL;
use crate::programs::Programs;
use crate::suite::Suite;
use roster::Workload;
use web::Web;

/// The web of the sweep: pages over hosts (about twice as many URLs: images, queries,
/// redirects and 404s), links a page.
pub const PAGES: u32 = 50_000;
pub const HOSTS: u32 = 20;
pub const LINKS: u32 = 8;
/// The latencies of the sweep, as `web --latency` takes them.
pub const LATENCIES: [&str; 5] = ["0", "1ms", "10ms", "50ms", "20ms/200ms"];
/// Requests in flight.
pub const WORKERS: [u32; 5] = [1, 10, 100, 1_000, 10_000];
/// The memory case.
pub const MEMORY_W: u32 = 5_000;
pub const MEMORY_LATENCY: &str = "50ms";
/// The fault profile's web, its --timeout-ms, and the trap's --tasks.
pub const FAULT_PAGES: u32 = 2_000;
pub const FAULT_HOSTS: u32 = 4;
pub const FAULT_TIMEOUT_MS: u64 = 2_000;
pub const TRAP_TASKS: u32 = 1_000;
/// A run's URLs: about `seconds`, or `round_trips` of the web's latency if longer, at the
/// rate expected, at least 2 × W, within these. A crawl starts from one seed and takes a few
/// round trips to put W in flight; the floor in round trips keeps that ramp a small part of
/// the run, so that a slow web's pages a second are its steady rate.
#[derive(Clone, Copy)]
struct Budget {
    seconds: f64,
    round_trips: f64,
    fewest: u32,
    most: u32,
}
const FULL: Budget = Budget { seconds: 3.0, round_trips: 150.0, fewest: 200, most: 30_000 };
const QUICK: Budget = Budget { seconds: 1.0, round_trips: 30.0, fewest: 100, most: 3_000 };
/// The offload case: the hand-written loops with and without `--offload`, the crawler on
/// both cores (the web keeps its own pinned), at (L, W).
pub const OFFLOAD_AT: [(&str, u32); 2] = [("0", 100), ("10ms", 1_000)];
/// The ladder's web and W (`crate::ladder::CRAWL`), and its rounds.
pub const LADDER_AT: (&str, u32) = ("0", 100);
const LADDER_ROUNDS: u32 = 5;
/// A run is killed past this.
const LIMIT: Duration = Duration::from_secs(150);

/// The anchor's row name.
pub const SCRAPY: &str = "scrapy";

#[derive(Serialize, Deserialize)]
pub struct Results {
    pub facts: Value,
    /// Whether the web and the crawlers had a core each.
    pub pinned: bool,
    /// The sweep's web: its sheet's page count at each latency is the same web.
    pub pages: u32,
    pub hosts: u32,
    pub urls: u32,
    pub sweep: Vec<Point>,
    pub memory: Vec<Point>,
    pub faults: Vec<Point>,
    pub trap: Vec<Point>,
    /// The offload case, the crawler unpinned.
    #[serde(default)]
    pub offload: Vec<Point>,
    /// `ring` on each rung of its crawl ladder, round after round.
    #[serde(default)]
    pub ladder: Vec<Point>,
    /// Scrapy's whole crawl of the fault profile's web without its faults: its page set
    /// against the answer sheet.
    #[serde(default)]
    pub scrapy_whole: Option<Point>,
}

/// One run of one program (or of Scrapy).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Point {
    pub program: String,
    /// `web --latency`'s value.
    pub latency: String,
    /// How the crawler was run.
    #[serde(flatten)]
    pub at: At,
    /// "ok", "exit 1: …", "timed out after N s", or why it did not run.
    pub status: String,
    /// The web's CPU seconds (user + system) while it ran.
    pub web_cpu_s: Option<f64>,
    /// Its `--json` report (Scrapy's in the same shape, what it cannot tell null).
    pub report: Option<Value>,
    /// The web's answer sheet, for the fault profile's runs.
    pub sheet: Option<Value>,
    /// The ladder's runs: the rung, and the system calls of one run of it under strace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rung: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<crate::trace::Calls>,
}

crate::table::sweep_point!(Point);

impl Point {
    /// A number of its report: `figure("crawl", "pages_per_s")`.
    pub fn figure(&self, path: &[&str]) -> Option<f64> {
        path.iter().try_fold(self.report.as_ref()?, |v, key| v.get(key))?.as_f64()
    }

    pub fn pages_per_s(&self) -> Option<f64> {
        self.figure(&["crawl", "pages_per_s"]).filter(|_| self.ok())
    }

    /// Every URL answered a second — pages, redirects and failures — as Little's law counts.
    pub fn urls_per_s(&self) -> Option<f64> {
        Some(self.figure(&["tasks"])? / self.figure(&["wall_s"])?).filter(|_| self.ok())
    }

    /// The crawler's CPU (user + system) a page, in µs; the web's beside it.
    pub fn cpu_us_per_page(&self) -> Option<f64> {
        let cpu = self.figure(&["user_s"])? + self.figure(&["sys_s"])?;
        Some(cpu / self.figure(&["crawl", "pages"])?.max(1.0) * 1e6)
    }

    /// Peak RSS, its children's peaks added (a process per worker), in KiB.
    pub fn rss_kib(&self) -> Option<f64> {
        Some(
            self.figure(&["max_rss_kib"])?
                + self.figure(&["children_max_rss_kib_sum"]).unwrap_or(0.0),
        )
    }

    pub fn web_cpu_us_per_url(&self) -> Option<f64> {
        Some(self.web_cpu_s? / self.figure(&["tasks"])?.max(1.0) * 1e6)
    }
}

/// A crawler: its row name and command line, or why it cannot run.
struct Program {
    name: String,
    argv: Vec<String>,
    missing: Option<String>,
    serial: bool,
    /// A process per worker: its W stops at 1,000 (see `most_workers`).
    forks: bool,
}

/// Every program of the roster that crawls, the hand-written loops also with `--offload`
/// (parsing off the loop's thread), and Scrapy.
fn programs(peers: &Programs, python: &str) -> Vec<Program> {
    let mut rows = peers.every(Workload::Crawl, &[]);
    for model in ["epoll", "ring"] {
        rows.push(peers.row(&format!("{model} --offload"), &["--offload".into()]));
    }
    let mut out: Vec<Program> = rows
        .into_iter()
        .map(|r| Program {
            serial: crate::programs::is_serial(&r.name),
            forks: ["procs", "py-processes"].contains(&roster::id_of(&r.name)),
            name: r.name,
            argv: r.argv,
            missing: r.missing,
        })
        .collect();
    let spider = roster::root().join("scripts/scrapy_crawl.py").display().to_string();
    let scrapy = child::output(&[python.into(), "-c".into(), "import scrapy".into()], false);
    out.push(Program {
        name: SCRAPY.into(),
        argv: vec![python.into(), spider],
        missing: scrapy.err().map(|e| format!("Scrapy is not installed ({e}): `make peers`")),
        serial: false,
        forks: false,
    });
    out
}

/// The most requests in flight a program is run with, and why not more: a process per
/// worker at 10,000 would be 10,000 processes, past what this machine's memory holds for
/// interpreters.
fn most_workers(p: &Program) -> (u32, &'static str) {
    match (p.serial, p.forks) {
        (true, _) => (1, "one request at a time: its only W is 1"),
        (_, true) => (1_000, "a process per worker: not run past W = 1,000"),
        _ => (u32::MAX, ""),
    }
}

/// How a crawl is run: W requests in flight (`--workers`), C connections an origin
/// (`--per-host`), at most N URLs (`--tasks`).
#[derive(Clone, Copy, Default, Serialize, Deserialize)]
pub struct At {
    pub workers: u32,
    pub per_host: u32,
    pub tasks: u32,
}

/// One crawl by `p` of `web` from `scope` (its `--seed` and `--allow`), `at` its limits,
/// `extra` arguments beside, on the crawlers' core.
fn crawl(p: &Program, web: &Web, scope: &[String], at: At, extra: &[&str]) -> Point {
    crawl_on(child::client_core(), p, web, scope, at, extra, &[])
}

/// The same, on `core` (or on any).
fn crawl_on(
    core: Option<usize>,
    p: &Program,
    web: &Web,
    scope: &[String],
    at: At,
    extra: &[&str],
    env: &[(&str, String)],
) -> Point {
    let mut point =
        Point { program: p.name.clone(), latency: web.latency.clone(), at, ..Point::default() };
    if let Some(why) = &p.missing {
        point.status = why.clone();
        return point;
    }
    let argv = command(p, scope, at, extra);
    let before = web.cpu_s();
    let ran = match child::run_argv(&child::on_core(core, &argv), env, LIMIT) {
        Ok(ran) => ran,
        Err(e) => {
            point.status = format!("cannot run {}: {e}", argv[0]);
            return point;
        }
    };
    point.web_cpu_s = Some(web.cpu_s() - before);
    point.status = ran.outcome(LIMIT);
    point.report = ran.stdout.lines().find_map(|l| serde_json::from_str(l).ok());
    point
}

/// `p`'s command line for one crawl.
fn command(p: &Program, scope: &[String], at: At, extra: &[&str]) -> Vec<String> {
    let mut argv = p.argv.clone();
    if p.name != SCRAPY {
        argv.extend(["--workload", "crawl", "--json"].map(String::from));
    }
    argv.extend(scope.iter().cloned());
    if !p.serial {
        argv.extend(["--workers".into(), at.workers.to_string()]);
    }
    let limits =
        ["--per-host".into(), at.per_host.to_string(), "--tasks".into(), at.tasks.to_string()];
    argv.extend(limits);
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv
}

/// `ring` on every rung of its crawl ladder at [`LADDER_AT`], `rounds` times, the rungs
/// interleaved so that the machine's drift touches each alike; each run's calls counted once
/// more under strace.
/// `rate`: the pages a second `ring` reached at L = 0, to size the runs by.
fn ladder(
    p: &Program,
    pages: u32,
    budget: Budget,
    rate: f64,
    rounds: u32,
) -> anyhow::Result<Vec<Point>> {
    let (latency, w) = LADDER_AT;
    let web = Web::start(pages, HOSTS, latency, false)?;
    let urls = urls_for(budget, rate, median_latency(latency), w, web.urls());
    let at = At { workers: w, per_host: per_host(w, HOSTS), tasks: urls };
    let mut out = vec![];
    for round in 1..=rounds {
        for rung in CRAWL.rungs {
            eprintln!("bench crawl: the io_uring crawl path, round {round}, {rung}");
            let env = [(CRAWL.variable, rung.to_string())];
            let mut point = crawl_on(child::client_core(), p, &web, &web.scope(), at, &[], &env);
            let argv = command(p, &web.scope(), at, &[]);
            point.calls = crate::trace::Calls::counted(&CRAWL.setting(rung), argv)
                .inspect_err(|e| eprintln!("{rung}: not counted: {e:#}"))
                .ok();
            point.rung = Some(rung.to_string());
            out.push(point);
        }
    }
    Ok(out)
}

/// The URLs a run requests at `rate` on a web of median latency `l` seconds: the budget's
/// time, at least 2 × W.
fn urls_for(budget: Budget, rate: f64, l: f64, w: u32, web_urls: u32) -> u32 {
    let seconds = budget.seconds.max(budget.round_trips * l);
    let wanted = (rate * seconds).max(2.0 * f64::from(w)) as u32;
    wanted.clamp(budget.fewest, budget.most.min(web_urls))
}

/// `--per-host` for W over the web's hosts: at least W / H, and the default 6 at least.
fn per_host(w: u32, hosts: u32) -> u32 {
    w.div_ceil(hosts).max(6)
}

/// The latency in seconds a host answers after at the median (the fixed value, or p50).
fn median_latency(latency: &str) -> f64 {
    let first = latency.split('/').next().unwrap_or("0");
    first.strip_suffix("ms").and_then(|m| m.parse::<f64>().ok()).map_or(0.0, |ms| ms / 1000.0)
}

fn run(o: &cli::Sweep) -> anyhow::Result<Results> {
    let peers = Programs::find(&o.python);
    let programs = programs(&peers, &o.python);
    let (latencies, workers, budget): (&[&str], &[u32], Budget) = match o.quick {
        true => (&["0", "10ms"], &[1, 100], QUICK),
        false => (&LATENCIES, &WORKERS, FULL),
    };
    let pages = if o.quick { PAGES / 10 } else { PAGES };
    let mut more = peers.versions();
    more.push(("scrapy", crate::facts::first_line(&o.python, &["-m", "scrapy", "version"])));
    let mut r = Results {
        facts: crate::facts::json(&crate::facts::collect(None, more)),
        pinned: child::server_core().is_some(),
        pages,
        hosts: HOSTS,
        urls: 0,
        sweep: vec![],
        memory: vec![],
        faults: vec![],
        trap: vec![],
        offload: vec![],
        ladder: vec![],
        scrapy_whole: None,
    };
    // Each program's own rate at L = 0, once measured: what it can reach at any latency.
    let mut ceiling: std::collections::HashMap<String, f64> = Default::default();
    for &latency in latencies {
        let web = Web::start(pages, HOSTS, latency, false)?;
        r.urls = web.urls();
        let l = median_latency(latency);
        for p in &programs {
            let (most, why) = most_workers(p);
            let mut stopped: Option<String> = None;
            for &w in workers {
                eprintln!("bench crawl: L = {latency}, W = {w}, {}", p.name);
                if w > most || stopped.is_some() {
                    let why = stopped.clone().unwrap_or_else(|| why.to_string());
                    r.sweep.push(Point {
                        program: p.name.clone(),
                        latency: latency.into(),
                        at: At { workers: w, ..At::default() },
                        status: why,
                        ..Point::default()
                    });
                    continue;
                }
                let own = ceiling.get(&p.name).copied().unwrap_or(1_000.0);
                let rate = if l > 0.0 { (f64::from(w) / l).min(own * 1.5) } else { own };
                let at = At {
                    workers: w,
                    per_host: per_host(w, HOSTS),
                    tasks: urls_for(budget, rate, l, w, web.urls()),
                };
                let point = crawl(p, &web, &web.scope(), at, &[]);
                if let (0.0, Some(rate)) = (l, point.pages_per_s()) {
                    let best = ceiling.entry(p.name.clone()).or_insert(rate);
                    *best = best.max(rate);
                }
                if !point.ok() {
                    stopped = Some(format!("not run: stopped at W = {w}"));
                }
                r.sweep.push(point);
            }
        }
    }
    // Parsing on the loop's thread or off it, the crawler free to use both cores.
    for (latency, w) in OFFLOAD_AT {
        let web = Web::start(pages, HOSTS, latency, false)?;
        let loops = programs.iter().filter(|p| ["epoll", "ring"].contains(&roster::id_of(&p.name)));
        for p in loops {
            eprintln!("bench crawl: offload, L = {latency}, W = {w}, {}", p.name);
            let rate = ceiling.get(&p.name).copied().unwrap_or(1_000.0);
            let at = At {
                workers: w,
                per_host: per_host(w, HOSTS),
                tasks: urls_for(budget, rate, median_latency(latency), w, web.urls()),
            };
            r.offload.push(crawl_on(None, p, &web, &web.scope(), at, &[], &[]));
        }
    }
    // The io_uring crawl path, one feature at a time.
    if let Some(ring) = programs.iter().find(|p| p.name == "ring") {
        let rate = ceiling.get(&ring.name).copied().unwrap_or(1_000.0);
        let rounds = if o.quick { 1 } else { LADDER_ROUNDS };
        r.ladder = ladder(ring, pages, budget, rate, rounds)?;
    }
    // Memory at W = 5,000: every concurrent program.
    let web = Web::start(pages, HOSTS, MEMORY_LATENCY, false)?;
    let memory = programs.iter().filter(|p| !o.quick && !p.serial && most_workers(p).0 >= MEMORY_W);
    for p in memory {
        eprintln!("bench crawl: memory, W = {MEMORY_W}, {}", p.name);
        let urls = urls_for(
            budget,
            f64::from(MEMORY_W) / median_latency(MEMORY_LATENCY),
            median_latency(MEMORY_LATENCY),
            MEMORY_W,
            web.urls(),
        );
        let at = At { workers: MEMORY_W, per_host: per_host(MEMORY_W, HOSTS), tasks: urls };
        r.memory.push(crawl(p, &web, &web.scope(), at, &[]));
    }
    drop(web);
    // The fault profile, and its trap: a fresh web for each program.
    let fault_pages = if o.quick { FAULT_PAGES / 4 } else { FAULT_PAGES };
    let timeout = FAULT_TIMEOUT_MS.to_string();
    for p in programs.iter().filter(|p| p.name != SCRAPY) {
        eprintln!("bench crawl: the fault profile, {}", p.name);
        let web = Web::start(
            if o.quick { FAULT_PAGES / 4 } else { FAULT_PAGES },
            FAULT_HOSTS,
            "0",
            true,
        )?;
        let at = At { workers: 100, per_host: 6, tasks: 1_000_000 };
        let mut point = crawl(p, &web, &web.scope(), at, &["--timeout-ms", &timeout]);
        point.sheet = Some(web.sheet.clone());
        r.faults.push(point);
        let at = At { tasks: TRAP_TASKS, ..at };
        r.trap.push(crawl(p, &web, &web.trap(), at, &[]));
    }
    // Scrapy's page set: its own canonicalization and duplicate filter, on a whole crawl.
    if let Some(p) = programs.iter().find(|p| p.name == SCRAPY) {
        eprintln!("bench crawl: Scrapy's page set");
        let web = Web::start(fault_pages, FAULT_HOSTS, "0", false)?;
        let at = At { workers: 100, per_host: 6, tasks: 1_000_000 };
        let mut point = crawl(p, &web, &web.scope(), at, &[]);
        point.sheet = Some(web.sheet.clone());
        r.scrapy_whole = Some(point);
    }
    Ok(r)
}

/// `make bench-crawl` → results/crawl/.
pub const SUITE: Suite<cli::Sweep, Results> = Suite::new("crawl", run, tables::TEMPLATES);
