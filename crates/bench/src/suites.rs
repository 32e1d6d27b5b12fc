//! The benchmark suites: which commands, in which hyperfine groups, and the README each writes.

use std::path::Path;

use crate::run::{measured, Bench, Measured, Row};
use crate::{bin_dir, facts, table, Options};

/// A model binary with the contract's arguments.
fn model(name: &str, binary: &str, args: &[String]) -> Row {
    let mut argv = vec![bin_dir().join(binary).display().to_string()];
    argv.extend(args.iter().cloned());
    Row::new(name, argv)
}

/// The Python peers and whether they can run here.
pub struct Peers {
    python: String,
    missing: Option<String>,
    uvloop_missing: Option<String>,
}

impl Peers {
    pub fn find(python: &str) -> Peers {
        let runs = |args: &[&str]| {
            std::process::Command::new(python).args(args).output().is_ok_and(|o| o.status.success())
        };
        let missing = (!runs(&["--version"])).then(|| "python3 not found".to_string());
        let uvloop_missing = missing
            .clone()
            .or_else(|| (!runs(&["-c", "import uvloop"])).then(|| "uvloop not installed".into()));
        Peers { python: python.to_string(), missing, uvloop_missing }
    }

    pub fn row(&self, name: &str, script: &str, args: &[String]) -> Row {
        // By absolute path: the bench runs from the repository root, its tests from the crate.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/peers").join(script);
        let path = path.canonicalize().unwrap_or(path).display().to_string();
        let mut argv = vec![self.python.clone(), path];
        argv.extend(args.iter().cloned());
        let mut row = Row::new(name, argv);
        row.missing = if script == "py_uvloop.py" {
            self.uvloop_missing.clone()
        } else {
            self.missing.clone()
        };
        row
    }
}

fn args(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

/// Run groups of rows — each group one hyperfine run with its own (warm-up, runs) — then
/// the reports, written to `reports_file`; rows come back in the order given.
fn measure(
    bench: &Bench,
    groups: Vec<(&str, Vec<Row>, u32, u32)>,
    reports_file: &str,
) -> Result<Vec<Measured>, String> {
    let mut all = Vec::new();
    for (label, rows, warmup, runs) in groups {
        let timings = bench.hyperfine(label, &rows, warmup, runs)?;
        eprintln!("== {label}: one more run of each with --json for its own report");
        let reports = bench.reports(&rows);
        all.extend(measured(rows, timings, reports));
    }
    let reports: Vec<_> = all
        .iter()
        .map(|m| serde_json::json!({"name": m.row.name, "argv": m.row.argv, "report": m.report}))
        .collect();
    bench.write(reports_file, &serde_json::to_string_pretty(&reports).unwrap())?;
    Ok(all)
}

fn tools(options: &Options) -> Result<(Bench, Peers, facts::Facts), String> {
    let hyperfine = options.get("hyperfine")?.to_string();
    let peers = Peers::find(options.get("python")?);
    let bench = Bench::new(hyperfine.clone(), &options.out()?)?;
    let facts = facts::collect(Some(&hyperfine), Some(&peers.python));
    bench.write("machine.json", &serde_json::to_string_pretty(&facts::json(&facts)).unwrap())?;
    Ok((bench, peers, facts))
}

fn median(rows: &[Measured], name: &str) -> Option<f64> {
    rows.iter().find(|m| m.row.name == name)?.timing.as_ref().map(|t| t.median)
}

// ---- make bench: the article's table ----------------------------------------------------

/// The article's figures for "10 tasks, each waits 1 s", beside the rows that reproduce
/// them: the Python rows it measured, and the Rust rows that are their analogs.
const ARTICLE: [(&str, &str); 10] = [
    ("serial", "10.0751 s (serial)"),
    ("procs", "1.1639 s (processes)"),
    ("threads", "1.0146 s (threads)"),
    ("tokio", "1.0110 s (asyncio)"),
    ("uring", "1.01 s (asyncio + uvloop)"),
    ("py-serial", "10.0751 s"),
    ("py-processes (10 workers)", "1.1639 s"),
    ("py-threads (10 workers)", "1.0146 s"),
    ("py-asyncio", "1.0110 s"),
    ("py-uvloop", "1.01 s"),
];

pub fn article_figure(name: &str) -> Option<&'static str> {
    ARTICLE.iter().find(|(n, _)| *n == name).map(|(_, figure)| *figure)
}

pub fn seed(options: &Options) -> Result<(), String> {
    let quick = options.flag("quick");
    let (bench, peers, facts) = tools(options)?;
    let (ms, fast_runs, slow_runs) = if quick { (100, 3, 2) } else { (1000, 5, 3) };
    let a = args(&format!("--tasks 10 --ms {ms}"));
    let per_task = args(&format!("--tasks 10 --ms {ms} --workers 10"));
    let slow = vec![model("serial", "serial", &a), peers.row("py-serial", "py_serial.py", &a)];
    let fast = vec![
        model("procs", "procs", &a),
        model("threads", "threads", &a),
        model("tokio", "tokio", &a),
        model("epoll", "epoll", &a),
        model("uring", "uring", &a),
        peers.row("py-processes (default workers)", "py_processes.py", &a),
        peers.row("py-processes (10 workers)", "py_processes.py", &per_task),
        peers.row("py-threads (default workers)", "py_threads.py", &a),
        peers.row("py-threads (10 workers)", "py_threads.py", &per_task),
        peers.row("py-asyncio", "py_asyncio.py", &a),
        peers.row("py-uvloop", "py_uvloop.py", &a),
    ];
    let [slow, fast] = [slow, fast].map(|rows| {
        rows.into_iter()
            .map(|mut row| {
                row.article = article_figure(&row.name);
                row
            })
            .collect::<Vec<_>>()
    });
    let measured = measure(
        &bench,
        vec![("serial", slow, 0, slow_runs), ("concurrent", fast, 1, fast_runs)],
        "reports.json",
    )?;
    // The article's order: Rust rows first, serial at the top of each language.
    let order = ["serial", "procs", "threads", "tokio", "epoll", "uring", "py-serial"];
    let mut rows = measured.clone();
    rows.sort_by_key(|m| order.iter().position(|n| *n == m.row.name).unwrap_or(order.len()));

    let title = if quick {
        format!("10 tasks × {ms} ms (bench-quick)")
    } else {
        "10 tasks, each waits 1 s".to_string()
    };
    let table = table::timed_table(&rows, !quick, Some(ms as f64 / 1000.0));
    let text = format!(
        "# The article's table, reproduced: {title}\n\n\
         Written by `make {}` ([`crates/bench`](../../crates/bench/src/suites.rs)) from `hyperfine-*.json` and \
         `reports.json` beside this file. Serial rows ran in their own hyperfine run ({slow_runs} runs), all others \
         in one run ({fast_runs} runs after a warm-up), so their figures compare as ratios. `over the ideal` is the median above \
         the article's ideal, all ten tasks at once ({ms} ms); `ideal at its concurrency` is what the row's own \
         concurrency allows, ⌈10 / concurrency⌉ × {ms} ms (a pool of 2 takes 5 rounds). Memory and context switches are each command's own report from one more run \
         (hyperfine's memory field is a high-water mark over all its runs).\n\n{table}\n{}\n## Machine\n\n{}",
        if quick { "bench-quick" } else { "bench" },
        seed_reading(&rows, ms as f64 / 1000.0),
        facts::markdown(&facts)
    );
    bench.write("README.md", &text)?;
    println!("\n{table}\n{}", seed_reading(&rows, ms as f64 / 1000.0));
    println!("written to {}/README.md", bench.out.display());
    Ok(())
}

/// What the figures say, computed from them: which claims of the article hold here.
fn seed_reading(rows: &[Measured], each: f64) -> String {
    let mut out = String::from("## Reading\n\n");
    let concurrent = ["procs", "threads", "tokio", "epoll", "uring"];
    let medians: Vec<(&str, f64)> =
        concurrent.iter().filter_map(|n| Some((*n, median(rows, n)?))).collect();
    if let (Some(best), Some(worst)) = (
        medians.iter().min_by(|a, b| a.1.total_cmp(&b.1)),
        medians.iter().max_by(|a, b| a.1.total_cmp(&b.1)),
    ) {
        out += &format!(
            "- The five concurrent Rust models finish between {} (`{}`) and {} (`{}`) at the median: {:.1} ms apart \
             on a {:.0} ms task. At 10 tasks the models cannot be told apart; what each costs shows from 10,000 tasks \
             up (`make bench-scale`).\n",
            table::seconds(best.1), best.0, table::seconds(worst.1), worst.0, (worst.1 - best.1) * 1000.0, each * 1000.0
        );
    }
    if let (Some(rust), Some(py)) = (median(rows, "serial"), median(rows, "py-serial")) {
        out += &format!("- Serial is serial in any language: {} in Rust, {} in Python, against the article's 10.0751 s for 1 s tasks.\n", table::seconds(rust), table::seconds(py));
    }
    for (name, what, article) in [
        ("py-processes (default workers)", "ProcessPoolExecutor()", "1.1639 s"),
        ("py-threads (default workers)", "ThreadPoolExecutor()", "1.0146 s"),
    ] {
        if let Some(m) = rows.iter().find(|m| m.row.name == name) {
            if let (Some(workers), Some(t)) = (m.report_f64("workers"), &m.timing) {
                out += &format!(
                    "- `{what}` picks {workers:.0} workers on this machine, so 10 tasks run in {:.0} rounds: {} at the median. \
                     The article's {article} needs 10 workers, which its machine's core count gave the default; the \
                     `10 workers` row is that case here.\n",
                    (10.0 / workers).ceil(), table::seconds(t.median)
                );
            }
        }
    }
    let startup = |name: &str| {
        Some(median(rows, name)? - rows.iter().find(|m| m.row.name == name)?.report_f64("wall_s")?)
    };
    if let (Some(rust), Some(py)) = (startup("tokio"), startup("py-asyncio")) {
        out += &format!(
            "- hyperfine times the whole process. Outside the tasks' own wall time, `tokio` spends {:.1} ms (start, \
             runtime, exit) and `py-asyncio` {:.1} ms (mostly the interpreter starting and importing asyncio): the \
             `own wall` column is each program's figure from the first task's start to the last one's end.\n",
            rust * 1000.0, py * 1000.0
        );
    }
    let children = |name: &str| {
        rows.iter().find(|m| m.row.name == name)?.report_f64("children_max_rss_kib_sum")
    };
    if let (Some(rust), Some(py)) = (children("procs"), children("py-processes (10 workers)")) {
        out += &format!(
            "- Ten children's peak RSS adds up to {:.1} MiB for `procs` and {:.1} MiB for the Python pool: a forked \
             Rust child is as small as the parent it copies, a Python worker is a whole interpreter.\n",
            rust / 1024.0, py / 1024.0
        );
    }
    out
}

// ---- make bench-cpu: parallelism without a GIL -------------------------------------------

/// SHA-256 rounds per cpu task: about 0.19 s of one core in Rust on the machine the seed
/// results come from (SHA-NI), about 0.9 s in Python's hashlib. Fixed, never calibrated.
pub const CPU_WORK: u32 = 4_000_000;
const CPU_TASKS: u32 = 8;

pub fn cpu(options: &Options) -> Result<(), String> {
    let (bench, peers, facts) = tools(options)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let a = args(&format!("--workload cpu --tasks {CPU_TASKS} --work {CPU_WORK}"));
    let with = |extra: &str| [a.clone(), args(extra)].concat();
    let pool = format!("--workers {cores}");
    let rust = vec![
        model("serial", "serial", &a),
        model("procs", "procs", &a),
        model(&format!("procs ({cores} workers)"), "procs", &with(&pool)),
        model("threads", "threads", &a),
        model(&format!("threads ({cores} workers)"), "threads", &with(&pool)),
        model("tokio", "tokio", &a),
        model("tokio --offload", "tokio", &with("--offload")),
        model("epoll", "epoll", &a),
        model("epoll --offload", "epoll", &with("--offload")),
        model("uring", "uring", &a),
        model("uring --offload", "uring", &with("--offload")),
    ];
    let python = vec![
        peers.row("py-serial", "py_serial.py", &a),
        peers.row("py-processes (default workers)", "py_processes.py", &a),
        peers.row("py-threads (default workers)", "py_threads.py", &a),
        peers.row("py-asyncio", "py_asyncio.py", &a),
        peers.row("py-asyncio --offload (process pool)", "py_asyncio.py", &with("--offload")),
    ];
    let measured =
        measure(&bench, vec![("rust", rust, 1, 5), ("python", python, 0, 3)], "reports.json")?;
    let (rust, python): (Vec<Measured>, Vec<Measured>) =
        measured.into_iter().partition(|m| !m.row.name.starts_with("py-"));
    let rust_table = table::cpu_table(&rust, median(&rust, "serial"), cores);
    let python_table = table::cpu_table(&python, median(&python, "py-serial"), cores);
    let reading = cpu_reading(&rust, &python, cores);
    let text = format!(
        "# cpu: {CPU_TASKS} tasks × {CPU_WORK} SHA-256 rounds\n\n\
         Written by `make bench-cpu` ([`crates/bench`](../../crates/bench/src/suites.rs)) from the JSON beside this file. \
         Each task hashes a chain of {CPU_WORK} rounds (a fixed K, about 0.19 s of one core in Rust here). Speedup is over \
         the same language's serial row; efficiency = speedup / {cores} cores. `CPU / wall` above 1 means more than one \
         core was busy.\n\n## Rust\n\n{rust_table}\n## Python (the GIL)\n\n{python_table}\n{reading}\n## Machine\n\n{}",
        facts::markdown(&facts)
    );
    bench.write("README.md", &text)?;
    println!("\n{rust_table}\n{python_table}\n{reading}");
    Ok(())
}

fn cpu_reading(rust: &[Measured], python: &[Measured], cores: usize) -> String {
    let speedup = |rows: &[Measured], serial: &str, name: &str| {
        Some(median(rows, serial)? / median(rows, name)?)
    };
    let mut out = String::from("## Reading\n\n");
    let parallel =
        ["procs", "threads", "tokio", "tokio --offload", "epoll --offload", "uring --offload"];
    let single = ["epoll", "uring"];
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
        |rows: &[Measured], name: &str| rows.iter().find(|m| m.row.name == name)?.loop_lag_max();
    let lags: Vec<String> = ["tokio", "epoll", "uring"]
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
        fmt(python, "py-serial", &["py-processes (default workers)", "py-threads (default workers)", "py-asyncio", "py-asyncio --offload (process pool)"])
    );
    out
}

// ---- make bench-http: real sockets ------------------------------------------------------

pub fn http(options: &Options) -> Result<(), String> {
    let (bench, peers, facts) = tools(options)?;
    let service = crate::service::Service::start(&bin_dir())?;
    let mut sections = String::new();
    let mut printed = String::new();
    for n in [100u32, 1_000, 10_000] {
        let a = args(&format!("--workload http --tasks {n} --ms 100 --addr {}", service.addr));
        let with = |extra: &str| [a.clone(), args(extra)].concat();
        let mut rows = Vec::new();
        if n <= 1_000 {
            rows.push(model("procs", "procs", &a));
            rows.push(model("threads (100 workers)", "threads", &with("--workers 100")));
            rows.push(peers.row(
                &format!("py-threads ({n} workers)"),
                "py_threads.py",
                &with(&format!("--workers {n}")),
            ));
        }
        rows.push(model("threads", "threads", &a));
        rows.extend(["tokio", "epoll", "uring"].map(|m| model(m, m, &a)));
        rows.push(peers.row("py-asyncio", "py_asyncio.py", &a));
        rows.push(peers.row("py-uvloop", "py_uvloop.py", &a));
        let mut groups = vec![(format!("n{n}"), rows, 1, if n >= 10_000 { 3 } else { 5 })];
        if n == 100 {
            groups.insert(
                0,
                (
                    "n100-serial".to_string(),
                    vec![model("serial", "serial", &a), peers.row("py-serial", "py_serial.py", &a)],
                    0,
                    2,
                ),
            );
        }
        let groups = groups.iter().map(|(l, r, w, k)| (l.as_str(), r.clone(), *w, *k)).collect();
        let rows = measure(&bench, groups, &format!("reports-n{n}.json"))?;
        let table = table::timed_table(&rows, false, None);
        sections += &format!("## N = {n} requests, 100 ms each\n\n{table}\n");
        printed += &format!("\nN = {n}\n{table}");
    }
    drop(service);
    let text = format!(
        "# http: N requests to the local service, each answered after 100 ms\n\n\
         Written by `make bench-http` ([`crates/bench`](../../crates/bench/src/suites.rs)) from the JSON beside this file. \
         Each task opens a fresh TCP connection to the project's hyper service on loopback and sends one \
         `GET /query`; the service answers after 100 ms. Serial and the pools run only where they finish in \
         reasonable time.\n\n{sections}## Machine\n\n{}",
        facts::markdown(&facts)
    );
    bench.write("README.md", &text)?;
    println!("{printed}");
    Ok(())
}
