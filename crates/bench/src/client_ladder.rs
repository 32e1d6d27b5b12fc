//! The io_uring client path, one feature at a time: `ring --workload http` at N = 10,000 on
//! each rung of its client ladder (`crates/ring/src/parts/client_path.rs`: plain, provided
//! buffers, fixed files, linked). Each round times every rung in one hyperfine run, then
//! counts each rung's system calls under `strace -f -c`, once; the table gives the medians
//! of the rounds, so the machine's drift touches every rung alike. `bench http` runs it
//! beside its timed tables, into results/http/ladder.json.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ladder::{costs_table, median_of, Costs, CLIENT};
use crate::programs::Programs;
use crate::run::{read_json, Bench, Row, Timing};
use crate::table::{thousands, Table, DASH};
use crate::trace::Calls;
use workload::Report;

/// Requests at once: the N.
pub const N: u32 = 10_000;
const ROUNDS: u32 = 3;
/// hyperfine's runs of each rung in a round.
const RUNS: u32 = 3;

/// What one run of a rung measured: hyperfine's timing, the run's own report (its peak
/// memory, and whether every request was answered), and its system calls under strace.
#[derive(Serialize, Deserialize)]
pub struct Measured {
    pub timing: Option<Timing>,
    pub report: Option<Report>,
    pub calls: Option<Calls>,
}

/// One rung in one round.
pub type Rung = crate::ladder::Rung<Measured>;

/// `ring` on `path` against the service at `addr`.
fn row(programs: &Programs, path: &str, addr: &str) -> Row {
    let args = format!("--workload http --tasks {N} --ms 100 --addr {addr}");
    let args: Vec<String> = args.split_whitespace().map(String::from).collect();
    let mut row = programs.row("ring", &args);
    row.name = format!("ring ({path})");
    row.argv = CLIENT.on(path, row.argv);
    row
}

/// Every rung, [`ROUNDS`] times.
pub fn run(bench: &Bench, programs: &Programs, addr: &str) -> anyhow::Result<Vec<Rung>> {
    let mut out = Vec::new();
    for round in 0..ROUNDS {
        eprintln!("bench http: the io_uring client path, round {}", round + 1);
        let rows = CLIENT.rungs.iter().map(|p| row(programs, p, addr)).collect();
        let label = format!("ladder-r{}", round + 1);
        let measured = bench.time(&label, bench.reports(rows), 1, RUNS)?;
        for (path, m) in CLIENT.rungs.iter().zip(measured) {
            // The same command without `env`.
            let argv = m.row.argv[2..].to_vec();
            let calls = Calls::counted(&CLIENT.setting(path), argv)
                .inspect_err(|e| eprintln!("{}: not counted: {e:#}", m.row.name))
                .ok();
            let (timing, report) = (m.timing, m.report);
            let measured = Measured { timing, report, calls };
            out.push(Rung { path: path.to_string(), round, measured });
        }
    }
    Ok(out)
}

/// A rung's figures, the medians of its rounds: CPU in µs a request.
struct Medians {
    wall_s: f64,
    costs: Costs,
}

fn medians(rungs: &[Rung], path: &str) -> Option<Medians> {
    // A round in which a request failed measures something else: left out.
    let ok = |m: &Measured| m.report.as_ref().is_some_and(|rep| rep.failed == 0);
    let of =
        |f: &dyn Fn(&Measured) -> Option<f64>| median_of(rungs, path, |m| f(m).filter(|_| ok(m)));
    let a_request = |s: f64| s / f64::from(N) * 1e6;
    Some(Medians {
        wall_s: of(&|r| r.timing.as_ref().map(|t| t.median))?,
        costs: Costs {
            user_us: of(&|r| r.timing.as_ref().map(|t| a_request(t.user)))?,
            sys_us: of(&|r| r.timing.as_ref().map(|t| a_request(t.system)))?,
            enters: of(&|r| r.calls.as_ref().map(|c| c.io_uring_enter as f64))?,
            syscalls: of(&|r| r.calls.as_ref().map(|c| c.all as f64))?,
            rss_kib: of(&|r| r.report.as_ref().map(|rep| rep.max_rss_kib as f64))?,
        },
    })
}

/// The variant table: each rung's medians, and what its feature changed against the rung
/// below it.
pub fn table(rungs: &[Rung]) -> String {
    let header = "client | wall | user a request | sys a request | CPU a request | against the rung below | io_uring_enter | all syscalls | peak memory";
    let t = costs_table(header, &CLIENT, 2, |path| {
        let m = medians(rungs, path)?;
        Some((format!("{:.4} s", m.wall_s), m.costs))
    });
    let rounds = crate::ladder::rounds(rungs);
    t.render()
        + &format!(
            "\nMedians of {rounds} rounds at N = {}; each round times every rung in one \
             hyperfine run ({RUNS} runs each), then counts its calls under strace once.\n",
            thousands(u64::from(N))
        )
}

/// The target for the client path, judged on the rung `ring` runs by default against
/// the plain one, today's path: no more system calls, and a wall no longer.
pub fn verdicts(rungs: &[Rung]) -> Vec<Vec<String>> {
    let n = thousands(u64::from(N));
    let target =
        format!("http, N = {n}: `ring`'s syscalls ≤ the plain path's, and its wall no worse");
    let default = CLIENT.default;
    let (Some(m), Some(plain)) = (medians(rungs, default), medians(rungs, "plain")) else {
        return vec![vec![target, "not measured".into(), "the ladder did not run".into()]];
    };
    let (calls, wall) = (m.costs.syscalls / plain.costs.syscalls, m.wall_s / plain.wall_s);
    let verdict = if calls <= 1.0 && wall <= 1.0 { "met" } else { "missed" };
    let says = format!(
        "`ring` ({default}) {:.0} syscalls, {calls:.2} × plain's {:.0}; wall {:.4} s, {wall:.2} × plain's {:.4} s (the rounds' walls: {default} {}, plain {})",
        m.costs.syscalls,
        plain.costs.syscalls,
        m.wall_s,
        plain.wall_s,
        spread(rungs, default),
        spread(rungs, "plain"),
    );
    vec![vec![target, verdict.into(), says]]
}

/// The lowest and the highest of `path`'s rounds' walls: how far the machine moved one rung
/// from round to round, beside what set the rungs apart.
fn spread(rungs: &[Rung], path: &str) -> String {
    let walls = rungs.iter().filter(|r| r.path == path);
    let walls: Vec<f64> = walls.filter_map(|r| Some(r.measured.timing.as_ref()?.median)).collect();
    let low = walls.iter().copied().reduce(f64::min);
    let high = walls.iter().copied().reduce(f64::max);
    match (low, high) {
        (Some(low), Some(high)) => format!("{low:.4}–{high:.4} s"),
        _ => DASH.into(),
    }
}

/// The book's section: the table and its verdict, or that no run has made them yet.
pub fn section(results: &Path) -> anyhow::Result<String> {
    let file = results.join("http").join("ladder.json");
    if !file.exists() {
        return Ok("Not measured yet: `make bench-http` runs the ladder.\n".into());
    }
    Ok(render(&read_json::<Vec<Rung>>(&file)?))
}

/// The table, then its verdict.
pub fn render(rungs: &[Rung]) -> String {
    let mut judged = Table::headed("target | verdict | measured");
    for line in verdicts(rungs) {
        judged.push(line);
    }
    format!("{}\n{}", table(rungs), judged.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rung(path: &str, round: u32, wall: f64, calls: u64) -> Rung {
        let timing = Timing {
            command: path.into(),
            mean: wall,
            stddev: None,
            median: wall,
            min: wall,
            max: wall,
            user: 0.1,
            system: 0.2,
            exit_codes: vec![Some(0)],
        };
        let report = crate::table::tests::report(serde_json::json!({"max_rss_kib": 8192}));
        let calls = Calls { io_uring_enter: calls - 100, all: calls };
        let measured = Measured { timing: Some(timing), report: Some(report), calls: Some(calls) };
        Rung { path: path.into(), round, measured }
    }

    #[test]
    fn the_verdict_follows_the_medians() {
        let mut rungs = vec![];
        for round in 0..3 {
            rungs.push(rung("plain", round, 0.40, 700));
            rungs.push(rung(CLIENT.default, round, 0.39, 600));
        }
        assert_eq!(verdicts(&rungs)[0][1], "met");
        for round in 3..7 {
            rungs.push(rung(CLIENT.default, round, 0.5, 900));
        }
        assert_eq!(verdicts(&rungs)[0][1], "missed", "the median moved past plain's");
        assert!(table(&rungs).contains("`ring` fixed-files | —"), "{}", table(&rungs));
    }
}
