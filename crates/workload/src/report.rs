//! Collecting task results and printing the report (`CONTRACT.md`, "The report").
//!
//! A [`Tally`] starts the clock just before the first task and takes each result as it
//! comes. It keeps only the checksum, the counts, the first error and one `u32` finish time
//! per task: at a million tasks the models' own costs must dominate, not the bookkeeping.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cli::{Args, Workload};
use crate::error::TaskError;
use crate::measure::{self, Percentiles, Reaped};
pub use crate::timeline::Runner;

/// How wide a run is: the runners its tasks run on (processes, threads or loops), and how
/// many tasks can wait at once, which is what the ideal time divides by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Width {
    /// What the report shows as `workers`.
    pub workers: u32,
    /// What the report shows as `concurrency` (clamped to 1 … N).
    pub at_once: u32,
}

impl Width {
    /// One loop on which every task can wait at once.
    pub fn one_loop(args: &Args) -> Width {
        Width { workers: 1, at_once: args.tasks }
    }

    /// `runners` processes or threads, each holding one task at a time.
    pub fn one_each(runners: u32) -> Width {
        Width { workers: runners, at_once: runners }
    }
}

/// One task's end: its result, when it was worked on, and where.
#[derive(Debug)]
pub struct Done {
    pub id: u32,
    pub result: Result<u64, TaskError>,
    pub started: Instant,
    pub ended: Instant,
    pub runner: Runner,
}

impl Done {
    /// Run task `id`'s `job` on this thread, now, timed and named (the thread's name is
    /// cached, so not for a forked child).
    pub fn timed(id: u32, job: impl FnOnce() -> Result<u64, TaskError>) -> Done {
        let started = Instant::now();
        let result = job();
        Done { id, result, started, ended: Instant::now(), runner: Runner::cached() }
    }
}

/// Results as they come in, and the clock they are measured on.
pub struct Tally {
    model: &'static str,
    args: Args,
    width: Width,
    /// The instant the first task was about to start; every finish time is measured from it.
    pub start: Instant,
    checksum: u64,
    ok: u32,
    failed: u32,
    first_error: Option<TaskError>,
    finished_us: Vec<u32>,
    children_max_rss_kib_sum: u64,
    loop_lag: Option<Percentiles>,
    /// With `--timeline`: every task's span and runner, and the loop's pulse ticks.
    timeline: Option<crate::timeline::Timeline>,
    /// disk: each operation's latency, from its start to its result, in microseconds.
    latency_us: Vec<f32>,
    /// The most threads this process was seen with, and when it last looked.
    threads: measure::ThreadPeak,
    /// crawl: its figures, the URLs it requested and redirected, and what failed the whole
    /// crawl (the machine ran out of something, no seed answered), once it is over.
    crawl: Option<CrawlEnd>,
    redirects: u32,
}

/// How a crawl ended, for its report.
pub struct CrawlEnd {
    pub figures: crate::crawl::CrawlReport,
    pub requested: u32,
    /// What failed the crawl itself, not one of its URLs: exit 1.
    pub fatal: Option<TaskError>,
}

impl Tally {
    /// Start the clock of a run `width` wide.
    pub fn start(model: &'static str, args: &Args, width: Width) -> Tally {
        Tally {
            model,
            args: *args,
            width,
            finished_us: Vec::with_capacity(args.tasks as usize),
            checksum: 0,
            ok: 0,
            failed: 0,
            first_error: None,
            children_max_rss_kib_sum: 0,
            loop_lag: None,
            timeline: args.timeline.map(|_| crate::timeline::Timeline::default()),
            latency_us: Vec::with_capacity(match args.workload {
                Workload::Disk => args.tasks as usize,
                _ => 0,
            }),
            threads: measure::ThreadPeak::new(),
            crawl: None,
            redirects: 0,
            start: Instant::now(),
        }
    }

    /// The run is `width` wide after all (a loop that hands its tasks to threads).
    pub fn set_width(&mut self, width: Width) {
        self.width = width;
    }

    /// Look at how many threads the process has now (done by itself at most every 10 ms
    /// as results come in): a model that starts threads calls it when they are all up.
    pub fn sample_threads(&mut self) {
        self.threads.sample();
    }

    /// Take a task's result.
    pub fn record(&mut self, done: Done) {
        let Done { id, result, started, ended: finished, runner } = done;
        let at = finished.saturating_duration_since(self.start);
        if let Some(timeline) = &mut self.timeline {
            timeline.task(id, started.saturating_duration_since(self.start), at, runner);
        }
        if self.args.verbose {
            let what = match &result {
                Ok(value) => format!("value {value}"),
                Err(e) => format!("failed: {e}"),
            };
            let _ = writeln!(
                std::io::stderr(),
                "task {id} {what} · pid {} tid {} · at {:.4} s",
                runner.pid,
                runner.tid,
                at.as_secs_f64()
            );
        }
        self.threads.sample_every(finished, Duration::from_millis(10));
        match result {
            Ok(value) => {
                if self.args.workload == Workload::Disk {
                    let took = finished.saturating_duration_since(started);
                    self.latency_us.push(took.as_secs_f32() * 1e6);
                }
                self.ok += 1;
                self.checksum = self.checksum.wrapping_add(value);
                self.finished_us.push(at.as_micros().min(u32::MAX as u128) as u32);
            }
            Err(e) => self.fail(1, e),
        }
    }

    /// Count `count` tasks as failed for one reason: a model that stops starting tasks
    /// when the machine says no gives up on all the rest at once.
    pub fn fail(&mut self, count: u32, error: TaskError) {
        self.failed += count;
        self.first_error.get_or_insert(error);
    }

    /// The event loop's pulse while cpu tasks ran (`tokio`, `epoll`, `uring`, `ring`): how
    /// late it ticked, and with `--timeline` each tick.
    pub fn loop_pulse(&mut self, pulse: &crate::measure::Pulse) {
        self.loop_lag = pulse.lag();
        if let Some(timeline) = &mut self.timeline {
            let since = |t: Instant| t.saturating_duration_since(self.start);
            // A tick still pending when the run ended, and not yet due, never happened.
            for (due, at) in pulse.ticks().into_iter().filter(|(due, at)| at >= due) {
                timeline.tick(since(due), since(at));
            }
        }
    }

    /// Add a reaped child's peak RSS (`procs`).
    pub fn add_child(&mut self, child: &Reaped) {
        self.children_max_rss_kib_sum += child.max_rss_kib;
    }

    /// crawl: a URL redirected, neither ok nor failed.
    pub fn redirected(&mut self) {
        self.redirects += 1;
    }

    /// crawl: it is over; its figures go into the report.
    pub fn crawl_over(&mut self, end: CrawlEnd) {
        self.crawl = Some(end);
    }

    pub fn first_error(&self) -> Option<&TaskError> {
        self.first_error.as_ref()
    }

    /// Stop the clock and build the report.
    pub fn finish(mut self) -> Report {
        let wall = self.start.elapsed();
        self.threads.sample();
        // A crawl's tasks are the URLs it requested, not --tasks, its limit.
        let tasks = self.crawl.as_ref().map_or(self.args.tasks, |c| c.requested);
        let missing = tasks.saturating_sub(self.ok + self.failed + self.redirects);
        if missing > 0 {
            // A model bug, never a machine limit: say so rather than report fewer tasks.
            self.fail(missing, TaskError::new(format!("{missing} tasks never reported a result")));
        }
        if let (Some(timeline), Some(path)) = (self.timeline.take(), self.args.timeline) {
            if let Err(e) = timeline.write(path) {
                self.fail(0, TaskError::new(format!("cannot write the timeline to {path}: {e}")));
            }
        }
        let usage = measure::rusage();
        let a = &self.args;
        let concurrency = self.width.at_once.clamp(1, a.tasks.max(1));
        let timed = matches!(a.workload, Workload::Sleep | Workload::Http);
        // db waits --ms in the server, ceil(N / W) rounds of it with W connections at once;
        // a plain point select (--ms 0) has no ideal but the server's own speed.
        let db = a.workload == Workload::Db;
        let waits = timed || (db && a.ms > 0);
        let ideal_s =
            waits.then(|| (u64::from(a.tasks.div_ceil(concurrency)) * a.ms) as f64 / 1000.0);
        let mut finished: Vec<Duration> =
            self.finished_us.iter().map(|&us| Duration::from_micros(us.into())).collect();
        self.finished_us = Vec::new();
        let lateness_ms =
            timed.then(|| measure::lateness(&mut finished, concurrency, a.sleep())).flatten();
        let disk = a.workload == Workload::Disk;
        let brigade = (a.workload == Workload::Brigade).then(|| {
            let handoffs = crate::brigade::Circle::of(a).handoffs();
            let per = |n: u64| n as f64 / handoffs as f64;
            Brigade {
                laps: a.laps,
                handoffs,
                ns_per_handoff: wall.as_secs_f64() * 1e9 / handoffs as f64,
                voluntary_per_handoff: per(usage.voluntary_ctx_switches),
                involuntary_per_handoff: per(usage.involuntary_ctx_switches),
                user_ns_per_handoff: usage.user_s * 1e9 / handoffs as f64,
                sys_ns_per_handoff: usage.sys_s * 1e9 / handoffs as f64,
            }
        });
        let latency_ms = measure::percentiles_ms(&mut self.latency_us);
        let (crawl, fatal) = match self.crawl {
            Some(end) => (Some(end.figures), Some(end.fatal.map(|e| e.to_string()))),
            None => (None, None),
        };
        Report {
            model: self.model.to_string(),
            workload: a.workload.name().to_string(),
            tasks,
            workers: self.width.workers,
            concurrency,
            ms: (timed || db).then_some(a.ms),
            work: (a.workload == Workload::Cpu).then_some(a.work),
            offload: a.offload,
            ok: self.ok,
            failed: self.failed,
            checksum: self.checksum,
            wall_s: wall.as_secs_f64(),
            ideal_s,
            user_s: usage.user_s,
            sys_s: usage.sys_s,
            max_rss_kib: usage.max_rss_kib,
            children_max_rss_kib_sum: self.children_max_rss_kib_sum,
            voluntary_ctx_switches: usage.voluntary_ctx_switches,
            involuntary_ctx_switches: usage.involuntary_ctx_switches,
            lateness_ms,
            loop_lag_ms: self.loop_lag,
            peak_threads: self.threads.peak,
            brigade,
            iops: disk.then(|| f64::from(self.ok) / wall.as_secs_f64()),
            qps: (a.workload == Workload::Db).then(|| f64::from(self.ok) / wall.as_secs_f64()),
            latency_ms,
            crawl,
            first_error: self.first_error.map(|e| e.to_string()),
            crawl_fatal: fatal,
            json: a.json,
        }
    }
}

/// The brigade's figures (`CONTRACT.md`, "The report"): per hand-off, the wall time, the
/// context switches and the CPU time on each side of the kernel's line.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Brigade {
    pub laps: u32,
    pub handoffs: u64,
    pub ns_per_handoff: f64,
    pub voluntary_per_handoff: f64,
    pub involuntary_per_handoff: f64,
    pub user_ns_per_handoff: f64,
    pub sys_ns_per_handoff: f64,
}

/// The report, as printed with `--json` (one line) or as one human line.
///
/// The one definition of the report's fields: the models write it, the Python peers write
/// the same JSON, and `bench` reads every one of them back into this struct. The fields
/// `CONTRACT.md` does not require of every program have defaults, so a peer may leave them out.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub model: String,
    pub workload: String,
    pub tasks: u32,
    pub workers: u32,
    #[serde(default)]
    pub concurrency: u32,
    pub ms: Option<u64>,
    pub work: Option<u32>,
    #[serde(default)]
    pub offload: bool,
    pub ok: u32,
    pub failed: u32,
    pub checksum: u64,
    pub wall_s: f64,
    pub ideal_s: Option<f64>,
    #[serde(default)]
    pub user_s: f64,
    #[serde(default)]
    pub sys_s: f64,
    pub max_rss_kib: u64,
    pub children_max_rss_kib_sum: u64,
    pub voluntary_ctx_switches: u64,
    pub involuntary_ctx_switches: u64,
    pub lateness_ms: Option<Percentiles>,
    /// Event loops on the cpu workload: how late a 10 ms timer on the loop woke.
    pub loop_lag_ms: Option<Percentiles>,
    /// The most threads the process was seen with (`CONTRACT.md`: how it is sampled).
    #[serde(default)]
    pub peak_threads: u32,
    /// brigade: what a hand-off cost, and whether it stayed in user mode.
    #[serde(default, flatten)]
    pub brigade: Option<Brigade>,
    /// disk: operations that succeeded per second of `wall_s`.
    #[serde(default)]
    pub iops: Option<f64>,
    /// db: queries answered per second of `wall_s`.
    #[serde(default)]
    pub qps: Option<f64>,
    /// disk: each operation's latency, from its start to its result.
    #[serde(default)]
    pub latency_ms: Option<Percentiles>,
    /// crawl: its figures (`CONTRACT.md`, "crawl").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crawl: Option<crate::crawl::CrawlReport>,
    pub first_error: Option<String>,
    /// crawl: `Some` — its failed URLs are findings, not failures of the run — with what
    /// failed the crawl itself, if anything did.
    #[serde(skip)]
    pub crawl_fatal: Option<Option<String>>,
    /// Print as JSON: how the run was asked to report, not part of the report.
    #[serde(skip)]
    json: bool,
}

impl Report {
    /// The human line: `tokio · sleep · 10 tasks · 1.0012 s (ideal 1.0000 s) · …`.
    pub fn human_line(&self) -> String {
        let mib = |kib: u64| kib as f64 / 1024.0;
        let mut line = format!(
            "{} · {} · {} {} · {:.4} s",
            self.model,
            self.workload,
            self.tasks,
            if self.tasks == 1 { "task" } else { "tasks" },
            self.wall_s
        );
        if let Some(ideal) = self.ideal_s {
            line += &format!(" (ideal {ideal:.4} s)");
        }
        line += &format!(" · peak RSS {:.1} MiB", mib(self.max_rss_kib));
        if self.children_max_rss_kib_sum > 0 {
            line += &format!(" + children {:.1} MiB", mib(self.children_max_rss_kib_sum));
        }
        if let Some(lag) = self.loop_lag_ms {
            line += &format!(" · loop lag max {:.1} ms", lag.max);
        }
        if let Some(b) = self.brigade {
            line += &format!(
                " · {:.0} ns a hand-off ({:.0} user + {:.0} sys), {:.2} + {:.2} switches",
                b.ns_per_handoff,
                b.user_ns_per_handoff,
                b.sys_ns_per_handoff,
                b.voluntary_per_handoff,
                b.involuntary_per_handoff
            );
        }
        if let (Some(iops), Some(latency)) = (self.iops, self.latency_ms) {
            line +=
                &format!(" · {iops:.0} IOPS, p50 {:.3} ms, p99 {:.3} ms", latency.p50, latency.p99);
        }
        if let Some(qps) = self.qps {
            line += &format!(" · {qps:.0} queries/s");
        }
        if let Some(c) = &self.crawl {
            line += &c.human();
        }
        line += &format!(" · checksum {}", self.checksum);
        if self.failed > 0 {
            line += &format!(" · {} failed", self.failed);
        }
        line
    }
}

/// Print a report as one JSON line (`--json`) or as its `human` line, on stdout; a closed
/// stdout (`| head`) is no reason to panic.
pub fn print(report: &impl Serialize, json: bool, human: String) {
    let line = if json {
        serde_json::to_string(report).expect("a report always serializes")
    } else {
        human
    };
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// The end of every model's `main`: print the report, name the first error, and turn the
/// outcome into the contract's exit status (0 all ok, 1 a task or the setup failed).
pub fn exit(outcome: Result<Report, Box<dyn std::error::Error>>) -> ExitCode {
    match outcome {
        Ok(report) => {
            print(&report, report.json, report.human_line());
            match (&report.crawl_fatal, &report.first_error) {
                // A crawl's broken links are findings; only what failed the crawl fails it.
                (Some(Some(why)), _) => {
                    let _ = writeln!(std::io::stderr(), "Error: the crawl failed: {why}");
                    ExitCode::from(1)
                }
                (Some(None), Some(e)) => {
                    let _ =
                        writeln!(std::io::stderr(),
                        "{} of {} URLs failed (findings, not errors of the crawl); the first: {e}",
                        report.failed, report.tasks
                    );
                    ExitCode::SUCCESS
                }
                (_, None) => ExitCode::SUCCESS,
                (None, Some(e)) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "Error: {} of {} tasks failed; the first: {e}",
                        report.failed,
                        report.tasks
                    );
                    ExitCode::from(1)
                }
            }
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "Error: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Model;

    fn args(argv: &[&str]) -> Args {
        let tokio = Model::named("tokio");
        Args::try_parse_for(tokio, std::iter::once("t").chain(argv.iter().copied())).unwrap()
    }

    fn done(id: u32, result: Result<u64, TaskError>, started: Instant, ended: Instant) -> Done {
        Done { id, result, started, ended, runner: Runner::here() }
    }

    #[test]
    fn the_report_counts_sums_and_sets_the_ideal() {
        let a = args(&["--tasks", "4", "--ms", "100"]);
        let mut t = Tally::start("t", &a, Width::one_each(2));
        let start = t.start;
        for id in 0..3 {
            let end = start + Duration::from_millis(100);
            t.record(done(id, Ok(id as u64 + 100), start, end));
        }
        t.record(done(3, Err(TaskError::new("boom")), start, start));
        let r = t.finish();
        assert_eq!((r.ok, r.failed, r.checksum), (3, 1, 303));
        assert_eq!(r.ideal_s, Some(0.2));
        assert_eq!(r.first_error.as_deref(), Some("boom"));
        assert!(r.lateness_ms.is_some());
        let json: serde_json::Value = serde_json::to_value(&r).unwrap();
        for field in ["model", "workers", "wall_s", "max_rss_kib", "children_max_rss_kib_sum"] {
            assert!(json.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn cpu_reports_have_no_ideal_and_no_lateness() {
        let a = args(&["--workload", "cpu", "--tasks", "1"]);
        let mut t = Tally::start("t", &a, Width::one_each(1));
        let now = Instant::now();
        t.record(done(0, Ok(1), now, now));
        let r = t.finish();
        assert_eq!((r.ideal_s, r.lateness_ms), (None, None));
        let line = r.human_line();
        assert!(line.starts_with("t · cpu · 1 task · ") && !line.contains("ideal"), "{line}");
    }

    #[test]
    fn tasks_that_never_report_count_as_failed() {
        let a = args(&["--tasks", "3"]);
        let r = Tally::start("t", &a, Width::one_each(1)).finish();
        assert_eq!(r.failed, 3);
        assert!(r.first_error.unwrap().contains("never reported"));
    }
}
