//! `make bench-scale`: from ten sleeping tasks to a million, every model, until it stops.
//!
//! Each point is one run with `--json` (a million-task point cannot be repeated five times
//! in a 15-minute budget; the seed and http benches repeat with hyperfine). A model that
//! fails a point — fork or clone refused, a thread limit, descriptors — is recorded as
//! stopping there, with the error it printed, and its sweep ends; a peer that takes longer
//! than a minute stops there too.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::suites::Peers;
use crate::svg::{loglog, Series};
use crate::table::{seconds, Table, DASH};
use crate::{bin_dir, facts, Options};

/// One line of the sweep: a model or peer and the points it runs at.
struct Line {
    name: String,
    peer: bool,
    argv: Box<dyn Fn(u64) -> Vec<String>>,
    /// Why a point is not run (too slow by construction), if it is not.
    skip: Box<dyn Fn(u64) -> Option<String>>,
    /// Extra environment, e.g. LD_PRELOAD of another allocator.
    env: Vec<(String, String)>,
}

/// One measured point.
struct Point {
    line: String,
    peer: bool,
    n: u64,
    report: Option<Value>,
    status: String,
    error: Option<String>,
}

impl Point {
    fn f(&self, field: &str) -> Option<f64> {
        self.report.as_ref()?.get(field)?.as_f64()
    }
    fn ok(&self) -> bool {
        self.error.is_none()
    }
    fn memory_kib(&self) -> Option<f64> {
        Some(self.f("max_rss_kib")? + self.f("children_max_rss_kib_sum").unwrap_or(0.0))
    }
    fn overhead_ms(&self) -> Option<f64> {
        Some((self.f("wall_s")? - self.f("ideal_s")?) * 1000.0)
    }
}

const JEMALLOC: &str = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";

const LIMIT: Duration = Duration::from_secs(60);

/// Run one point: its report, or why it failed, killed after [`LIMIT`].
fn run_point(line: &Line, n: u64) -> Point {
    let argv = (line.argv)(n);
    let mut point = Point {
        line: line.name.clone(),
        peer: line.peer,
        n,
        report: None,
        status: String::new(),
        error: None,
    };
    let started = Instant::now();
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .arg("--json")
        .envs(line.env.iter().cloned())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            point.error = Some(format!("cannot start {}: {e}", argv[0]));
            return point;
        }
    };
    // Read the pipes on threads so a chatty child cannot fill them and stall.
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || std::io::read_to_string(&mut out).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(&mut err).unwrap_or_default());
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    point.report = crate::run::report_line(&stdout);
    match status {
        None => {
            point.status = format!("killed after {} s", LIMIT.as_secs());
            point.error = Some(format!("took over {} s", LIMIT.as_secs()));
        }
        Some(s) if s.success() => point.status = "ok".into(),
        Some(s) => {
            point.status = s.code().map_or_else(|| format!("{s}"), |c| format!("exit {c}"));
            let last =
                stderr.lines().rev().find(|l| l.starts_with("Error")).or(stderr.lines().last());
            point.error = Some(last.unwrap_or("no message").trim().to_string());
        }
    }
    eprintln!(
        "{:>28} N = {:>9}: {} {}",
        point.line,
        n,
        point.status,
        point.f("wall_s").map_or(String::new(), seconds)
    );
    point
}

fn model_line(name: &str, binary: &'static str, extra: Vec<String>, base: Vec<String>) -> Line {
    Line {
        name: name.into(),
        peer: false,
        argv: Box::new(move |n| {
            let mut argv = vec![bin_dir().join(binary).display().to_string()];
            argv.extend(base.iter().cloned());
            argv.extend(["--tasks".into(), n.to_string()]);
            argv.extend(extra.iter().cloned());
            argv
        }),
        skip: Box::new(|_| None),
        env: Vec::new(),
    }
}

fn peer_line(
    peers: &Peers,
    name: &str,
    script: &str,
    per_task_workers: bool,
    base: Vec<String>,
) -> Line {
    let row = peers.row(name, script, &base);
    let missing = row.missing.clone();
    Line {
        name: name.into(),
        peer: true,
        argv: Box::new(move |n| {
            let mut argv = row.argv.clone();
            argv.extend(["--tasks".into(), n.to_string()]);
            if per_task_workers {
                argv.extend(["--workers".into(), n.to_string()]);
            }
            argv
        }),
        skip: Box::new(move |_| missing.clone()),
        env: Vec::new(),
    }
}

/// Sweep `lines` over `grid`; each line stops at its first failure.
fn sweep(lines: &[Line], grid: &[u64]) -> Vec<Point> {
    let mut points = Vec::new();
    for line in lines {
        for &n in grid {
            if let Some(why) = (line.skip)(n) {
                eprintln!("{:>28} N = {n:>9}: not run: {why}", line.name);
                continue;
            }
            let point = run_point(line, n);
            let stop = !point.ok();
            points.push(point);
            if stop {
                break;
            }
        }
    }
    points
}

pub fn scale(options: &Options) -> Result<(), String> {
    let out = options.out()?;
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let smoke = options.flag("smoke");
    let peers = Peers::find(options.get("python")?);
    let (grid, ms): (Vec<u64>, u64) = if smoke {
        (vec![10, 100], 50)
    } else {
        (vec![10, 100, 1_000, 10_000, 100_000, 1_000_000], 1000)
    };
    let facts = facts::collect(None, Some(options.get("python")?));
    let base = vec!["--ms".to_string(), ms.to_string()];
    let pool = 1000u64;
    let mut lines = vec![
        model_line("serial", "serial", vec![], base.clone()),
        model_line("procs", "procs", vec![], base.clone()),
        model_line(
            &format!("procs ({pool} workers)"),
            "procs",
            vec!["--workers".into(), pool.to_string()],
            base.clone(),
        ),
        model_line("threads", "threads", vec![], base.clone()),
        model_line(
            &format!("threads ({pool} workers)"),
            "threads",
            vec!["--workers".into(), pool.to_string()],
            base.clone(),
        ),
        model_line("tokio", "tokio", vec![], base.clone()),
        model_line("epoll", "epoll", vec![], base.clone()),
        model_line("uring", "uring", vec![], base.clone()),
        peer_line(&peers, "py-asyncio", "py_asyncio.py", false, base.clone()),
        peer_line(&peers, "py-uvloop", "py_uvloop.py", false, base.clone()),
        peer_line(&peers, "py-threads (N workers)", "py_threads.py", true, base.clone()),
    ];
    // Serial takes N × the sleep and a pool of W takes N / W of them: past ten seconds
    // such a point says nothing new and costs the budget.
    lines[0].skip = Box::new(move |n| {
        (n * ms > 10_000).then(|| format!("{n} tasks one after another take {} s", n * ms / 1000))
    });
    for i in [2, 4] {
        lines[i].skip = Box::new(move |n| match n {
            n if n < pool => Some(format!("N < {pool}: the same as one per task")),
            n if n / pool * ms > 10_000 => {
                Some(format!("{pool} at a time take {} s", n / pool * ms / 1000))
            }
            _ => None,
        });
    }
    // The same two binaries on jemalloc instead of glibc's malloc: tokio aligns each task's
    // memory to 128 bytes, and glibc's posix_memalign pays for that alignment with memory
    // that jemalloc's size classes do not waste. Run, not assumed.
    for (i, m) in ["tokio", "uring"].into_iter().enumerate() {
        let mut line = model_line(&format!("{m} (jemalloc)"), m, vec![], base.clone());
        line.env = vec![("LD_PRELOAD".into(), JEMALLOC.into())];
        if !std::path::Path::new(JEMALLOC).exists() {
            line.skip =
                Box::new(|_| Some(format!("{JEMALLOC} not found (apt install libjemalloc2)")));
        }
        lines.insert(8 + i, line);
    }
    let points = sweep(&lines, &grid);

    // The http workload, with the service, at 100 ms, for the models that hold the connections.
    let http_grid: Vec<u64> =
        if smoke { vec![10, 100] } else { vec![100, 1_000, 5_000, 10_000, 20_000] };
    let service = crate::service::Service::start(&bin_dir())?;
    let http_base =
        ["--workload", "http", "--ms", "100", "--addr", &service.addr].map(String::from).to_vec();
    let http_lines = vec![
        model_line("threads", "threads", vec![], http_base.clone()),
        model_line("tokio", "tokio", vec![], http_base.clone()),
        model_line("epoll", "epoll", vec![], http_base.clone()),
        model_line("uring", "uring", vec![], http_base.clone()),
        peer_line(&peers, "py-asyncio", "py_asyncio.py", false, http_base.clone()),
        peer_line(&peers, "py-uvloop", "py_uvloop.py", false, http_base),
    ];
    let http_points = sweep(&http_lines, &http_grid);
    drop(service);

    let to_json = |points: &[Point]| -> Value {
        points.iter().map(|p| json!({"line": p.line, "n": p.n, "status": p.status, "error": p.error, "report": p.report})).collect()
    };
    let data = json!({"machine": facts::json(&facts), "sleep_ms": ms, "sleep": to_json(&points), "http": to_json(&http_points)});
    write(&out.join("scale.json"), &serde_json::to_string_pretty(&data).unwrap())?;
    write_plots(&out, ms, &points, &http_points)?;

    let text = format!(
        "# Scale: from ten tasks to a million\n\n\
         Written by `make bench-scale` ([`crates/bench/src/scale.rs`](../../crates/bench/src/scale.rs)) from `scale.json` \
         beside this file: one run per point with `--json`. Each line stops at its first failure (the error is the \
         binary's own), or when a run takes over {} s.\n\n\
         ![overhead](overhead.svg)\n\n![memory per task](memory-per-task.svg)\n\n\
         ## Where each one stops\n\n{}\n## Targets\n\n{}\n## sleep {ms} ms\n\n{}\n## http, 100 ms delay\n\n![http overhead](http-overhead.svg)\n\n{}\n\
         ## Machine\n\n{}",
        LIMIT.as_secs(),
        breaking_points(&points, &http_points),
        targets(&points),
        point_table(&points),
        point_table(&http_points),
        facts::markdown(&facts)
    );
    write(&out.join("README.md"), &text)?;
    println!("{}\n{}", breaking_points(&points, &http_points), targets(&points));
    Ok(())
}

fn write(path: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn point_table(points: &[Point]) -> String {
    let mut t = Table::new(&[
        "model",
        "N",
        "wall",
        "over ideal",
        "peak memory (self + children)",
        "per task",
        "voluntary ctx switches",
        "p99 lateness",
        "status",
    ]);
    for p in points {
        let memory = p.memory_kib();
        t.push(vec![
            format!("`{}`", p.line),
            p.n.to_string(),
            p.f("wall_s").map_or(DASH.into(), seconds),
            p.overhead_ms().map_or(DASH.into(), |o| format!("{o:+.1} ms")),
            memory.map_or(DASH.into(), |m| format!("{:.1} MiB", m / 1024.0)),
            memory.map_or(DASH.into(), |m| format!("{:.0} B", m * 1024.0 / p.n as f64)),
            p.f("voluntary_ctx_switches").map_or(DASH.into(), |v| format!("{v:.0}")),
            p.report
                .as_ref()
                .and_then(|r| r["lateness_ms"]["p99"].as_f64())
                .map_or(DASH.into(), |v| format!("{v:.1} ms")),
            match &p.error {
                Some(e) => format!("{}: {}", p.status, e.replace('|', "/")),
                None => p.status.clone(),
            },
        ]);
    }
    t.render()
}

fn breaking_points(sleep: &[Point], http: &[Point]) -> String {
    let mut t = Table::new(&[
        "workload",
        "model",
        "largest N that ran",
        "stopped at",
        "why (its own error)",
    ]);
    for (workload, points) in [("sleep", sleep), ("http", http)] {
        let mut names: Vec<&str> = points.iter().map(|p| p.line.as_str()).collect();
        names.dedup();
        for name in names {
            let mine: Vec<&Point> = points.iter().filter(|p| p.line == name).collect();
            let largest = mine.iter().filter(|p| p.ok()).map(|p| p.n).max();
            let failed = mine.iter().find(|p| !p.ok());
            t.push(vec![
                workload.into(),
                format!("`{name}`"),
                largest.map_or(DASH.into(), |n| n.to_string()),
                failed.map_or("did not stop".into(), |p| format!("N = {}", p.n)),
                failed.and_then(|p| p.error.clone()).unwrap_or_default().replace('|', "/"),
            ]);
        }
    }
    t.render()
}

/// The targets, checked against the measured points.
fn targets(points: &[Point]) -> String {
    let find = |line: &str, n: u64| points.iter().find(|p| p.line == line && p.n == n && p.ok());
    let mut t = Table::new(&["model", "N", "target", "measured", "met"]);
    for (line, n, max_wall, max_bytes) in [
        ("epoll", 1_000_000, 1.2, Some(32.0)),
        ("tokio", 1_000_000, 1.5, Some(300.0)),
        ("uring", 1_000_000, 1.5, Some(300.0)),
        ("tokio (jemalloc)", 1_000_000, 1.5, Some(300.0)),
        ("uring (jemalloc)", 1_000_000, 1.5, Some(300.0)),
        ("threads", 10_000, 1.5, None),
        ("procs", 1_000, 1.3, None),
    ] {
        let target = match max_bytes {
            Some(b) => format!("< {max_wall} s, < {b:.0} B per task"),
            None => format!("< {max_wall} s"),
        };
        let (measured, met) = match find(line, n) {
            Some(p) => {
                let wall = p.f("wall_s").unwrap_or(f64::MAX);
                let bytes = p.memory_kib().unwrap_or(f64::MAX) * 1024.0 / n as f64;
                let met = wall < max_wall && max_bytes.is_none_or(|b| bytes < b);
                (
                    format!("{}, {bytes:.0} B per task", seconds(wall)),
                    if met { "yes" } else { "**no**" },
                )
            }
            None => ("not measured".into(), DASH),
        };
        t.push(vec![format!("`{line}`"), n.to_string(), target, measured, met.into()]);
    }
    t.render()
}

/// One series per line of the sweep, in sweep order, from the points that ran.
fn series(points: &[Point], f: &dyn Fn(&Point) -> Option<f64>) -> Vec<Series> {
    let mut names: Vec<(&str, bool)> = Vec::new();
    for p in points {
        if !names.iter().any(|(n, _)| *n == p.line) {
            names.push((&p.line, p.peer));
        }
    }
    names
        .into_iter()
        .map(|(name, peer)| Series {
            name: name.to_string(),
            peer,
            points: points
                .iter()
                .filter(|p| p.line == name && p.ok())
                .filter_map(|p| Some((p.n as f64, f(p)?)))
                .collect(),
        })
        .collect()
}

/// The three plots: overhead and memory per task for sleep, overhead for http.
fn write_plots(
    out: &std::path::Path,
    ms: u64,
    sleep: &[Point],
    http: &[Point],
) -> Result<(), String> {
    let overhead = |p: &Point| p.overhead_ms();
    let per_task = |p: &Point| Some(p.memory_kib()? * 1024.0 / p.n as f64);
    let plots = [
        (
            "overhead.svg",
            format!("sleep {ms} ms: time above the ideal"),
            "tasks (N)",
            "wall − ideal (ms)",
            series(sleep, &overhead),
        ),
        (
            "memory-per-task.svg",
            format!("sleep {ms} ms: peak memory per task"),
            "tasks (N)",
            "bytes per task (self + children)",
            series(sleep, &per_task),
        ),
        (
            "http-overhead.svg",
            "http, 100 ms delay: time above the ideal".to_string(),
            "requests (N)",
            "wall − ideal (ms)",
            series(http, &overhead),
        ),
    ];
    for (file, title, x, y, lines) in plots {
        write(&out.join(file), &loglog(&title, x, y, &lines))?;
    }
    Ok(())
}

/// The sweep's points as `scale.json` holds them: (sleep ms, sleep points, http points).
fn load(dir: &std::path::Path) -> Result<(u64, Vec<Point>, Vec<Point>), String> {
    let path = dir.join("scale.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (run make bench-scale)", path.display()))?;
    let data: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let points = |key: &str| -> Vec<Point> {
        let all = data[key].as_array().cloned().unwrap_or_default();
        all.iter()
            .map(|p| {
                let line = p["line"].as_str().unwrap_or("?").to_string();
                Point {
                    peer: line.starts_with("py-"),
                    line,
                    n: p["n"].as_u64().unwrap_or(0),
                    report: Some(p["report"].clone()).filter(|r| !r.is_null()),
                    status: p["status"].as_str().unwrap_or("").to_string(),
                    error: p["error"].as_str().map(String::from),
                }
            })
            .collect()
    };
    Ok((data["sleep_ms"].as_u64().unwrap_or(1000), points("sleep"), points("http")))
}

/// `bench plots`: draw the SVGs again from `scale.json`, without running anything.
pub fn plots(options: &Options) -> Result<(), String> {
    let out = options.out()?;
    let (ms, sleep, http) = load(&out)?;
    write_plots(&out, ms, &sleep, &http)
}

/// The README's scale section, from `scale.json`: the plots, the targets, where each stops.
pub fn summary(dir: &std::path::Path) -> Result<String, String> {
    let (_, sleep, http) = load(dir)?;
    Ok(format!(
        "![time above the ideal](results/scale/overhead.svg)\n\n![memory per task](results/scale/memory-per-task.svg)\n\n\
         Targets for a million sleeping tasks (and 10,000 threads, 1,000 processes):\n\n{}\n\
         Where each one stops, and the error it stopped with:\n\n{}\n\
         Every point, the http sweep and the machine: [results/scale](results/scale/README.md).\n",
        targets(&sleep),
        breaking_points(&sleep, &http)
    ))
}
