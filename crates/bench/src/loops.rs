//! The README's side-by-side of the two hand-written loops — `epoll` (readiness) and `ring`
//! (completion) — against the targets `ring` was set, every figure read from `results/`.

use std::path::Path;

use crate::run::{read_json, HyperfineExport, ReportEntry, Timing};
use crate::scale::point::Point;
use crate::scale::ScaleData;
use crate::table::{seconds, thousands, Table, DASH};
use crate::trace::Counts;

/// One figure of each loop, and whether `ring`'s met its target.
struct Case {
    what: String,
    epoll: Option<String>,
    ring: Option<String>,
    target: &'static str,
    met: Option<bool>,
}

pub fn section(results: &Path) -> anyhow::Result<String> {
    let seed: Vec<ReportEntry> = read_json(&results.join("seed/reports.json"))?;
    let scale: ScaleData = read_json(&results.join("scale/scale.json"))?;
    let http: HyperfineExport = read_json(&results.join("http/hyperfine-n10000.json"))?;
    let syscalls: Vec<Counts> = read_json(&results.join("syscalls.json"))?;

    let lateness = |model: &str| {
        let entry = seed.iter().find(|e| e.name == model)?;
        Some(entry.report.as_ref()?.lateness_ms?.p99)
    };
    let million = |line: &str| scale.sleep.iter().find(|p| p.line == line && p.n == 1_000_000);
    let per_task = |p: &Point| p.memory_kib().map(|kib| kib * 1024.0 / p.n as f64);
    let timing = |model: &str| http.results.iter().find(|t| t.command == model);
    let cpu = |t: &Timing| t.user + t.system;
    let counts = |workload: &str, model: &str| {
        syscalls.iter().find(|c| c.workload == workload && c.model == model)
    };
    let both = |f: &dyn Fn(&str) -> Option<f64>| (f("epoll"), f("ring"));

    let mut cases = Vec::new();
    let (e, r) = (million("epoll"), million("ring"));
    let (ew, rw) = (e.and_then(Point::wall_s), r.and_then(Point::wall_s));
    let (eb, rb) = (e.and_then(per_task), r.and_then(per_task));
    cases.push(Case {
        what: "1,000,000 sleeping tasks, 1 s: wall, memory per task".into(),
        epoll: ew.zip(eb).map(|(w, b)| format!("{}, {b:.0} B", seconds(w))),
        ring: rw.zip(rb).map(|(w, b)| format!("{}, {b:.0} B", seconds(w))),
        target: "≤ `epoll` × 1.05, ≤ 32 B",
        met: ew.zip(rw).zip(rb).map(|((e, r), b)| r <= e * 1.05 && b <= 32.0),
    });
    let (el, rl) = both(&lateness);
    cases.push(Case {
        what: "10 tasks × 1 s: p99 lateness".into(),
        epoll: el.map(|l| format!("{l:.3} ms")),
        ring: rl.map(|l| format!("{l:.3} ms")),
        target: "≤ 0.1 ms",
        met: rl.map(|l| l <= 0.1),
    });
    let (es, rs) = (counts("sleep", "epoll"), counts("sleep", "ring"));
    let waits = |c: &Counts| {
        format!("{} `io_uring_enter`, {} `epoll_wait`", c.io_uring_enter, c.epoll_wait)
    };
    cases.push(Case {
        what: format!(
            "{} sleeping tasks under `strace -f -c`",
            thousands(rs.map_or(0, |c| c.tasks))
        ),
        epoll: es.map(waits),
        ring: rs.map(waits),
        target: "`io_uring_enter` present, no `epoll_wait`",
        met: rs.map(|c| c.io_uring_enter > 0 && c.epoll_wait == 0),
    });
    let (et, rt) = (timing("epoll"), timing("ring"));
    cases.push(Case {
        what: "10,000 http requests at 100 ms: median wall (hyperfine)".into(),
        epoll: et.map(|t| seconds(t.median)),
        ring: rt.map(|t| seconds(t.median)),
        target: "≤ `epoll` × 1.05",
        met: et.zip(rt).map(|(e, r)| r.median <= e.median * 1.05),
    });
    cases.push(Case {
        what: "the same: user + sys CPU (hyperfine's mean)".into(),
        epoll: et.map(|t| seconds(cpu(t))),
        ring: rt.map(|t| seconds(cpu(t))),
        target: "≤ `epoll`'s",
        met: et.zip(rt).map(|(e, r)| cpu(r) <= cpu(e)),
    });
    let (eh, rh) = (counts("http", "epoll"), counts("http", "ring"));
    // The median, and the range where the case ran more than once.
    // (A file written before the runs were repeated has one total and no list.)
    let total = |c: &Counts| match c.totals.is_empty() {
        true => thousands(c.total),
        false => crate::trace::spread(&c.totals, thousands),
    };
    let runs = rh.map_or(1, |c| c.totals.len().max(1));
    cases.push(Case {
        what: format!(
            "{} http requests under `strace -f -c`: all syscalls{}",
            thousands(rh.map_or(0, |c| c.tasks)),
            if runs > 1 { format!(", median (range) of {runs} runs") } else { String::new() }
        ),
        epoll: eh.map(total),
        ring: rh.map(total),
        target: "≤ `epoll`'s / 10",
        met: eh.zip(rh).map(|(e, r)| r.total * 10 <= e.total),
    });

    let mut t =
        Table::headed("case | `epoll` (readiness) | `ring` (completion) | target for `ring` | met");
    for c in cases {
        let met = match c.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => DASH,
        };
        let cell = |v: Option<String>| v.unwrap_or_else(|| "not measured".into());
        t.push(vec![c.what, cell(c.epoll), cell(c.ring), c.target.into(), met.into()]);
    }
    crate::template::fill(
        "readme-loops.md",
        crate::template::README_LOOPS,
        &[("table", &t.render())],
    )
}
