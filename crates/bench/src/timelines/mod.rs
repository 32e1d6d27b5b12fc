//! `make timelines`: the cases that teach, run with `--timeline`, drawn one SVG each into
//! `results/timelines/` (`draw.rs`), beside the JSON lines they were drawn from.
//!
//! - `seed`: the article's case, 10 tasks × 1 s, every model and peer.
//! - `cpu`: 8 SHA-256 chains — serial, threads, processes, tokio, and the `epoll` loop with
//!   and without `--offload`, against Python's thread pool (the GIL), process pool and asyncio
//!   with and without `--offload`.
//! - `http`: 1,000 requests at once, `tokio` against `threads`.
//! - `preemption`: 8 SHA-256 chains on the green threads of three runtimes: the BEAM and Go
//!   preempt a running task, Java's virtual threads run each to its end on its carrier.

use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;

use workload::timeline::{Line, Timeline};

use crate::cli::Timelines;
use crate::programs::{roster, Programs};
use crate::run::Row;
use crate::svg::timeline::{self, Panel};
use roster::Workload;

/// One case: its title, whether its tasks are CPU work, its rows, and what every row runs.
struct Case {
    name: &'static str,
    title: &'static str,
    work: bool,
    args: Vec<String>,
    rows: Vec<Row>,
}

fn args(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

fn cases(programs: &Programs) -> Vec<Case> {
    // A row with the flags its label names ("py-threads (10 workers)", "epoll --offload").
    let row = |label: &str| programs.row(label, &roster::flags_of(label));
    let seed = args("--tasks 10 --ms 1000");
    // Every program that sleeps, the article's Python pools at a worker a task.
    let seed_rows: Vec<Row> = roster()
        .running(Workload::Sleep)
        .map(|p| match p.id.as_str() {
            "py-processes" | "py-threads" => row(&format!("{} (10 workers)", p.id)),
            id => row(id),
        })
        .collect();
    let cpu_rows = [
        "serial",
        "threads",
        "procs",
        "tokio",
        "monoio",
        "epoll",
        "epoll --offload",
        "py-threads (the GIL)",
        "py-processes",
        "py-asyncio",
        "py-asyncio --offload",
    ]
    .map(row)
    .into();
    vec![
        Case { name: "seed", title: "10 tasks, each waits 1 s: who waits where", work: false, args: seed, rows: seed_rows },
        Case { name: "cpu", title: "8 SHA-256 chains of 200,000 rounds: parallel, serial, or behind the GIL", work: true, args: args("--workload cpu --tasks 8 --work 200000"), rows: cpu_rows },
        Case {
            name: "http",
            title: "1,000 requests at once, answered after 100 ms: two workers, two cores, a thread each",
            work: false,
            args: args("--workload http --tasks 1000 --ms 100"),
            rows: vec![row("tokio"), row("monoio"), row("threads")],
        },
        Case {
            name: "preemption",
            title: "8 SHA-256 chains on 2 cores: green threads preempted, or run to their end",
            work: true,
            args: args("--workload cpu --tasks 8 --work 200000"),
            rows: vec![row("erlang-processes"), row("go-goroutines"), row("java-virtual"), row("java-threads")],
        },
    ]
}

pub fn timelines(o: &Timelines) -> anyhow::Result<()> {
    let programs = Programs::find(&o.python);
    std::fs::create_dir_all(&o.out).with_context(|| o.out.display().to_string())?;
    for case in cases(&programs) {
        let service = (case.name == "http").then(crate::service::Service::start).transpose()?;
        let dir = o.out.join(case.name);
        std::fs::create_dir_all(&dir).map_err(anyhow::Error::msg)?;
        let mut panels = Vec::new();
        for (color, row) in case.rows.iter().enumerate() {
            if let Some(missing) = &row.missing {
                eprintln!("timelines: {} skipped: {missing}", row.name);
                continue;
            }
            let file = dir.join(format!("{}.jsonl", slug(&row.name)));
            let mut argv = row.argv.clone();
            argv.extend(case.args.iter().cloned());
            if let Some(service) = &service {
                argv.extend(["--addr".to_string(), service.addr.clone()]);
            }
            argv.extend(["--timeline".to_string(), file.display().to_string()]);
            eprintln!("timelines: {} · {}", case.name, row.name);
            run(&argv)?;
            panels.push(panel(&row.name, color, &file)?);
        }
        let svg = timeline::timeline(case.title, case.work, &panels);
        let path = o.out.join(format!("{}.svg", case.name));
        std::fs::write(&path, svg).with_context(|| path.display().to_string())?;
        eprintln!("timelines: wrote {}", path.display());
    }
    Ok(())
}

/// A file name for a row: `py-threads (the GIL)` → `py-threads-the-gil`.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-")
}

fn run(argv: &[String]) -> anyhow::Result<()> {
    child::output(argv, false).map_err(anyhow::Error::msg).map(drop)
}

/// A program's timeline as lanes: one per runner (pid, tid), in the order they first ran.
fn panel(name: &str, color: usize, file: &Path) -> anyhow::Result<Panel> {
    let lines = Timeline::read(file).map_err(anyhow::Error::msg)?;
    let mut by_runner: BTreeMap<(u32, u64), Vec<(f64, f64)>> = BTreeMap::new();
    let mut ticks = Vec::new();
    for line in lines {
        match line {
            Line::Task { start, end, pid, tid, .. } => {
                by_runner.entry((pid, tid)).or_default().push((start, end))
            }
            Line::Tick { tick_due, tick_at } => ticks.push((tick_due, tick_at)),
        }
    }
    let mut lanes: Vec<Vec<(f64, f64)>> = by_runner.into_values().collect();
    lanes.sort_by(|a, b| {
        let first = |l: &Vec<(f64, f64)>| l.iter().map(|b| b.0).fold(f64::MAX, f64::min);
        first(a).total_cmp(&first(b))
    });
    Ok(Panel { name: name.to_string(), color, lanes, ticks })
}
