//! `make timelines`: the cases that teach, run with `--timeline`, drawn one SVG each into
//! `results/timelines/` (`draw.rs`), beside the JSON lines they were drawn from.
//!
//! - `seed`: the article's case, 10 tasks × 1 s, every model and peer.
//! - `cpu`: 8 SHA-256 chains — serial, threads, processes, tokio, and the `epoll` loop with
//!   and without `--offload`, against Python's thread pool (the GIL), process pool and asyncio
//!   with and without `--offload`.
//! - `http`: 1,000 requests at once, `tokio` against `threads`.

mod draw;

use std::collections::BTreeMap;
use std::path::Path;

use workload::timeline::{Line, Timeline};

use crate::cli::Timelines;
use crate::peers::Peers;
use crate::run::{model_program, Row};
use draw::Panel;

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

fn model(name: &str, binary: &str, extra: &str) -> Row {
    Row::new(name, [model_program(binary), args(extra)].concat())
}

fn cases(peers: &Peers) -> Vec<Case> {
    let seed = args("--tasks 10 --ms 1000");
    let mut seed_rows: Vec<Row> = ["serial", "procs", "threads", "tokio", "epoll", "uring", "ring"]
        .into_iter()
        .map(|m| model(m, m, ""))
        .collect();
    seed_rows.extend([
        peers.python("py-serial", "py_serial.py", &[]),
        peers.python("py-processes (10 workers)", "py_processes.py", &args("--workers 10")),
        peers.python("py-threads (10 workers)", "py_threads.py", &args("--workers 10")),
        peers.python("py-asyncio", "py_asyncio.py", &[]),
        peers.python("py-uvloop", "py_uvloop.py", &[]),
        peers.go("go-goroutines", &[]),
        peers.node("node-promises", &[]),
    ]);
    let cpu_rows = vec![
        model("serial", "serial", ""),
        model("threads", "threads", ""),
        model("procs", "procs", ""),
        model("tokio", "tokio", ""),
        model("epoll", "epoll", ""),
        model("epoll --offload", "epoll", "--offload"),
        peers.python("py-threads (the GIL)", "py_threads.py", &[]),
        peers.python("py-processes", "py_processes.py", &[]),
        peers.python("py-asyncio", "py_asyncio.py", &[]),
        peers.python("py-asyncio --offload", "py_asyncio.py", &args("--offload")),
    ];
    vec![
        Case { name: "seed", title: "10 tasks, each waits 1 s: who waits where", work: false, args: seed, rows: seed_rows },
        Case { name: "cpu", title: "8 SHA-256 chains of 200,000 rounds: parallel, serial, or behind the GIL", work: true, args: args("--workload cpu --tasks 8 --work 200000"), rows: cpu_rows },
        Case {
            name: "http",
            title: "1,000 requests at once, each answered after 100 ms: tasks on two workers vs a thread each",
            work: false,
            args: args("--workload http --tasks 1000 --ms 100"),
            rows: vec![model("tokio", "tokio", ""), model("threads", "threads", "")],
        },
    ]
}

pub fn timelines(o: &Timelines) -> Result<(), String> {
    let peers = Peers::find(&o.python);
    std::fs::create_dir_all(&o.out).map_err(|e| format!("{}: {e}", o.out.display()))?;
    for case in cases(&peers) {
        let service = (case.name == "http").then(crate::service::Service::start).transpose()?;
        let dir = o.out.join(case.name);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
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
        let svg = draw::timeline(case.title, case.work, &panels);
        let path = o.out.join(format!("{}.svg", case.name));
        std::fs::write(&path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
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

fn run(argv: &[String]) -> Result<(), String> {
    crate::child::output(argv, false).map(drop)
}

/// A program's timeline as lanes: one per runner (pid, tid), in the order they first ran.
fn panel(name: &str, color: usize, file: &Path) -> Result<Panel, String> {
    let lines = Timeline::read(file).map_err(|e| e.to_string())?;
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
