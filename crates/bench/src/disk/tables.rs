//! The disk benchmark's tables, plots, targets and readings, from `disk.json` alone: the
//! results page, and the README's section.

use super::{Point, Results, DEPTHS, WARM_DEPTH};
use crate::suite::{Drawn, Templates};
use crate::svg::models_and_peers;
use crate::table::{names, short, verdict_table, Table, Verdict, DASH};

/// The point of `program` at `depth` in `points`, if it ran.
fn at<'a>(points: &'a [Point], program: &str, depth: u32) -> Option<&'a Point> {
    points.iter().find(|p| p.program == program && p.depth == depth && p.ok())
}

fn iops_of(points: &[Point], program: &str, depth: u32) -> Option<f64> {
    at(points, program, depth)?.iops
}

fn kilo(iops: f64) -> String {
    format!("{:.1}k", iops / 1000.0)
}

fn ms(v: Option<f64>) -> String {
    v.map_or(DASH.into(), |v| format!("{v:.3} ms"))
}

/// The programs in the order they ran, fio's first.
/// IOPS at each depth, one row a program; a cell says why where a program did not run.
fn curve_table(r: &Results) -> String {
    let depths: Vec<u32> =
        DEPTHS.into_iter().filter(|d| r.curve.iter().any(|p| p.depth == *d)).collect();
    let header: Vec<String> = ["program".to_string()]
        .into_iter()
        .chain(depths.iter().map(|d| format!("W = {d}")))
        .collect();
    let mut t = Table::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for name in names(&r.curve) {
        let cells = depths.iter().map(|&d| {
            match r.curve.iter().find(|p| p.program == name && p.depth == d) {
                None => DASH.to_string(),
                Some(p) if p.ok() => p.iops.map_or(DASH.into(), kilo),
                Some(p) => format!("{} ({})", DASH, short(&p.status, 70)),
            }
        });
        t.push([format!("`{name}`")].into_iter().chain(cells).collect());
    }
    t.render()
}

/// Each program at one depth: IOPS, against fio's io_uring, latency, threads, CPU.
fn depth_table(r: &Results, depth: u32) -> String {
    let fio = iops_of(&r.curve, "fio io_uring", depth);
    let mut t =
        Table::headed("program | IOPS | ÷ fio io_uring | p50 | p99 | in the device, mean | peak threads | CPU per read");
    for name in names(&r.curve) {
        let Some(p) = r.curve.iter().find(|p| p.program == name && p.depth == depth) else {
            continue;
        };
        t.push(vec![
            format!("`{name}`"),
            if p.ok() { p.iops.map_or(DASH.into(), kilo) } else { short(&p.status, 70) },
            match (p.iops.filter(|_| p.ok()), fio) {
                (Some(a), Some(b)) => format!("{:.2}", a / b),
                _ => DASH.into(),
            },
            ms(p.p50_ms),
            ms(p.p99_ms),
            ms(p.device_ms.filter(|_| p.ok())),
            p.peak_threads.map_or(DASH.into(), |t| t.to_string()),
            p.cpu_us_per_op.map_or(DASH.into(), |c| format!("{c:.1} µs")),
        ]);
    }
    t.render()
}

/// Warm cache: what a read costs each program when the device is out of the picture.
fn warm_table(r: &Results) -> String {
    let mut t = Table::headed("program | W | IOPS | p50 | p99 | CPU per read | peak threads");
    for p in &r.warm {
        t.push(vec![
            format!("`{}`", p.program),
            p.depth.to_string(),
            if p.ok() { p.iops.map_or(DASH.into(), kilo) } else { short(&p.status, 70) },
            ms(p.p50_ms),
            ms(p.p99_ms),
            p.cpu_us_per_op.map_or(DASH.into(), |c| format!("{c:.1} µs")),
            p.peak_threads.map_or(DASH.into(), |t| t.to_string()),
        ]);
    }
    t.render()
}

/// N reads with each program's defaults: where each stops, and what it held.
fn scale_table(r: &Results) -> String {
    let mut t =
        Table::headed("program | N | ok | IOPS | p50 | peak threads | peak memory | what happened");
    for p in &r.scale {
        let report = p.report.as_ref();
        t.push(vec![
            format!("`{}`", p.program),
            p.n.to_string(),
            report.map_or(DASH.into(), |r| r.ok.to_string()),
            p.iops.map_or(DASH.into(), kilo),
            ms(p.p50_ms),
            p.peak_threads.map_or(DASH.into(), |t| t.to_string()),
            p.max_rss_kib.map_or(DASH.into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
            match report.and_then(|r| r.first_error.as_deref()) {
                Some(e) => short(e, 70),
                None => short(&p.status, 70),
            },
        ]);
    }
    t.render()
}

/// examples/registered.rs: each variant's IOPS in each round, and its median against plain's.
fn registered_table(r: &Results) -> String {
    if r.registered.is_empty() {
        return format!("Not measured: {}.\n", r.registered_note.as_deref().unwrap_or("no rounds"));
    }
    let median = |variant: &str| {
        crate::stats::median(r.registered.iter().filter(|x| x.variant == variant).map(|x| x.iops))
    };
    let plain = median("plain");
    let mut t = Table::headed("variant | IOPS, each round | median | ÷ plain");
    for v in crate::table::in_order(r.registered.iter().map(|x| x.variant.as_str())) {
        let v = v.as_str();
        let rounds: Vec<String> =
            r.registered.iter().filter(|x| x.variant == v).map(|x| kilo(x.iops)).collect();
        t.push(vec![
            v.to_string(),
            rounds.join(", "),
            median(v).map_or(DASH.into(), kilo),
            median(v).zip(plain).map_or(DASH.into(), |(m, p)| format!("{:.3}", m / p)),
        ]);
    }
    t.render()
}

/// The targets, judged from the run: (case, target, measured, met).
fn verdicts(r: &Results) -> Vec<Verdict> {
    let c = &r.curve;
    let ratio = |a: &str, da: u32, b: &str, db: u32, floor: f64, case: &str, target: &str| {
        let (x, y) = (iops_of(c, a, da), iops_of(c, b, db));
        let measured = match (x, y) {
            (Some(x), Some(y)) => format!("{} ÷ {} = {:.2}", kilo(x), kilo(y), x / y),
            _ => "not measured".into(),
        };
        let met = x.zip(y).map(|(x, y)| x / y >= floor);
        Verdict { case: case.to_string(), target: target.to_string(), measured, met }
    };
    let mut v = vec![
        ratio(
            "ring",
            64,
            "fio io_uring",
            64,
            0.9,
            "`ring`, W = 64",
            "≥ 0.9 × fio io_uring at iodepth 64",
        ),
        ratio(
            "uring",
            64,
            "fio io_uring",
            64,
            0.8,
            "`uring`, W = 64",
            "≥ 0.8 × fio io_uring at iodepth 64",
        ),
        ratio(
            "monoio",
            64,
            "fio io_uring",
            64,
            0.8,
            "`monoio`, W = 64",
            "≥ 0.8 × fio io_uring at iodepth 64",
        ),
        ratio(
            "threads",
            64,
            "fio psync",
            64,
            0.9,
            "`threads`, W = 64",
            "≥ 0.9 × fio psync, 64 threads",
        ),
        ratio("serial", 1, "fio io_uring", 1, 0.9, "`serial`", "≥ 0.9 × fio io_uring at iodepth 1"),
    ];
    let (e, n) = (iops_of(c, "epoll", 4), iops_of(c, "node-promises", 4));
    v.push(Verdict {
        case: "`epoll --workers 4` and `node-promises`".into(),
        target: "within 15 % of each other".into(),
        measured: match (e, n) {
            (Some(e), Some(n)) => format!(
                "{} and {}: {:.0} % apart",
                kilo(e),
                kilo(n),
                (e - n).abs() / e.max(n) * 100.0
            ),
            _ => "not measured".into(),
        },
        met: e.zip(n).map(|(e, n)| (e - n).abs() / e.max(n) <= 0.15),
    });
    let ring = r.scale.iter().find(|p| p.program == "ring" && p.n == 10_000);
    let (measured, met) = match ring.and_then(|p| Some((p, p.report.as_ref()?))) {
        Some((p, rep)) => {
            let bound = 10_000 * u64::from(r.bytes) / 1024 + 16 * 1024;
            (
                format!(
                    "{} threads at peak ({} beside the main one); peak RSS {:.1} MiB against {:.1} MiB; {}",
                    rep.peak_threads,
                    rep.peak_threads.saturating_sub(1),
                    rep.max_rss_kib as f64 / 1024.0,
                    bound as f64 / 1024.0,
                    p.status
                ),
                Some(p.ok() && rep.max_rss_kib <= bound),
            )
        }
        None => ("not measured".into(), None),
    };
    v.push(Verdict {
        case: "`ring`, N = W = 10,000".into(),
        target: "no thread of its own beyond the main one; peak RSS ≤ N × 4 KiB + 16 MiB".into(),
        measured,
        met,
    });
    v
}

/// The runtimes on an io_uring, and when each says, in its source, that it hands its queued
/// entries to the kernel; `submits.rs` measures what that does.
const RUNTIMES_ON_A_RING: [(&str, &str); 2] = [
    ("uring", "tokio-uring submits its queued entries once a turn of its runtime, when it parks"),
    ("monoio", "monoio submits once a turn too, when it parks (\"we will submit on `park`\", its driver says)"),
];

/// Where a read's time goes at W = 64 in `name`, against `ring`: in flight a read takes
/// W ÷ IOPS on average (Little's law), of which the device's counters account for
/// `device_ms`; the rest it waits in the program, between its entry and the kernel's taking
/// it, or between its completion and the program's seeing it. Then, where the run traced
/// them, how each handed its reads to the kernel (`submits.rs`).
fn outside_the_device(r: &Results, name: &str, turn: &str) -> Option<String> {
    let c = &r.curve;
    let (p, g) = (at(c, name, 64)?, at(c, "ring", 64)?);
    let in_flight = |p: &Point| Some(64.0 / p.iops? * 1000.0);
    let (pf, gf) = (in_flight(p)?, in_flight(g)?);
    let (pd, gd) = (p.device_ms?, g.device_ms?);
    let mut line = format!(
        "- With 64 reads in flight, `{name}` does {} IOPS and `ring` {}. A read is in flight {pf:.3} ms on average (64 ÷ IOPS) against {gf:.3}: the device holds it {pd:.3} ms against {gd:.3}, and the program {:.3} ms against {:.3}, between its entry and the kernel's taking it or its completion and the program's seeing it.",
        kilo(p.iops?),
        kilo(g.iops?),
        pf - pd,
        gf - gd,
    );
    let traced = |n: &str| r.submits.iter().find(|s| s.program == n);
    if let (Some(ps), Some(gs)) = (traced(name), traced("ring")) {
        let (Some(per), Some(ring_per)) = (ps.per_submit(), gs.per_submit()) else {
            return Some(line);
        };
        line += &format!(
            " {turn}: under strace, its `io_uring_enter` calls that submitted handed the kernel {per:.1} reads each, and {} of {} handed it all {}, none in flight before them, so its reads reach the device in bursts; `ring`'s handed it {ring_per:.1} each.",
            ps.whole_depth,
            ps.calls - ps.empty,
            super::submits::DEPTH,
        );
    }
    Some(line)
}

/// How each program on an io_uring handed its reads to the kernel at depth 64.
fn submits_table(r: &Results) -> String {
    if r.submits.is_empty() {
        return "Not traced in this run.\n".into();
    }
    let mut t = Table::headed(
        "program | `io_uring_enter` calls | that submitted | reads a submitting call | calls that submitted all 64",
    );
    for s in &r.submits {
        t.push(vec![
            format!("`{}`", s.program),
            s.calls.to_string(),
            (s.calls - s.empty).to_string(),
            s.per_submit().map_or(DASH.into(), |n| format!("{n:.1}")),
            s.whole_depth.to_string(),
        ]);
    }
    t.render()
}

/// What Node's profiler says of its main thread: the shares, and whether its loop is busy
/// enough to be what its reads wait for (idle under a tenth of the run: the line drawn here)
/// or not.
fn node_reading(p: &super::node_profile::Profile) -> String {
    use super::node_profile::In;
    let pct = |i: In| format!("{:.0} %", p.share(i) * 100.0);
    let busy = p.share(In::Idle) < 0.1;
    let verdict = if busy {
        "its one loop, not its 4 threads, is what the reads wait for"
    } else {
        "its loop is not saturated, so it is not what holds the reads back"
    };
    format!(
        " Node's own profiler (`--cpu-prof`) puts its main thread {} {}, {} {}, {} {}, {} {} and {} {}: {verdict}.",
        pct(In::Idle),
        In::Idle.words(),
        pct(In::FsPromises),
        In::FsPromises.words(),
        pct(In::GarbageCollector),
        In::GarbageCollector.words(),
        pct(In::Peer),
        In::Peer.words(),
        pct(In::RestOfNode),
        In::RestOfNode.words(),
    )
}

/// What the figures say, each sentence computed from them.
fn readings(r: &Results) -> String {
    let c = &r.curve;
    let mut out = Vec::new();
    let rust = crate::programs::models();
    let best_at = |depth: u32| {
        rust.iter()
            .filter_map(|n| Some((*n, iops_of(c, n, depth)?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    };
    if let (Some((name, iops)), Some(fio)) = (best_at(64), iops_of(c, "fio io_uring", 64)) {
        out.push(format!(
            "- At 64 reads in flight the fastest Rust model is `{name}`, at {} IOPS: {:.2} × fio's io_uring on the same file.",
            kilo(iops),
            iops / fio
        ));
    }
    let cpu = |points: &[Point], n: &str, d: u32| at(points, n, d)?.cpu_us_per_op;
    if let (Some(t), Some(g)) = (cpu(c, "threads", 64), cpu(c, "ring", 64)) {
        out.push(format!(
            "- For the same reads at W = 64, `threads` spends {t:.1} µs of CPU a read and `ring` {g:.1} µs: {:.1} × as much, for the thread switches a blocking `pread` costs.",
            t / g
        ));
    }
    if let (Some(e), Some(n)) = (at(c, "epoll", 4), at(c, "node-promises", 4)) {
        if let (Some(ei), Some(ni), Some(ec), Some(nc)) =
            (e.iops, n.iops, e.cpu_us_per_op, n.cpu_us_per_op)
        {
            let mut line = format!(
                "- `epoll` and `node-promises` read on 4 threads each, the same design, yet at W = 4 `epoll` does {} IOPS and Node {}: Node spends {nc:.1} µs of CPU a read against {ec:.1} µs.",
                kilo(ei),
                kilo(ni)
            );
            if let Some(Ok(p)) = &r.node_profile {
                line += &node_reading(p);
            }
            out.push(line);
        }
    }
    for (name, turn) in RUNTIMES_ON_A_RING {
        if let Some(line) = outside_the_device(r, name, turn) {
            out.push(line);
        }
    }
    if let (Some(four), Some(deep)) = (iops_of(c, "epoll", 4), iops_of(c, "ring", 64)) {
        out.push(format!(
            "- A readiness loop is as fast as its file threads: `epoll` with libuv's 4 does {} IOPS, where `ring` with 64 reads in flight does {} ({:.1} ×).",
            kilo(four),
            kilo(deep),
            deep / four
        ));
    }
    let warm_best = r
        .warm
        .iter()
        .filter(|p| p.ok() && rust.contains(&p.program.as_str()))
        .filter_map(|p| Some((p, p.cpu_us_per_op?)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((p, us)) = warm_best {
        out.push(format!(
            "- With the file in the page cache, the cheapest read is `{}`'s, {us:.1} µs of CPU each at W = {}.",
            p.program, p.depth
        ));
    }
    out.join("\n") + "\n"
}

/// Two plots of IOPS against depth: the Rust models beside fio, and the peers beside fio.
fn plots(r: &Results) -> [(&'static str, String); 2] {
    let names = names(&r.curve);
    let fio: Vec<&str> =
        names.iter().map(String::as_str).filter(|n| n.starts_with("fio ")).collect();
    let [rust, peers] = models_and_peers(
        |who| format!("4 KiB random reads, O_DIRECT: {who} beside fio (dashed)"),
        ("reads in flight (W)", "IOPS"),
        &names,
        &fio,
        |name| {
            let ran = r.curve.iter().filter(|p| p.program == name && p.ok());
            ran.filter_map(|p| Some((f64::from(p.depth), p.iops?))).collect()
        },
    );
    [("iops-rust.svg", rust), ("iops-peers.svg", peers)]
}

/// results/disk/README.md and the plots.
/// Every slot of the page and of the README section.
fn values(r: &Results) -> crate::suite::Slots {
    vec![
        ("facts", crate::facts::markdown_of_json(&r.facts)),
        ("file", format!("{} ({} bytes)", r.file, r.file_size)),
        ("curve", curve_table(r)),
        ("depth64", depth_table(r, 64)),
        ("warm", warm_table(r)),
        ("warm_depth", WARM_DEPTH.to_string()),
        ("scale", scale_table(r)),
        ("registered", registered_table(r)),
        ("submits", submits_table(r)),
        ("verdicts", verdict_table(verdicts(r))),
        ("readings", readings(r)),
    ]
}

/// results/disk/README.md (page.md, and the plots) and the README's section (readme.md).
pub const TEMPLATES: Templates<Results> =
    Templates::new(include_str!("page.md"), include_str!("readme.md"), |r| {
        Drawn::new(values(r), plots(r))
    });
