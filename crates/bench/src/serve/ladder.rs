//! The io_uring path, one feature at a time: `ring --serve` on each rung of its ladder
//! (`crates/ring/src/serve/path.rs`: plain, then multishot accept, provided buffers,
//! multishot recv, fixed files), with `epoll` beside them as the readiness anchor. Each
//! round runs every rung once, wrk at c = 100 for throughput and CPU a request, then 1,000
//! fresh connections for memory a connection; the table gives the median of the rounds, so
//! the machine's drift touches every rung alike.

use std::path::Path;

use serde::{Deserialize, Serialize};
use workload::Report;

use super::load::Latency;
use super::servers::{self, Spec};
use super::Served;
use crate::cli;
use crate::ladder::{median_of, Climb, SERVE};
use crate::table::Table;

/// The readiness loop each rung is measured against.
const ANCHOR: &str = "epoll";

/// Fresh connections for memory a connection: the c = 1,000.
const CONNECTIONS: u32 = 1_000;

/// One server of one round: a rung (or the anchor) under wrk, then under fresh connections.
pub type Rung = crate::ladder::Rung<Measured>;

/// What its two loads measured: wrk's closed loop at c = 100, with the server's CPU a
/// request, and [`CONNECTIONS`] fresh connections, with its memory a connection.
#[derive(Serialize, Deserialize)]
pub struct Measured {
    pub throughput: Served<Latency>,
    pub fresh: Served<Report>,
}

/// `ring` on `path`.
fn spec(path: &str) -> Spec {
    let mut spec = servers::model("ring");
    spec.name = format!("ring ({path})");
    spec.argv = SERVE.on(path, spec.argv);
    spec
}

/// Every rung and the anchor, `rounds` times.
pub fn run(rounds: u32, secs: u32, o: &cli::Serve, scratch: &Path) -> Vec<Rung> {
    let mut out = vec![];
    for round in 0..rounds {
        let servers = SERVE.rungs.iter().map(|p| (p.to_string(), spec(p)));
        for (path, spec) in servers.chain([(ANCHOR.to_string(), servers::model(ANCHOR))]) {
            eprintln!("bench serve: the io_uring path, round {}: {}", round + 1, spec.name);
            // The throughput and C10K cases of the suite, on this server.
            let throughput = super::throughput(&spec, 100, secs, o, scratch).served;
            let fresh = super::c10k(&spec, CONNECTIONS, &[], scratch).served;
            out.push(Rung { path, round, measured: Measured { throughput, fresh } });
        }
    }
    out
}

/// A rung's figures, the medians of its rounds.
struct Medians {
    req_per_s: f64,
    p99_ms: f64,
    /// The server's user and system CPU time over the requests it answered, in µs.
    user_us: f64,
    sys_us: f64,
    /// RSS grown over the fresh connections, a connection, in KiB.
    kib_a_connection: f64,
}

fn medians(rungs: &[Rung], path: &str) -> Option<Medians> {
    let of = |f: &dyn Fn(&Measured) -> Option<f64>| median_of(rungs, path, f);
    let load = |r: &Measured| r.throughput.load.as_ref().map(|l| (l.req_per_s, l.p99_ms));
    let cpu = |r: &Measured| {
        let rep = r.throughput.server_report.as_ref().filter(|rep| rep.requests > 0)?;
        Some((rep.user_s / rep.requests as f64 * 1e6, rep.sys_s / rep.requests as f64 * 1e6))
    };
    let memory = |r: &Measured| {
        let rep = r.fresh.server_report.as_ref()?;
        r.fresh.load.as_ref().filter(|l| l.failed == 0)?;
        let grown = rep.max_rss_kib.saturating_sub(r.fresh.baseline_rss_kib);
        Some(grown as f64 / f64::from(CONNECTIONS))
    };
    Some(Medians {
        req_per_s: of(&|r| load(r).map(|l| l.0))?,
        p99_ms: of(&|r| load(r).map(|l| l.1))?,
        user_us: of(&|r| cpu(r).map(|c| c.0))?,
        sys_us: of(&|r| cpu(r).map(|c| c.1))?,
        kib_a_connection: of(&memory)?,
    })
}

/// The variant table: each rung's medians, what it saves against the rung below it, and the
/// anchor's row.
pub fn table(rungs: &[Rung]) -> String {
    if rungs.is_empty() {
        return "Not measured in this run.\n".into();
    }
    let rounds = crate::ladder::rounds(rungs);
    let mut t = Table::headed(
        "server | req/s | p99 | user a request | sys a request | CPU a request | against the rung below | memory a connection",
    );
    let mut climb = Climb::default();
    for path in SERVE.rungs.iter().copied().chain([ANCHOR]) {
        let name = if path == ANCHOR { format!("`{ANCHOR}`") } else { format!("`ring` {path}") };
        let Some(m) = medians(rungs, path) else {
            t.push_without_figures(vec![name]);
            continue;
        };
        let mut row =
            vec![name, format!("{:.1}k", m.req_per_s / 1000.0), format!("{:.2} ms", m.p99_ms)];
        row.extend(match path {
            ANCHOR => climb.beside(m.user_us, m.sys_us, 2),
            _ => climb.step(m.user_us, m.sys_us, 2),
        });
        row.push(format!("{:.2} KiB", m.kib_a_connection));
        t.push(row);
    }
    t.render() + &format!("\nMedians of {rounds} rounds; every rung and `{ANCHOR}` ran once a round, one after another.\n")
}

/// The two targets for the path, judged on the rung `ring` runs by default: its CPU
/// a request against the anchor's, and its memory a connection against the plain path's.
pub fn verdicts(rungs: &[Rung]) -> Vec<Vec<String>> {
    let cpu = |m: &Medians| m.user_us + m.sys_us;
    let (default, plain) = (medians(rungs, SERVE.default), medians(rungs, "plain"));
    let best = SERVE.default;
    let cpu_line = match (&default, medians(rungs, ANCHOR)) {
        (Some(m), Some(e)) => {
            let ratio = cpu(m) / cpu(&e);
            let verdict = if ratio <= 0.85 { "met" } else { "missed" };
            (
                verdict,
                format!(
                    "`ring` ({best}) {:.2} µs, {ratio:.2} × `{ANCHOR}`'s {:.2} µs",
                    cpu(m),
                    cpu(&e)
                ),
            )
        }
        _ => ("not measured", "the ladder did not run".into()),
    };
    let memory_line = match (&default, &plain) {
        (Some(m), Some(plain)) => {
            let ratio = m.kib_a_connection / plain.kib_a_connection;
            let verdict = if ratio <= 0.5 { "met" } else { "missed" };
            // What is left is the connection's own state, which the readiness loop holds
            // too: said beside the verdict, so that a miss shows what it is made of.
            let anchor = medians(rungs, ANCHOR).map_or(String::new(), |e| {
                format!(
                    "; `{ANCHOR}`, which holds no buffer between reads either, {:.2} KiB",
                    e.kib_a_connection
                )
            });
            (
                verdict,
                format!(
                    "`ring` ({best}) {:.2} KiB, {ratio:.2} × plain's {:.2} KiB{anchor}",
                    m.kib_a_connection, plain.kib_a_connection
                ),
            )
        }
        _ => ("not measured", "the ladder did not run".into()),
    };
    vec![
        vec![
            format!("serve, c = 100, one core: `ring`'s CPU a request ≤ 0.85 × `{ANCHOR}`'s"),
            cpu_line.0.into(),
            cpu_line.1,
        ],
        vec![
            format!(
                "serve, c = {CONNECTIONS}: `ring`'s memory a connection ≤ 0.5 × the plain path's"
            ),
            memory_line.0.into(),
            memory_line.1,
        ],
    ]
}
