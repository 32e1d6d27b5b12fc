//! What the figures say, computed from them each time: which of the article's claims hold
//! on this machine, in sentences whose every number comes from the run.

use crate::run::Measured;
use crate::table;

fn find<'a>(rows: &'a [Measured], name: &str) -> Option<&'a Measured> {
    rows.iter().find(|m| m.row.name == name)
}

/// The wall time hyperfine gave the row named `name`: the median of its runs.
pub fn wall(rows: &[Measured], name: &str) -> Option<f64> {
    find(rows, name)?.timing.as_ref().map(|t| t.median)
}

/// What the figures say, computed from them: which claims of the article hold here.
pub fn seed(rows: &[Measured], each: f64) -> String {
    let mut out = String::from("## Reading\n\n");
    // The Rust models but the one that runs one task at a time.
    let one = crate::programs::one_at_a_time("serial").unwrap_or("serial");
    let concurrent: Vec<&str> =
        crate::programs::models().into_iter().filter(|m| *m != one).collect();
    let medians: Vec<(&str, f64)> =
        concurrent.iter().filter_map(|n| Some((*n, wall(rows, n)?))).collect();
    if let (Some(best), Some(worst)) = (
        medians.iter().min_by(|a, b| a.1.total_cmp(&b.1)),
        medians.iter().max_by(|a, b| a.1.total_cmp(&b.1)),
    ) {
        out += &format!(
            "- The {} concurrent Rust models finish between {} (`{}`) and {} (`{}`) at the median: {:.1} ms apart \
             on a {:.0} ms task. At 10 tasks the models cannot be told apart; what each costs shows from 10,000 tasks \
             up (`make bench-scale`).\n",
            medians.len(), table::seconds(best.1), best.0, table::seconds(worst.1), worst.0, (worst.1 - best.1) * 1000.0, each * 1000.0
        );
    }
    let p99 = |name: &str| Some(find(rows, name)?.report.as_ref()?.lateness_ms?.p99);
    if let (Some(ring), Some(epoll)) = (p99("ring"), p99("epoll")) {
        out += &format!(
            "- Where the loops differ at ten tasks is how close to its deadline each sleep ends: p99 {ring:.3} ms late \
             in `ring`, whose one `io_uring_enter` timeout is in nanoseconds, and {epoll:.3} ms in `epoll`, whose \
             `epoll_wait` takes whole milliseconds.\n"
        );
    }
    if let (Some(rust), Some(py)) = (wall(rows, "serial"), wall(rows, "py-serial")) {
        out += &format!("- Serial is serial in any language: {} in Rust, {} in Python, against the article's 10.0751 s for 1 s tasks.\n", table::seconds(rust), table::seconds(py));
    }
    for (name, what, article) in [
        ("py-processes", "ProcessPoolExecutor()", "1.1639 s"),
        ("py-threads", "ThreadPoolExecutor()", "1.0146 s"),
    ] {
        if let Some(m) = find(rows, name) {
            if let (Some(workers), Some(t)) =
                (m.report.as_ref().map(|r| f64::from(r.workers)), &m.timing)
            {
                out += &format!(
                    "- `{what}` picks {workers:.0} workers on this machine, so 10 tasks run in {:.0} rounds: {} at the median. \
                     The article's {article} needs 10 workers, which its machine's core count gave the default; the \
                     `10 workers` row is that case here.\n",
                    (10.0 / workers).ceil(), table::seconds(t.median)
                );
            }
        }
    }
    let startup = |name: &str| Some(wall(rows, name)? - find(rows, name)?.report.as_ref()?.wall_s);
    if let (Some(rust), Some(py)) = (startup("tokio"), startup("py-asyncio")) {
        out += &format!(
            "- hyperfine times the whole process. Outside the tasks' own wall time, `tokio` spends {:.1} ms (start, \
             runtime, exit) and `py-asyncio` {:.1} ms (mostly the interpreter starting and importing asyncio): the \
             `own wall` column is each program's figure from the first task's start to the last one's end.\n",
            rust * 1000.0, py * 1000.0
        );
    }
    if let (Some(go), Some(node)) = (startup("go-goroutines"), startup("node-promises")) {
        out += &format!(
            "- The same for the two runtimes uvloop's claim names: `go-goroutines` spends {:.1} ms outside its tasks, \
             `node-promises` {:.1} ms (starting V8). At ten sleeping tasks that is all that separates them.\n",
            go * 1000.0,
            node * 1000.0
        );
    }
    let children =
        |name: &str| Some(find(rows, name)?.report.as_ref()?.children_max_rss_kib_sum as f64);
    if let (Some(rust), Some(py)) = (children("procs"), children("py-processes (10 workers)")) {
        out += &format!(
            "- Ten children's peak RSS adds up to {:.1} MiB for `procs` and {:.1} MiB for the Python pool: a forked \
             Rust child is as small as the parent it copies, a Python worker is a whole interpreter.\n",
            rust / 1024.0, py / 1024.0
        );
    }
    out
}

/// The cpu page's reading: parallelism without a GIL, and what blocking the loop costs.
pub fn cpu(rust: &[Measured], python: &[Measured], others: &[Measured], cores: usize) -> String {
    let speedup =
        |rows: &[Measured], serial: &str, name: &str| Some(wall(rows, serial)? / wall(rows, name)?);
    let mut out = String::from("## Reading\n\n");
    let parallel = [
        "procs",
        "threads",
        "tokio",
        "tokio --offload",
        "epoll --offload",
        "uring --offload",
        "ring --offload",
        "monoio",
    ];
    let single = ["epoll", "uring", "ring"];
    let fmt = |rows: &[Measured], serial: &str, names: &[&str]| {
        names
            .iter()
            .filter_map(|n| Some(format!("`{n}` {:.2}×", speedup(rows, serial, n)?)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out += &format!(
        "- Rust has no GIL: the models that put tasks on several threads or processes reach {} over serial on {cores} cores.\n",
        fmt(rust, "serial", &parallel)
    );
    out += &format!(
        "- A single-threaded loop runs cpu tasks one after another, whatever it is built on: {} — the same as serial. \
         Handing the work to a pool (`--offload`, the article's `run_in_executor`) is what makes it parallel.\n",
        fmt(rust, "serial", &single)
    );
    let lag =
        |rows: &[Measured], name: &str| Some(find(rows, name)?.report.as_ref()?.loop_lag_ms?.max);
    let lags: Vec<String> = ["tokio", "epoll", "uring", "ring"]
        .iter()
        .filter_map(|n| {
            Some(format!(
                "`{n}` {:.0} ms → {:.1} ms",
                lag(rust, n)?,
                lag(rust, &format!("{n} --offload"))?
            ))
        })
        .collect();
    if !lags.is_empty() {
        out += &format!(
            "- The loop stays responsive only when it offloads. A 10 ms timer on the loop woke at worst this late, \
             without → with `--offload`: {}. A server on such a loop would answer nothing for that long.\n",
            lags.join(", ")
        );
    }
    out += &format!(
        "- Python: {}. Threads take turns on the GIL, so `py-threads` is no faster than serial; processes and \
         `run_in_executor` on a process pool are parallel.\n",
        fmt(python, "py-serial", &["py-processes", "py-threads", "py-asyncio", "py-asyncio --offload"])
    );
    let go = fmt(others, "go-goroutines (1 worker)", &["go-goroutines"]);
    let node = fmt(others, "node-promises", &["node-promises --offload"]);
    if !go.is_empty() && !node.is_empty() {
        let node_lag =
            |name: &str| lag(others, name).map_or("—".into(), |l| format!("{l:.0} ms"));
        out += &format!(
            "- Go runs goroutines on every core (GOMAXPROCS = {cores}): {go} over one worker. Node runs them on its one \
             loop, as asyncio does, until `--offload` hands them to `worker_threads`: {node}; its loop's 10 ms timer \
             waited {} on the loop and {} offloaded.\n",
            node_lag("node-promises"),
            node_lag("node-promises --offload")
        );
    }
    out
}
