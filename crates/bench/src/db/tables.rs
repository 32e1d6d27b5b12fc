//! The db benchmark's tables, plot, targets and readings, from `db.json` alone: the results
//! page, and the README's section.

use super::{Point, Results, POOLS, UNPOOLED, UNPOOLED_MS, WAIT_MS, WAIT_N, WAIT_POOLS};
use crate::suite::{Drawn, Templates};
use crate::svg::models_and_peers;
use crate::table::{names, short, verdict_table, Table, Verdict, DASH};

const LOOPS: [&str; 4] = ["tokio", "epoll", "uring", "ring"];

/// The point of `program` with `workers` in `points`, if it ran to the end.
fn at<'a>(points: &'a [Point], program: &str, workers: Option<u32>) -> Option<&'a Point> {
    points.iter().find(|p| p.program == program && p.workers == workers && p.ok())
}

fn qps_of(points: &[Point], program: &str, w: u32) -> Option<f64> {
    at(points, program, Some(w))?.qps
}

fn kilo(qps: f64) -> String {
    if qps >= 1000.0 {
        format!("{:.1}k", qps / 1000.0)
    } else {
        format!("{qps:.0}")
    }
}

/// A cell: `shown` of the point that ran, else why it did not.
fn cell(point: Option<&Point>, shown: impl Fn(&Point) -> Option<String>) -> String {
    match point {
        None => DASH.into(),
        Some(p) if p.ok() => shown(p).unwrap_or_else(|| DASH.into()),
        Some(p) => format!("{DASH} ({})", short(&p.status, 60)),
    }
}

/// N = 1,000 × 100 ms with a pool of W: the wall time and its ratio to ⌈N / W⌉ × 100 ms.
fn wait_table(r: &Results) -> String {
    let header: Vec<String> = ["program".to_string()]
        .into_iter()
        .chain(WAIT_POOLS.iter().map(|w| format!("W = {w} (ideal {:.1} s)", ideal(*w))))
        .collect();
    let mut t = Table::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for name in names(&r.wait) {
        let cells = WAIT_POOLS.iter().map(|&w| {
            let point = r.wait.iter().find(|p| p.program == name && p.workers == Some(w));
            cell(point, |p| Some(format!("{:.3} s ({:.2} ×)", p.wall_s?, p.wall_s? / ideal(w))))
        });
        t.push([format!("`{name}`")].into_iter().chain(cells).collect());
    }
    t.render()
}

fn ideal(w: u32) -> f64 {
    f64::from(WAIT_N.div_ceil(w)) * WAIT_MS as f64 / 1000.0
}

/// A connection per task, under and past max_connections: time, failures, the first error.
fn unpooled_table(r: &Results) -> String {
    let mut t = Table::headed("program | N | wall | failed | exit | the first error");
    for &n in &UNPOOLED {
        for p in r.unpooled.iter().filter(|p| p.n == n) {
            let exit = if p.ok() {
                "0".into()
            } else {
                short(&p.status, 60).split(':').next().unwrap_or("").to_string()
            };
            t.push(vec![
                format!("`{}`", p.program),
                n.to_string(),
                p.wall_s.map_or(DASH.into(), |w| format!("{w:.3} s")),
                p.failed.map_or(DASH.into(), |f| f.to_string()),
                exit,
                p.first_error.as_deref().map_or(DASH.into(), |e| short(e, 60)),
            ]);
        }
    }
    t.render()
}

/// Queries a second at each W, one row a program, pgbench first; CPU µs a query at W = 10.
fn rate_table(points: &[Point]) -> String {
    let header: Vec<String> = ["program".to_string()]
        .into_iter()
        .chain(POOLS.iter().map(|w| format!("W = {w}")))
        .chain(["÷ pgbench at W = 10".into(), "client CPU a query, W = 10".into()])
        .collect();
    let mut t = Table::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
    let anchor = qps_of(points, "pgbench", 10);
    for name in names(points) {
        let mut cells: Vec<String> = POOLS
            .iter()
            .map(|&w| {
                let point = points.iter().find(|p| p.program == name && p.workers == Some(w));
                cell(point, |p| p.qps.map(kilo))
            })
            .collect();
        let ten = at(points, &name, Some(10));
        cells.push(match (ten.and_then(|p| p.qps), anchor) {
            (Some(q), Some(a)) => format!("{:.2}", q / a),
            _ => DASH.into(),
        });
        cells.push(
            ten.and_then(|p| p.cpu_us_per_query).map_or(DASH.into(), |c| format!("{c:.1} µs")),
        );
        t.push([format!("`{name}`")].into_iter().chain(cells).collect());
    }
    t.render()
}

/// (case, target, measured, met?) for each of the targets, and the asyncpg claim.
fn verdicts(r: &Results) -> Vec<Verdict> {
    let mut out = Vec::new();
    // 1. The pool at W = 90 against the ideal.
    let rust = crate::programs::models();
    let worst = rust
        .iter()
        .filter_map(|n| Some((*n, at(&r.wait, n, Some(90))?.wall_s? / ideal(90))))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let all_ran = rust[1..].iter().all(|n| at(&r.wait, n, Some(90)).is_some());
    out.push(Verdict {
        case: format!("N = {WAIT_N} × {WAIT_MS} ms, pool W = 90"),
        target: format!("every Rust model ≤ 1.05 × the ideal ({:.1} s)", ideal(90)),
        measured: worst.map_or(DASH.into(), |(n, x)| format!("worst `{n}`, {x:.3} ×")),
        met: worst.map(|(_, x)| all_ran && x <= 1.05),
    });
    // 2. The event loops against pgbench at W = 10: speed and client CPU.
    let pg = at(&r.reads, "pgbench", Some(10));
    let loops: Vec<(&str, f64, f64)> = LOOPS
        .iter()
        .filter_map(|n| {
            let p = at(&r.reads, n, Some(10))?;
            Some((*n, p.qps?, p.cpu_us_per_query?))
        })
        .collect();
    let (pg_qps, pg_cpu) = (pg.and_then(|p| p.qps), pg.and_then(|p| p.cpu_us_per_query));
    let measured = match (pg_qps, pg_cpu) {
        (Some(q), Some(c)) => loops
            .iter()
            .map(|(n, lq, lc)| format!("`{n}` {:.2} × ({lc:.1} µs a query)", lq / q))
            .chain([format!("pgbench {c:.1} µs a query")])
            .collect::<Vec<_>>()
            .join(", "),
        _ => DASH.into(),
    };
    let met = match (pg_qps, pg_cpu) {
        (Some(q), Some(c)) if loops.len() == LOOPS.len() => {
            Some(loops.iter().all(|(_, lq, lc)| *lq >= 0.9 * q && *lc <= c))
        }
        _ => None,
    };
    out.push(Verdict {
        case: "point selects, W = 10".into(),
        target: "every Rust event loop ≥ 0.9 × pgbench's TPS at 10 clients, with no more client CPU a query".into(),
        measured,
        met,
    });
    // 3. A connection per task past max_connections.
    let past: Vec<&Point> =
        r.unpooled.iter().filter(|p| p.n == 200 && crate::programs::is_rust(&p.program)).collect();
    let named = past.iter().all(|p| {
        p.status.starts_with("exit 1")
            && p.first_error.as_deref().is_some_and(|e| e.contains("max_connections"))
    });
    out.push(Verdict {
        case: "one connection per task, N = 200".into(),
        target: format!(
            "the first failure names max_connections ({}); nothing hangs; exit 1",
            r.max_connections
        ),
        measured: format!(
            "{} of {} Rust models exit 1 naming it",
            past.iter()
                .filter(|p| p.status.starts_with("exit 1")
                    && p.first_error.as_deref().is_some_and(|e| e.contains("max_connections")))
                .count(),
            past.len()
        ),
        met: (!past.is_empty()).then_some(named),
    });
    // The claim asyncpg makes: "on average 5× faster than psycopg3", at equal W.
    for w in [10, 50] {
        let (a, p) = (qps_of(&r.reads, "py-asyncio", w), qps_of(&r.reads, "py-threads", w));
        out.push(Verdict {
            case: format!("asyncpg's claim, point selects, W = {w}"),
            target: "asyncpg (`py-asyncio`) ≥ 5 × psycopg 3 (`py-threads`), as asyncpg says".into(),
            measured: match (a, p) {
                (Some(a), Some(p)) => {
                    format!("{:.2} × ({} against {} queries/s)", a / p, kilo(a), kilo(p))
                }
                _ => DASH.into(),
            },
            met: a.zip(p).map(|(a, p)| a >= 5.0 * p),
        });
    }
    out
}

/// How to size a pool, said from the figures.
fn readings(r: &Results) -> String {
    let mut out = Vec::new();
    let best = |points: &[Point], program: &str| {
        POOLS
            .iter()
            .filter_map(|&w| Some((w, qps_of(points, program, w)?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    };
    if let Some((w, q)) = best(&r.reads, "pgbench") {
        let at50 = qps_of(&r.reads, "pgbench", 50);
        out.push(format!(
            "- **Reads that do not wait**: the server's ceiling, pgbench's, is highest at W = {w} ({} queries/s){}. A pool past the server's cores adds backends that only take turns on them: size it near the server's cores, a few times over, not to the number of tasks.",
            kilo(q),
            at50.map_or(String::new(), |x| format!("; at W = 50 it is {} ({:.2} ×)", kilo(x), x / q))
        ));
    }
    let waits: Vec<String> = WAIT_POOLS
        .iter()
        .filter_map(|&w| {
            Some(format!("{:.2} s at W = {w}", at(&r.wait, "epoll", Some(w))?.wall_s?))
        })
        .collect();
    if !waits.is_empty() {
        out.push(format!(
            "- **Queries that wait** in the server (locks, I/O, `pg_sleep`) hold a connection without using a core: the time is ⌈N / W⌉ × the wait, so W is the concurrency you need, N × wait / deadline. `epoll` takes {} for {WAIT_N} queries of {WAIT_MS} ms.",
            waits.join(", ")
        ));
    }
    let refused: Vec<String> = r
        .unpooled
        .iter()
        .filter(|p| p.n == 200)
        .filter_map(|p| Some(format!("`{}` {}", p.program, p.failed?)))
        .collect();
    if !refused.is_empty() {
        out.push(format!(
            "- **The ceiling is max_connections** ({}): a connection per task at N = 200, each held {UNPOOLED_MS} ms, loses the tasks past it — failed: {}. A pool keeps under it however many tasks there are; the tasks wait for a connection instead of failing.",
            r.max_connections,
            refused.join(", ")
        ));
    }
    let one = qps_of(&r.reads, "pgbench", 1);
    if let (Some(c), Some(one)) = (r.connect.as_ref().filter(|p| p.ok()).and_then(|p| p.qps), one) {
        let cost = 1000.0 / c - 1000.0 / one;
        out.push(format!(
            "- **A connection costs the server {cost:.1} ms** of its core (pgbench with a connection per select does {} a second, against {} on one kept connection): a pool opened with the run pays it W times before its first answers — {:.2} s of the server's one core at W = 90 — and a connection per task pays it every time.",
            kilo(c),
            kilo(one),
            90.0 * cost / 1000.0
        ));
    }
    if let (Some((w, q)), Some(one)) = (best(&r.writes, "pgbench"), qps_of(&r.writes, "pgbench", 1))
    {
        out.push(format!(
            "- **Durable writes** wait for the WAL's flush; with more connections the server flushes several commits at once: pgbench does {} updates/s at W = 1 and {} at W = {w} ({:.1} ×).",
            kilo(one),
            kilo(q),
            q / one
        ));
    }
    out.join("\n") + "\n"
}

/// Two plots of queries a second against W: the Rust models, and the peers, beside pgbench.
fn plots(r: &Results) -> [(&'static str, String); 2] {
    let [rust, peers] = models_and_peers(
        |who| format!("Point selects on PostgreSQL: {who} beside pgbench (dashed)"),
        ("connections (W)", "queries/s"),
        &names(&r.reads),
        &["pgbench"],
        |name| {
            let ran = r.reads.iter().filter(|p| p.program == name && p.ok());
            ran.filter_map(|p| Some((f64::from(p.workers?), p.qps?))).collect()
        },
    );
    [("qps-rust.svg", rust), ("qps-peers.svg", peers)]
}

/// results/db/README.md and the plots.
/// Every slot of the page and of the README section.
fn values(r: &Results) -> crate::suite::Slots {
    let pinned = match r.pinned {
        true => "pinned to one core, the clients to the other",
        false => "unpinned (one core)",
    };
    vec![
        ("facts", crate::facts::markdown_of_json(&r.facts)),
        ("pinned", pinned.into()),
        ("max_connections", r.max_connections.to_string()),
        ("rows", r.rows.to_string()),
        ("wait", wait_table(r)),
        ("unpooled", unpooled_table(r)),
        ("reads", rate_table(&r.reads)),
        ("writes", rate_table(&r.writes)),
        ("verdicts", verdict_table(verdicts(r))),
        ("readings", readings(r)),
    ]
}

/// results/db/README.md (page.md, and the plots) and the README's section (readme.md).
pub const TEMPLATES: Templates<Results> =
    Templates::new(include_str!("page.md"), include_str!("readme.md"), |r| {
        Drawn::new(values(r), plots(r))
    });
