//! The brigade's tables, plots, target verdicts and the article's claims judged, from
//! `brigade.json` alone.

use super::{Point, Results, JUDGED_AT, RUST};
use crate::suite::{Drawn, Templates};
use crate::svg::{loglog, Series};
use crate::table::{names, short, verdict_table, Table, Verdict, DASH};

fn at<'a>(r: &'a Results, program: &str, n: u32, pinned: bool) -> Option<&'a Point> {
    r.points.iter().find(|p| p.program == program && p.n == n && p.pinned == pinned)
}

/// The programs whose hand-off goes through a pipe, as the baseline's does: for them, the
/// time above the baseline is the switch alone.
const PIPED: [&str; 8] = [
    "procs",
    "threads --pipes",
    "epoll",
    "uring",
    "ring",
    "monoio",
    "monoio --workers 1",
    "py-processes",
];

fn ns_at(r: &Results, program: &str, n: u32, pinned: bool) -> Option<f64> {
    at(r, program, n, pinned)?.ns()
}

fn sizes(r: &Results) -> Vec<u32> {
    let mut sizes: Vec<u32> = r.points.iter().map(|p| p.n).collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

fn ns(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} µs", v / 1000.0)
    } else {
        format!("{v:.0} ns")
    }
}

/// Nanoseconds a hand-off against N, one row a program.
fn curve_table(r: &Results, pinned: bool) -> String {
    let sizes = sizes(r);
    let header: Vec<String> =
        ["program".into()].into_iter().chain(sizes.iter().map(|n| format!("N = {n}"))).collect();
    let mut t = Table::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for name in names(&r.points) {
        let cells = sizes.iter().map(|&n| match at(r, &name, n, pinned) {
            None => DASH.into(),
            Some(p) => p.ns().map_or_else(|| format!("{DASH} ({})", short(&p.status, 60)), ns),
        });
        t.push([format!("`{name}`")].into_iter().chain(cells).collect());
    }
    t.render()
}

/// At the judged N: the hand-off's cost, its part above the baseline, its switches, and its
/// CPU time each side of the kernel's line.
fn judged_table(r: &Results, pinned: bool) -> String {
    // The no-switch baseline of the row's runtime: Python's own, else the Rust one.
    let base = |name: &str| match crate::programs::runtime_of(name) {
        Ok("python") => "py-serial",
        _ => "serial",
    };
    let mut t = Table::headed(
        "program | a hand-off | the switch alone | voluntary switches | \
        involuntary switches | user | sys",
    );
    for name in names(&r.points) {
        let Some(p) = at(r, &name, JUDGED_AT, pinned) else { continue };
        let Some(b) = p.report.as_ref().and_then(|rep| rep.brigade).filter(|_| p.ok()) else {
            t.push_without_figures(vec![format!("`{name}`"), short(&p.status, 60)]);
            continue;
        };
        let above = match ns_at(r, base(&name), JUDGED_AT, pinned) {
            Some(baseline) if PIPED.contains(&name.as_str()) => ns(b.ns_per_handoff - baseline),
            _ => DASH.into(),
        };
        t.push(vec![
            format!("`{name}`"),
            ns(b.ns_per_handoff),
            above,
            format!("{:.2}", b.voluntary_per_handoff),
            format!("{:.2}", b.involuntary_per_handoff),
            ns(b.user_ns_per_handoff),
            ns(b.sys_ns_per_handoff),
        ]);
    }
    t.render()
}

/// The target: `tokio` (one worker) and `epoll` at most half of `threads`' time a hand-off.
fn verdicts(r: &Results) -> String {
    let mut verdicts = Vec::new();
    let threads = ns_at(r, "threads", JUDGED_AT, false);
    for name in ["tokio --workers 1", "epoll"] {
        let got = ns_at(r, name, JUDGED_AT, false);
        let (measured, met) = match (got, threads) {
            (Some(g), Some(th)) => {
                (format!("{} ÷ {} = {:.2}", ns(g), ns(th), g / th), Some(g / th <= 0.5))
            }
            _ => ("not measured".into(), None),
        };
        verdicts.push(Verdict {
            case: format!("`{name}`, N = {JUDGED_AT}, unpinned"),
            target: "≤ 0.5 × `threads`' time a hand-off".into(),
            measured,
            met,
        });
    }
    verdict_table(verdicts)
}

/// The article's claims 1 and 2, judged from the unpinned run at the judged N.
fn claims(r: &Results) -> String {
    let figure = |name: &str| {
        at(r, name, JUDGED_AT, false).filter(|p| p.ok()).and_then(|p| p.report.as_ref()?.brigade)
    };
    let blocking =
        ["threads", "threads --pipes", "procs", "py-threads", "py-processes", "java-threads"];
    // Virtual threads are threads to their code and coroutines to the kernel: judged here as
    // what they claim to be, switched in user mode.
    let coroutines = [
        "tokio --workers 1",
        "py-asyncio",
        "py-uvloop",
        "go-goroutines",
        "node-promises",
        "java-virtual",
    ];
    let through_io = ["epoll", "uring", "ring", "monoio --workers 1"];
    let range = |names: &[&str],
                 f: &dyn Fn(&workload::report::Brigade) -> f64,
                 unit: &dyn Fn(f64) -> String| {
        let v: Vec<(String, f64)> =
            names.iter().filter_map(|n| Some((n.to_string(), f(&figure(n)?)))).collect();
        let text =
            v.iter().map(|(n, x)| format!("`{n}` {}", unit(*x))).collect::<Vec<_>>().join(", ");
        let (lo, hi) =
            v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), (_, x)| (lo.min(*x), hi.max(*x)));
        (text, lo, hi, !v.is_empty())
    };
    let switches =
        |b: &workload::report::Brigade| b.voluntary_per_handoff + b.involuntary_per_handoff;
    let two = |x: f64| format!("{x:.2}");
    let (b_text, b_lo, _, b_ok) = range(&blocking, &switches, &two);
    let (c_text, _, c_hi, c_ok) = range(&coroutines, &switches, &two);
    let (i_text, _, i_hi, i_ok) = range(&through_io, &switches, &two);
    let mut out = String::new();
    if b_ok && c_ok {
        let holds = b_lo >= 0.5 && c_hi <= 0.1;
        out += &format!(
            "- **Claim 1, \"processes and threads will have CPU context switching\": {}.** Context switches a hand-off at N = {JUDGED_AT}: {b_text} for the threads and processes; {c_text} for the coroutines{}.\n",
            if holds { "holds" } else { "does not hold as stated" },
            if i_ok { format!(", and {i_text} for the one-thread loops whose hand-off is a pipe") } else { String::new() },
        );
        let _ = i_hi;
    }
    let sys_share = |b: &workload::report::Brigade| {
        b.sys_ns_per_handoff / (b.user_ns_per_handoff + b.sys_ns_per_handoff).max(1e-9) * 100.0
    };
    let pct = |x: f64| format!("{x:.0} %");
    let (b_text, b_lo, _, b_ok) = range(&blocking, &sys_share, &pct);
    let (c_text, _, c_hi, c_ok) = range(&coroutines, &sys_share, &pct);
    let (i_text, i_lo, _, i_ok) = range(&through_io, &sys_share, &pct);
    if b_ok && c_ok && i_ok {
        out += &format!(
            "- **Claim 2, \"the coroutine is transparent to the kernel and only runs in user mode\": {}.** The share of CPU time spent in the kernel at N = {JUDGED_AT}: {b_text} for the threads and processes; {c_text} for the coroutines whose hand-off is a channel; {i_text} for the one-thread loops whose hand-off is a pipe{}.\n",
            if b_lo > c_hi && i_lo > c_hi { "holds for the hand-off, not for the model" } else { "does not hold as stated" },
            if i_lo > c_hi { ": a coroutine stays in user mode only when what it waits on does" } else { "" },
        );
    }
    if out.is_empty() {
        out = "Not judged: the run lacks the rows the claims need.\n".into();
    }
    out + &loom(r)
}

/// Loom's hand-off: `java-virtual`'s time a hand-off against `java-threads`' (the same code
/// on platform threads), and against tokio's one worker and Go's goroutines.
fn loom(r: &Results) -> String {
    let Some(virt) = ns_at(r, "java-virtual", JUDGED_AT, false) else { return String::new() };
    let against: Vec<String> = ["java-threads", "tokio --workers 1", "go-goroutines"]
        .iter()
        .filter_map(|name| {
            let other = ns_at(r, name, JUDGED_AT, false)?;
            Some(format!("÷ `{name}`'s {} = {:.2}", ns(other), virt / other))
        })
        .collect();
    format!(
        "- **Loom**: `java-virtual` takes {} a hand-off at N = {JUDGED_AT}, unpinned; {}.\n",
        ns(virt),
        against.join(", ")
    )
}

/// Three plots of ns a hand-off against N: the Rust models unpinned, pinned, and the peers.
fn plots(r: &Results) -> [(&'static str, String); 3] {
    let series = |wanted: &dyn Fn(&str) -> bool, pinned: bool| -> Vec<Series> {
        names(&r.points)
            .into_iter()
            .filter(|n| wanted(n))
            .enumerate()
            .map(|(i, name)| Series {
                peer: crate::programs::is_serial(&name),
                color: i,
                points: r
                    .points
                    .iter()
                    .filter(|p| p.program == name && p.pinned == pinned)
                    .filter_map(|p| Some((f64::from(p.n), p.ns()?)))
                    .collect(),
                name,
            })
            .collect()
    };
    let rust = |n: &str| RUST.contains(&n);
    let title = |who: &str| format!("Brigade: {who} (dashed: the no-switch baseline)");
    [
        (
            "handoff-rust.svg",
            loglog(
                &title("the Rust models"),
                "tasks in the ring (N)",
                "ns a hand-off",
                &series(&rust, false),
            ),
        ),
        (
            "handoff-rust-pinned.svg",
            loglog(
                &title("Rust models pinned to one core"),
                "tasks in the ring (N)",
                "ns a hand-off",
                &series(&rust, true),
            ),
        ),
        (
            "handoff-peers.svg",
            loglog(
                &title("the peers"),
                "tasks in the ring (N)",
                "ns a hand-off",
                &series(&|n| !rust(n), false),
            ),
        ),
    ]
}

/// Every slot of the page and of the README section.
fn values(r: &Results) -> crate::suite::Slots {
    vec![
        ("facts", crate::facts::markdown_of_json(&r.facts)),
        ("unpinned", curve_table(r, false)),
        ("pinned", curve_table(r, true)),
        ("judged_at", JUDGED_AT.to_string()),
        ("judged", judged_table(r, false)),
        ("judged_pinned", judged_table(r, true)),
        ("verdicts", verdicts(r)),
        ("claims", claims(r)),
    ]
}

/// results/brigade/README.md (page.md, and the plots) and the README's section (readme.md).
pub const TEMPLATES: Templates<Results> =
    Templates::new(include_str!("page.md"), include_str!("readme.md"), |r| {
        Drawn::new(values(r), plots(r))
    });
