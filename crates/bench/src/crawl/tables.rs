//! The crawl benchmark's tables, plots, targets and readings, from `crawl.json` alone: the
//! results page, and the README's section.

use super::{median_latency, Point, Results, MEMORY_W, SCRAPY, TRAP_TASKS};
use crate::ladder::{costs_table, Costs, CRAWL};
use crate::stats::median;
use crate::suite::{Drawn, Templates};
use crate::svg::{loglog, Series};
use crate::table::{names, short, verdict_table, Table, Verdict, DASH};

/// The loops the CPU target names, and the latency and W of the throughput target.
const LEAN: [&str; 3] = ["epoll", "ring", "tokio"];
const TARGET_LATENCY: &str = "50ms";
const TARGET_W: u32 = 100;
/// The cost table's point: L = 0, W = 100 (the serial programs at their W = 1).
const COST_W: u32 = 100;
/// Where the pinned loops' core is full: the W the offload reading compares at.
const OFFLOAD_W: u32 = 1_000;

fn at<'a>(points: &'a [Point], program: &str, latency: &str, w: u32) -> Option<&'a Point> {
    points.iter().find(|p| p.program == program && p.latency == latency && p.at.workers == w)
}

/// The cost point of a program: L = 0 at W = 100, or its one W.
fn cost_point<'a>(r: &'a Results, program: &str) -> Option<&'a Point> {
    at(&r.sweep, program, "0", COST_W)
        .filter(|p| p.ok())
        .or_else(|| at(&r.sweep, program, "0", 1).filter(|p| p.ok() && p.at.per_host > 0))
}

fn rate(x: f64) -> String {
    match x {
        x if x >= 10_000.0 => format!("{:.0}k", x / 1000.0),
        x if x >= 1_000.0 => format!("{:.1}k", x / 1000.0),
        x => format!("{x:.0}"),
    }
}

fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

/// A cell: `shown` of the point that ran, else why it did not.
fn cell(point: Option<&Point>, shown: impl Fn(&Point) -> Option<String>) -> String {
    match point {
        None => DASH.into(),
        Some(p) if p.ok() => shown(p).unwrap_or_else(|| DASH.into()),
        Some(p) if p.status.starts_with("not run") || p.status.starts_with("one request") => {
            DASH.into()
        }
        Some(p) => format!("{DASH} ({})", short(&p.status, 50)),
    }
}

/// The W of the sweep, as run.
fn workers(r: &Results) -> Vec<u32> {
    let mut w: Vec<u32> = r.sweep.iter().map(|p| p.at.workers).collect();
    w.sort_unstable();
    w.dedup();
    w
}

fn latencies(r: &Results) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in &r.sweep {
        if !out.contains(&p.latency) {
            out.push(p.latency.clone());
        }
    }
    out
}

/// Pages a second at each W, one table for `latency`: the ideal W / L in the header.
fn sweep_table(r: &Results, latency: &str) -> String {
    let l = median_latency(latency);
    let header: Vec<String> = ["program".to_string()]
        .into_iter()
        .chain(workers(r).iter().map(|&w| match l > 0.0 {
            true => format!("W = {w} (W / L = {})", rate(f64::from(w) / l)),
            false => format!("W = {w}"),
        }))
        .collect();
    let mut t = Table::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for name in names(r.sweep.iter().filter(|p| p.latency == latency)) {
        let cells = workers(r)
            .into_iter()
            .map(|w| cell(at(&r.sweep, &name, latency, w), |p| p.pages_per_s().map(rate)));
        t.push([format!("`{name}`")].into_iter().chain(cells).collect());
    }
    t.render()
}

/// Why the programs that stopped short did: one line each.
fn stops(r: &Results) -> String {
    let mut out: Vec<String> = Vec::new();
    for name in names(&r.sweep) {
        let failed = r.sweep.iter().find(|p| {
            p.program == name && !p.ok() && !p.status.starts_with("not run") && p.at.per_host > 0
        });
        if let Some(p) = failed {
            out.push(format!(
                "- `{name}` at L = {}, W = {}: {}",
                p.latency,
                p.at.workers,
                short(&p.status, 160)
            ));
        }
    }
    match out.is_empty() {
        true => "Every program ran every point it was asked to.\n".into(),
        false => out.join("\n") + "\n",
    }
}

/// The cost of a page at L = 0: CPU, the web's CPU beside it, memory, threads, connections.
fn cost_table(r: &Results) -> String {
    let mut t = Table::headed(
        "program | W | pages/s | CPU a page (user + sys) | ÷ Scrapy's | \
        the web's CPU a URL | peak RSS (+ children) | threads | connections",
    );
    let scrapy = cost_point(r, SCRAPY).and_then(Point::cpu_us_per_page);
    for name in names(&r.sweep) {
        let Some(p) = cost_point(r, &name) else { continue };
        let cpu = p.cpu_us_per_page();
        let split = match (p.figure(&["user_s"]), p.figure(&["sys_s"])) {
            (Some(u), Some(s)) if u + s > 0.0 => format!(" ({:.0} % sys)", s / (u + s) * 100.0),
            _ => String::new(),
        };
        let num = |path: &[&str]| p.figure(path).map_or(DASH.into(), |v| format!("{v:.0}"));
        t.push(vec![
            format!("`{name}`"),
            p.at.workers.to_string(),
            p.pages_per_s().map_or(DASH.into(), rate),
            cpu.map_or(DASH.into(), |c| format!("{c:.0} µs{split}")),
            cpu.zip(scrapy).map_or(DASH.into(), |(c, s)| format!("{:.3}", c / s)),
            p.web_cpu_us_per_url().map_or(DASH.into(), |c| format!("{c:.0} µs")),
            p.rss_kib().map_or(DASH.into(), mib),
            num(&["peak_threads"]),
            num(&["crawl", "peak_connections"]),
        ]);
    }
    t.render()
}

/// Peak RSS against W at L = 50 ms, and the memory case at W = 5,000.
fn memory_table(r: &Results) -> String {
    let ws = workers(r);
    let header: Vec<String> = ["program".to_string()]
        .into_iter()
        .chain(ws.iter().map(|w| format!("W = {w}")))
        .chain([format!("W = {MEMORY_W}: pages, failed"), format!("W = {MEMORY_W}: RSS, bound")])
        .collect();
    let mut t = Table::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
    let at_latency = r.sweep.iter().filter(|p| p.latency == super::MEMORY_LATENCY);
    for name in names(at_latency.chain(&r.memory)) {
        let mut cells: Vec<String> = ws
            .iter()
            .map(|&w| cell(at(&r.sweep, &name, super::MEMORY_LATENCY, w), |p| p.rss_kib().map(mib)))
            .collect();
        let m = r.memory.iter().find(|p| p.program == name);
        cells.push(cell(m, |p| {
            Some(format!("{:.0}, {:.0}", p.figure(&["ok"])?, p.figure(&["failed"])?))
        }));
        cells.push(cell(m, |p| Some(format!("{} ≤ {}", mib(p.rss_kib()?), mib(memory_bound(p)?)))));
        t.push([format!("`{name}`")].into_iter().chain(cells).collect());
    }
    t.render()
}

/// The target's bound on peak RSS, in KiB: 32 MiB + W × 2 × the mean page size.
fn memory_bound(p: &Point) -> Option<f64> {
    let mean = p.figure(&["crawl", "bytes"])? / p.figure(&["tasks"])?.max(1.0);
    Some(32.0 * 1024.0 + f64::from(p.at.workers) * 2.0 * mean / 1024.0)
}

/// The most a URL may take under the fault profile: three tries of --timeout-ms, and two
/// waits of at most 1 s before the retries.
fn fault_bound_ms() -> f64 {
    3.0 * super::FAULT_TIMEOUT_MS as f64 + 2_000.0
}

/// Whether a fault-profile run found what its sheet says.
fn matches_sheet(p: &Point) -> Option<bool> {
    let (report, sheet) = (p.report.as_ref()?, p.sheet.as_ref()?);
    Some(
        report["checksum"] == sheet["checksum"]
            && report["ok"] == sheet["pages"]
            && report["failed"] == sheet["failed"]
            && report["crawl"]["failures"] == sheet["failures"],
    )
}

fn faults_table(r: &Results) -> String {
    let mut t = Table::headed(
        "program | pages, failed (sheet) | failures by kind | retries | \
        slowest URL | checksum = sheet",
    );
    for p in &r.faults {
        let sheet = p.sheet.as_ref();
        let kinds = |v: &serde_json::Value| {
            let kinds: Vec<String> =
                v.as_object().into_iter().flatten().map(|(k, n)| format!("{k} {n}")).collect();
            kinds.join(", ")
        };
        t.push(vec![
            format!("`{}`", p.program),
            cell(Some(p), |p| {
                let s = sheet?;
                Some(format!(
                    "{:.0}, {:.0} ({}, {})",
                    p.figure(&["ok"])?,
                    p.figure(&["failed"])?,
                    s["pages"],
                    s["failed"]
                ))
            }),
            cell(Some(p), |p| Some(kinds(&p.report.as_ref()?["crawl"]["failures"]))),
            cell(Some(p), |p| Some(format!("{:.0}", p.figure(&["crawl", "retries"])?))),
            cell(Some(p), |p| {
                Some(format!("{:.0} ms", p.figure(&["crawl", "latency_ms", "max"])?))
            }),
            cell(Some(p), |p| Some(if matches_sheet(p)? { "yes" } else { "**no**" }.into())),
        ]);
    }
    t.render()
}

/// The hand-written loops with parsing on the loop's thread and off it (`--offload`), the
/// crawler free to use both cores: pages a second, CPU a page, and each URL's time.
fn offload_table(r: &Results) -> String {
    let mut t =
        Table::headed("case | program | pages/s | CPU a page | threads | URL p50 | URL p99");
    for p in &r.offload {
        let ms = |q: &str| {
            p.figure(&["crawl", "latency_ms", q]).map_or(DASH.into(), |v| format!("{v:.1} ms"))
        };
        t.push(vec![
            format!("L = {}, W = {}", p.latency, p.at.workers),
            format!("`{}`", p.program),
            cell(Some(p), |p| p.pages_per_s().map(rate)),
            cell(Some(p), |p| p.cpu_us_per_page().map(|c| format!("{c:.0} µs"))),
            cell(Some(p), |p| Some(format!("{:.0}", p.figure(&["peak_threads"])?))),
            ms("p50"),
            ms("p99"),
        ]);
    }
    t.render()
}

/// One rung of `ring`'s crawl ladder: its medians over the rounds in which it crawled to
/// its end. CPU in µs a page.
struct RungMedians {
    pages_per_s: f64,
    costs: Costs,
}

fn rung_medians(r: &Results, rung: &str) -> Option<RungMedians> {
    let runs: Vec<&Point> =
        r.ladder.iter().filter(|p| p.rung.as_deref() == Some(rung) && p.ok()).collect();
    let of = |f: &dyn Fn(&Point) -> Option<f64>| median(runs.iter().filter_map(|p| f(p)));
    let a_page = |key: &'static str| {
        move |p: &Point| Some(p.figure(&[key])? / p.figure(&["crawl", "pages"])?.max(1.0) * 1e6)
    };
    Some(RungMedians {
        pages_per_s: of(&|p| p.pages_per_s())?,
        costs: Costs {
            user_us: of(&a_page("user_s"))?,
            sys_us: of(&a_page("sys_s"))?,
            enters: of(&|p| p.calls.as_ref().map(|c| c.io_uring_enter as f64))?,
            syscalls: of(&|p| p.calls.as_ref().map(|c| c.all as f64))?,
            rss_kib: of(&|p| p.rss_kib())?,
        },
    })
}

/// `ring`'s crawl ladder: each rung's medians over the rounds — pages a second, CPU a page,
/// the calls into the ring and in all — and what the multishot RECV changed.
fn ladder_table(r: &Results) -> String {
    if r.ladder.is_empty() {
        return "Not measured in this run: the next `make bench-crawl` runs the ladder.\n".into();
    }
    let header = "crawl path | pages/s | user a page | sys a page | CPU a page | against the rung below | io_uring_enter | all syscalls | peak memory";
    let t = costs_table(header, &CRAWL, 1, |rung| {
        let m = rung_medians(r, rung)?;
        Some((rate(m.pages_per_s), m.costs))
    });
    let rounds = r.ladder.len() / CRAWL.rungs.len();
    let (latency, w) = super::LADDER_AT;
    t.render()
        + &format!(
            "\nMedians of {rounds} rounds at L = {latency}, W = {w}, the rungs interleaved; each run's calls counted once more under strace. `ring` runs {} unless `{}` says otherwise.\n",
            CRAWL.default, CRAWL.variable
        )
}

/// What the multishot RECV changed for the crawl, from the ladder, if it ran.
fn ladder_reading(r: &Results) -> Option<String> {
    let (one, multi) = (rung_medians(r, "one-shot")?, rung_medians(r, "multishot-recv")?);
    let cpu = |m: &RungMedians| m.costs.cpu_us();
    let (latency, w) = super::LADDER_AT;
    Some(format!(
        "- **One multishot RECV a connection** (`ring`, L = {latency}, W = {w}): {:.1} µs of CPU a page against {:.1} µs with a RECV posted for each read ({:+.1} %), {:.0} `io_uring_enter` calls a run against {:.0}, and {} pages/s against {}. A page of a median near 16 KiB may need more than one read of a 16 KiB buffer, and the one-shot rung posts an entry for each, after the request's SEND has completed; multishot, each arrival is a completion and no entry.",
        cpu(&multi),
        cpu(&one),
        (cpu(&multi) / cpu(&one) - 1.0) * 100.0,
        multi.costs.enters,
        one.costs.enters,
        rate(multi.pages_per_s),
        rate(one.pages_per_s),
    ))
}

/// Scrapy's whole crawl against the sheet: the same pages and checksum, or by how much not.
fn scrapy_set(r: &Results) -> String {
    let Some(p) = r.scrapy_whole.as_ref() else { return "Scrapy did not run.\n".into() };
    let (Some(report), Some(sheet)) = (p.report.as_ref(), p.sheet.as_ref()) else {
        return format!("Scrapy's whole crawl did not finish: {}.\n", short(&p.status, 120));
    };
    let n = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    let same = report["checksum"] == sheet["checksum"];
    format!(
        "Scrapy's whole crawl of the same web without its faults fetched {:.0} pages of the sheet's {:.0}, {:.0} failed of {:.0}, {:.0} redirects of {:.0}; its checksum {} the sheet's{}.\n",
        n(&report["ok"]),
        n(&sheet["pages"]),
        n(&report["failed"]),
        n(&sheet["failed"]),
        n(&report["crawl"]["redirects"]),
        n(&sheet["redirects"]),
        if same { "is" } else { "is not" },
        if same {
            ": its canonicalization (query arguments sorted, fragments dropped) and duplicate filter find the same set as the contract's normalization on this web"
        } else {
            ""
        }
    )
}

fn trap_table(r: &Results) -> String {
    let mut t = Table::headed("program | URLs requested | limited | peak frontier | ≤ N × K");
    for p in &r.trap {
        let frontier = p.figure(&["crawl", "peak_frontier"]);
        t.push(vec![
            format!("`{}`", p.program),
            cell(Some(p), |p| Some(format!("{:.0}", p.figure(&["tasks"])?))),
            cell(Some(p), |p| Some(p.report.as_ref()?["crawl"]["limited"].to_string())),
            cell(Some(p), |_| Some(format!("{:.0}", frontier?))),
            cell(Some(p), |_| {
                Some(
                    if frontier? <= f64::from(TRAP_TASKS * super::LINKS) {
                        "yes"
                    } else {
                        "**no**"
                    }
                    .into(),
                )
            }),
        ]);
    }
    t.render()
}

/// Each of the targets, judged from the same run.
fn verdicts(r: &Results) -> Vec<Verdict> {
    let mut out = Vec::new();
    let ideal = f64::from(TARGET_W) / median_latency(TARGET_LATENCY);
    let concurrent: Vec<String> = crate::programs::models()
        .into_iter()
        .filter(|m| !crate::programs::is_serial(m))
        .map(String::from)
        .collect();
    let throughput = |programs: &[String], share: f64, case: &str| {
        let points: Vec<(String, Option<&Point>)> = programs
            .iter()
            .map(|m| (m.clone(), at(&r.sweep, m, TARGET_LATENCY, TARGET_W).filter(|p| p.ok())))
            .collect();
        let ratios = |of: fn(&Point) -> Option<f64>| {
            let each: Vec<String> = points
                .iter()
                .map(|(m, p)| {
                    let x = p.and_then(of);
                    format!("`{m}` {}", x.map_or(DASH.into(), |x| format!("{:.2}", x / ideal)))
                })
                .collect();
            each.join(", ")
        };
        Verdict {
            case: case.into(),
            target: format!("≥ {share} × W / L = {} pages/s", rate(share * ideal)),
            measured: format!(
                "pages/s ÷ W / L: {}; every URL answered (pages, redirects, 404s) a second ÷ W / L: {}",
                ratios(Point::pages_per_s),
                ratios(Point::urls_per_s)
            ),
            met: points.iter().all(|(_, p)| p.is_some()).then(|| {
                points.iter().all(|(_, p)| p.and_then(Point::pages_per_s).is_some_and(|x| x >= share * ideal))
            }),
        }
    };
    let case = format!("L = {TARGET_LATENCY}, W = {TARGET_W}, C ≥ W / H");
    out.push(throughput(&concurrent, 0.9, &format!("{case}: every concurrent Rust model")));
    out.push(throughput(&["py-asyncio".into()], 0.8, &format!("{case}: `py-asyncio`")));
    // CPU a page at L = 0 against Scrapy's.
    let scrapy = cost_point(r, SCRAPY).and_then(Point::cpu_us_per_page);
    let lean: Vec<(&str, Option<f64>)> =
        LEAN.iter().map(|m| (*m, cost_point(r, m).and_then(Point::cpu_us_per_page))).collect();
    out.push(Verdict {
        case: format!("L = 0, W = {COST_W}: CPU a page of `epoll`, `ring`, `tokio`"),
        target: "≤ 0.1 × Scrapy's CPU a page".into(),
        measured: format!(
            "{}; Scrapy {}",
            lean.iter()
                .map(|(m, c)| format!("`{m}` {}", c.map_or(DASH.into(), |c| format!("{c:.0} µs"))))
                .collect::<Vec<_>>()
                .join(", "),
            scrapy.map_or(DASH.into(), |s| format!("{s:.0} µs"))
        ),
        met: scrapy.and_then(|s| {
            lean.iter()
                .all(|(_, c)| c.is_some())
                .then(|| lean.iter().all(|(_, c)| c.unwrap() <= 0.1 * s))
        }),
    });
    // Memory at W = 5,000.
    let memory: Vec<&Point> =
        LEAN.iter().filter_map(|m| r.memory.iter().find(|p| p.program == *m)).collect();
    let fits = |p: &Point| {
        let (ok, failed, rss) = (p.figure(&["ok"])?, p.figure(&["failed"])?, p.rss_kib()?);
        let statuses = p.figure(&["crawl", "failures", "status"]).unwrap_or(0.0);
        Some(p.ok() && ok > 0.0 && failed == statuses && rss <= memory_bound(p)?)
    };
    out.push(Verdict {
        case: format!("L = {}, W = {MEMORY_W}: `epoll`, `ring`, `tokio`", super::MEMORY_LATENCY),
        target: "every page fetched (only the web's 404s fail); peak RSS ≤ 32 MiB + W × 2 × the mean page".into(),
        measured: memory
            .iter()
            .map(|p| {
                format!(
                    "`{}` {} of {}",
                    p.program,
                    p.rss_kib().map_or(DASH.into(), mib),
                    memory_bound(p).map_or(DASH.into(), mib)
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        met: (memory.len() == LEAN.len()).then(|| memory.iter().all(|p| fits(p) == Some(true))),
    });
    // The fault profile.
    let matched = r.faults.iter().filter(|p| matches_sheet(p) == Some(true)).count();
    let bounded = r
        .faults
        .iter()
        .filter(|p| {
            p.figure(&["crawl", "latency_ms", "max"]).is_some_and(|m| m <= fault_bound_ms())
        })
        .count();
    out.push(Verdict {
        case: "the fault profile, every model and peer".into(),
        target: format!(
            "the sheet's checksum, pages and failures by kind; no URL past 3 × --timeout-ms + the retries' waits ({:.0} s)",
            fault_bound_ms() / 1000.0
        ),
        measured: format!(
            "{matched} of {} match the sheet; {bounded} within the bound",
            r.faults.len()
        ),
        met: (!r.faults.is_empty()).then_some(matched == r.faults.len() && bounded == r.faults.len()),
    });
    let stopped = r
        .trap
        .iter()
        .filter(|p| {
            p.figure(&["tasks"]) == Some(f64::from(TRAP_TASKS))
                && p.figure(&["crawl", "peak_frontier"])
                    .is_some_and(|f| f <= f64::from(TRAP_TASKS * super::LINKS))
        })
        .count();
    out.push(Verdict {
        case: format!("the trap, `--tasks {TRAP_TASKS}`"),
        target: format!(
            "stops at {TRAP_TASKS} URLs; peak frontier ≤ N × K = {}",
            TRAP_TASKS * super::LINKS
        ),
        measured: format!("{stopped} of {} programs", r.trap.len()),
        met: (!r.trap.is_empty()).then_some(stopped == r.trap.len()),
    });
    out
}

/// What the figures say, computed from them.
fn readings(r: &Results) -> String {
    let mut out = Vec::new();
    let rate_at = |m: &str, l: &str, w: u32| at(&r.sweep, m, l, w).and_then(Point::pages_per_s);
    // Little's law, checked where the target is: where the tenth W / L promises goes.
    if let Some(p) = at(&r.sweep, "epoll", TARGET_LATENCY, TARGET_W).filter(|p| p.ok()) {
        let (urls, pages) = (p.urls_per_s(), p.pages_per_s());
        let (tasks, ok) = (p.figure(&["tasks"]), p.figure(&["ok"]));
        let p50 = p.figure(&["crawl", "latency_ms", "p50"]);
        if let (Some(urls), Some(pages), Some(tasks), Some(ok), Some(p50)) =
            (urls, pages, tasks, ok, p50)
        {
            out.push(format!(
                "- **Little's law, checked.** At L = {TARGET_LATENCY} and W = {TARGET_W}, `epoll` answers {} URLs a second, of which {:.0} % are pages ({} pages/s); the rest are redirects and 404s, which cost a round trip as a page does. A URL takes {p50:.1} ms at the median — the web's wait, its timer's lateness and the transfer — so {} URLs/s hold {:.0} requests in flight on average, {:.0} % of W: the crawl starts from one seed, and its frontier must grow through the per-host limit before W are in flight, and drains at its end.",
                rate(urls),
                ok / tasks * 100.0,
                rate(pages),
                rate(urls),
                urls * p50 / 1000.0,
                urls * p50 / 1000.0 / f64::from(TARGET_W) * 100.0
            ));
        }
    }
    // The CPU ceiling: the best pages a second at L = 0.
    let best = |m: &str| workers(r).into_iter().filter_map(|w| rate_at(m, "0", w)).reduce(f64::max);
    let mut ceilings: Vec<(String, f64)> =
        names(&r.sweep).into_iter().filter_map(|m| Some((m.clone(), best(&m)?))).collect();
    ceilings.sort_by(|a, b| b.1.total_cmp(&a.1));
    if let (Some(top), Some(scrapy)) = (ceilings.first(), ceilings.iter().find(|c| c.0 == SCRAPY)) {
        out.push(format!(
            "- **The ceiling is the CPU, not the wait.** At L = 0 the fastest crawler, `{}`, does {} pages/s on its core; Scrapy {} ({:.1} × fewer). Little's law says a crawler needs W = rate × L in flight: at L = 50 ms, {} pages/s needs W ≈ {:.0} — any model that can hold that many requests open reaches it, and past it only CPU a page matters.",
            top.0,
            rate(top.1),
            rate(scrapy.1),
            top.1 / scrapy.1,
            rate(top.1),
            top.1 * 0.05
        ));
    }
    // Parsing on the loop's thread, and what --offload buys.
    for model in ["epoll", "ring"] {
        let with = format!("{model} --offload");
        let pinned: Vec<String> = latencies(r)
            .iter()
            .filter_map(|l| {
                Some(format!(
                    "{} → {} at L = {l}",
                    rate(rate_at(model, l, OFFLOAD_W)?),
                    rate(rate_at(&with, l, OFFLOAD_W)?)
                ))
            })
            .collect();
        let free: Vec<String> = r
            .offload
            .iter()
            .filter(|p| p.program == model)
            .filter_map(|p| {
                let off = r.offload.iter().find(|o| o.program == with && o.latency == p.latency)?;
                Some(format!(
                    "{} → {} at L = {}, W = {}",
                    rate(p.pages_per_s()?),
                    rate(off.pages_per_s()?),
                    p.latency,
                    p.at.workers
                ))
            })
            .collect();
        if pinned.is_empty() && free.is_empty() {
            continue;
        }
        out.push(format!(
            "- **Parsing on `{model}`'s one thread** holds its I/O up while it runs. `--offload` hands it to a pool, the article's `run_in_executor`. On one core it can only take turns with the loop, and the hand-off costs: {} (W = {OFFLOAD_W}, where the loop's core is full). Free to use both cores (beside the web's), it buys a core: {}.",
            if pinned.is_empty() { DASH.to_string() } else { pinned.join("; ") },
            if free.is_empty() { DASH.to_string() } else { free.join("; ") }
        ));
    }
    out.extend(ladder_reading(r));
    // Which to pick: what a page's CPU caps each at, against what the wait allows. The
    // Python peer's CPU a page is read where its rate is, at the target's L and W.
    let cpu = |m: &str| cost_point(r, m).and_then(Point::cpu_us_per_page);
    let target = |m: &str| at(&r.sweep, m, TARGET_LATENCY, TARGET_W);
    let python_best = ["py-asyncio", "py-uvloop", "py-threads", "py-gevent"]
        .iter()
        .filter_map(|m| Some((*m, target(m)?.pages_per_s()?, target(m)?.cpu_us_per_page()?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let rust_best =
        LEAN.iter().filter_map(|m| Some((*m, cpu(m)?))).min_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some((m, x, c)), Some((rm, rc))) = (python_best, rust_best) {
        let ideal = f64::from(TARGET_W) / median_latency(TARGET_LATENCY);
        out.push(format!(
            "- **Which to pick.** At L = {TARGET_LATENCY} and W = {TARGET_W} the best Python peer, `{m}`, does {} pages/s of an ideal {}. It spends {c:.0} µs of CPU a page there (parsing in pure Python, under the GIL), so one core caps it near {} pages/s whatever W is: a Python crawler is right while the pages a second you need stay under that, and more W past it only queues. `{rm}` spends {rc:.0} µs a page at L = 0, a ceiling near {} pages/s on the same core: past the Python ceiling, the wait is no longer what you size for, the CPU a page is.",
            rate(x),
            rate(ideal),
            rate(1e6 / c),
            rate(1e6 / rc)
        ));
    }
    out.join("\n") + "\n"
}

/// pages/s against W at `latency`: the Rust models or the peers, beside Scrapy, the ideal
/// W / L and the ceiling (the best at L = 0), dashed.
fn plots(r: &Results) -> Vec<(String, String)> {
    let ceiling = names(&r.sweep)
        .iter()
        .flat_map(|m| r.sweep.iter().filter(move |p| p.program == *m && p.latency == "0"))
        .filter_map(Point::pages_per_s)
        .reduce(f64::max);
    let ws = workers(r);
    let mut out = Vec::new();
    for latency in latencies(r) {
        let l = median_latency(&latency);
        for (who, rust) in [("rust", true), ("peers", false)] {
            let mut series: Vec<Series> = names(r.sweep.iter().filter(|p| p.latency == latency))
                .into_iter()
                .enumerate()
                .filter(|(_, n)| crate::programs::is_rust(n) == rust || n == SCRAPY)
                .map(|(i, name)| Series {
                    peer: name == SCRAPY,
                    color: i,
                    points: ws
                        .iter()
                        .filter_map(|&w| {
                            Some((f64::from(w), at(&r.sweep, &name, &latency, w)?.pages_per_s()?))
                        })
                        .collect(),
                    name,
                })
                .collect();
            if l > 0.0 {
                let ideal = ws.iter().map(|&w| (f64::from(w), f64::from(w) / l)).collect();
                series.push(Series {
                    name: "ideal W / L".into(),
                    peer: true,
                    color: 20,
                    points: ideal,
                });
            }
            if let Some(c) = ceiling {
                let flat = ws.iter().map(|&w| (f64::from(w), c)).collect();
                series.push(Series {
                    name: "ceiling (best at L = 0)".into(),
                    peer: true,
                    color: 21,
                    points: flat,
                });
            }
            let title = format!(
                "Pages a second against W at L = {latency}: {}",
                if rust { "the Rust models" } else { "the peers" }
            );
            let file = format!("pages-{}-{who}.svg", latency.replace('/', "-"));
            out.push((file, loglog(&title, "requests in flight (W)", "pages/s", &series)));
        }
    }
    out
}

/// Every slot of the page and of the README section.
fn values(r: &Results) -> crate::suite::Slots {
    let pinned = match r.pinned {
        true => "pinned to one core, the crawlers to the other",
        false => "unpinned (one core)",
    };
    let sweeps: String = latencies(r)
        .iter()
        .map(|l| {
            let file = l.replace('/', "-");
            format!(
                "### L = {l}\n\n{}\n![L = {l}, Rust models](pages-{file}-rust.svg)\n\n![L = {l}, peers](pages-{file}-peers.svg)\n\n",
                sweep_table(r, l)
            )
        })
        .collect();
    vec![
        ("facts", crate::facts::markdown_of_json(&r.facts)),
        ("pinned", pinned.into()),
        ("pages", r.pages.to_string()),
        ("hosts", r.hosts.to_string()),
        ("urls", r.urls.to_string()),
        ("sweeps", sweeps),
        ("sweep50", sweep_table(r, TARGET_LATENCY)),
        ("stops", stops(r)),
        ("cost", cost_table(r)),
        ("memory", memory_table(r)),
        ("faults", faults_table(r)),
        ("trap", trap_table(r)),
        ("offload", offload_table(r)),
        ("ladder", ladder_table(r)),
        ("scrapy_set", scrapy_set(r)),
        ("verdicts", verdict_table(verdicts(r))),
        ("readings", readings(r)),
    ]
}

/// results/crawl/README.md (page.md, and the plots) and the README's section (readme.md).
pub const TEMPLATES: Templates<Results> =
    Templates::new(include_str!("page.md"), include_str!("readme.md"), |r| {
        Drawn::new(values(r), plots(r))
    });
