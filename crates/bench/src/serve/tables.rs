//! The serve benchmark's tables and the targets, judged from `serve.json`.

use super::{CpuCase, Results, Throughput};
use crate::suite::{Drawn, Plots, Templates};
use crate::table::{Table, DASH};

fn ms(v: f64) -> String {
    if v.is_nan() {
        DASH.into()
    } else if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.0} ms")
    }
}

fn kreq(v: f64) -> String {
    format!("{:.1}k", v / 1000.0)
}

/// A cell that says why there is no figure.
fn why(note: &Option<String>) -> String {
    note.as_deref().map_or(DASH.into(), |n| format!("— ({})", n.lines().next().unwrap_or("")))
}

pub fn c10k_table(r: &Results) -> String {
    let mut t = Table::headed(
        "server | N | client wall (ideal) | failed | listen overflows | server peak RSS | per connection | server CPU",
    );
    for c in &r.c10k {
        let (Some(client), Some(server)) = (&c.served.load, &c.served.server_report) else {
            t.push_without_figures(vec![
                format!("`{}`", c.served.server),
                c.n.to_string(),
                why(&c.served.note),
            ]);
            continue;
        };
        let per_conn = if server.children_max_rss_kib > 0 {
            format!("{:.0} KiB (a process each)", server.children_max_rss_kib as f64)
        } else {
            let grown = server.max_rss_kib.saturating_sub(c.served.baseline_rss_kib);
            format!("{:.1} KiB", grown as f64 / f64::from(c.n))
        };
        t.push(vec![
            format!("`{}`", c.served.server),
            format!("{}", c.n),
            format!("{:.3} s ({:.1} s)", client.wall_s, c.ideal_s),
            client.failed.to_string(),
            c.listen_overflows.map_or(DASH.into(), |o| o.to_string()),
            format!("{:.1} MiB", server.max_rss_kib as f64 / 1024.0),
            per_conn,
            format!("{:.2} s", server.user_s + server.sys_s),
        ]);
    }
    t.render()
}

pub fn throughput_table(r: &Results) -> String {
    let mut t = Table::headed(
        "server | c = 10: req/s | p50 | p99 | p99.9 | c = 100: req/s | p50 | p99 | p99.9 | errors",
    );
    let servers: Vec<&str> = r
        .throughput
        .iter()
        .filter(|x| x.connections == 10)
        .map(|x| x.served.server.as_str())
        .collect();
    for server in servers {
        let mut cells = vec![format!("`{server}`")];
        let mut errors = 0;
        for c in [10, 100] {
            match r.throughput.iter().find(|x| x.served.server == server && x.connections == c) {
                Some(x) if x.served.load.is_some() => {
                    let l = x.served.load.as_ref().expect("checked");
                    errors += l.errors;
                    cells.extend([kreq(l.req_per_s), ms(l.p50_ms), ms(l.p99_ms), ms(l.p999_ms)]);
                }
                x => {
                    cells.push(why(&x.and_then(|x| x.served.note.clone())));
                    cells.extend([DASH.into(), DASH.into(), DASH.into()]);
                }
            }
        }
        cells.push(errors.to_string());
        t.push(cells);
    }
    t.render()
}

pub fn open_loop_table(r: &Results) -> String {
    let mut t = Table::headed("server | p50 | p99 | p99.9 | answered | errors");
    for x in &r.open_loop {
        match &x.load {
            Some(l) => t.push(vec![
                format!("`{}`", x.server),
                ms(l.p50_ms),
                ms(l.p99_ms),
                ms(l.p999_ms),
                l.requests.to_string(),
                l.errors.to_string(),
            ]),
            None => t.push_without_figures(vec![format!("`{}`", x.server), why(&x.note)]),
        }
    }
    t.render()
}

pub fn cpu_table(r: &Results) -> String {
    let mut t = Table::headed(
        "server | `/health` p99, hashing on the loop | with `--offload` | \
        `/cpu` req/s | with `--offload`",
    );
    let find =
        |server: &str, offload| r.cpu.iter().find(|c| c.server == server && c.offload == offload);
    let health = |c: Option<&CpuCase>| match c {
        Some(c) => c.health.as_ref().map_or_else(
            || why(&c.note),
            |h| {
                if h.p99_ms.is_nan() {
                    format!("none answered ({} errors)", h.errors)
                } else {
                    ms(h.p99_ms)
                }
            },
        ),
        None => "no loop to offload from".into(),
    };
    let cpu = |c: Option<&CpuCase>| {
        c.and_then(|c| c.cpu.as_ref()).map_or(DASH.into(), |l| format!("{:.1}", l.req_per_s))
    };
    for c in r.cpu.iter().filter(|c| !c.offload) {
        let off = find(&c.server, true);
        t.push(vec![
            format!("`{}`", c.server),
            health(Some(c)),
            health(off),
            cpu(Some(c)),
            if off.is_some() { cpu(off) } else { DASH.into() },
        ]);
    }
    t.render()
}

/// The targets, each with the figures it was judged on.
pub fn verdicts(r: &Results) -> String {
    let rps = |server: &str| {
        r.throughput
            .iter()
            .find(|x| x.served.server.starts_with(server) && x.connections == 100)
            .and_then(|x| x.served.load.as_ref())
            .map(|l| l.req_per_s)
    };
    let at_least = |a: &str, b: &str| match (rps(a), rps(b)) {
        (Some(x), Some(y)) => (
            if x >= y { "met" } else { "missed" },
            format!("`{a}` {} vs `{b}` {}", kreq(x), kreq(y)),
        ),
        _ => ("not measured", format!("`{a}` or `{b}` did not run")),
    };
    let mut t = Table::headed("target | verdict | measured");
    for (a, b) in [
        ("epoll", "nginx"),
        ("ring", "nginx"),
        ("tokio", "py-uvloop"),
        ("uring", "py-uvloop"),
        ("tokio", "go-goroutines"),
        ("epoll", "go-goroutines"),
        ("uring", "go-goroutines"),
        ("ring", "go-goroutines"),
    ] {
        let (verdict, measured) = at_least(a, b);
        t.push(vec![format!("throughput, c = 100: `{a}` ≥ `{b}`"), verdict.into(), measured]);
    }
    for line in monoio_targets(r).into_iter().chain(super::ladder::verdicts(&r.ladder)) {
        t.push(line);
    }
    let n = r.c10k.iter().map(|c| c.n).max().unwrap_or(0);
    for server in ["tokio", "epoll", "uring", "ring", "threads", "go-goroutines", "node-promises"] {
        let row = r.c10k.iter().find(|c| c.served.server == server && c.n == n);
        let (verdict, measured) = match row.and_then(|c| c.served.load.as_ref()) {
            Some(client) => (
                if client.failed == 0 { "met" } else { "missed" },
                format!("{} of {n} failed", client.failed),
            ),
            None => ("not measured", why(&row.and_then(|c| c.served.note.clone()))),
        };
        t.push(vec![
            format!("C10K, {n} connections: `{server}` 0 failed"),
            verdict.into(),
            measured,
        ]);
    }
    for server in ["tokio", "epoll", "uring", "ring"] {
        let row = r.open_loop.iter().find(|x| x.server == server).and_then(|x| x.load.as_ref());
        let (verdict, measured) = match row {
            Some(l) => {
                (if l.p99_ms <= 1.0 { "met" } else { "missed" }, format!("p99 {}", ms(l.p99_ms)))
            }
            None => ("not measured", DASH.into()),
        };
        t.push(vec![
            format!("open loop at {} req/s: `{server}` p99 ≤ 1 ms", r.rate),
            verdict.into(),
            measured,
        ]);
    }
    t.render()
}

/// monoio's two: its CPU a request against `ring`'s on one core, and against `tokio`'s on
/// both.
fn monoio_targets(r: &Results) -> Vec<Vec<String>> {
    let cost = |rows: &[Throughput], server: &str| {
        let row = rows.iter().find(|x| x.served.server == server && x.connections == 100)?;
        let (user, sys) = per_request(row)?;
        Some((user + sys, row.served.load.as_ref()?.req_per_s))
    };
    let us = |s: f64| format!("{:.1} µs", s * 1e6);
    let one_core = match (cost(&r.throughput, "monoio"), cost(&r.throughput, "ring")) {
        (Some((m, _)), Some((g, _))) => (
            if m <= g * 1.1 { "met" } else { "missed" },
            format!("`monoio` {} a request, {:.2} × `ring`'s {}", us(m), m / g, us(g)),
        ),
        _ => ("not measured", "`monoio` or `ring` did not run".into()),
    };
    let both =
        match (cost(&r.both_cores, "monoio --workers 2"), cost(&r.both_cores, "tokio --workers 2"))
        {
            (Some((m, mr)), Some((t, tr))) => (
                "measured",
                format!(
                    "`monoio` {} ({:.2} × `tokio`'s {}), {} a request ({:.2} × {})",
                    kreq(mr),
                    mr / tr,
                    kreq(tr),
                    us(m),
                    m / t,
                    us(t)
                ),
            ),
            _ => ("not measured", "not run on both cores".into()),
        };
    vec![
        vec![
            "CPU a request, c = 100, one core: `monoio` within 10 % of `ring`".into(),
            one_core.0.into(),
            one_core.1,
        ],
        vec![
            "both cores, c = 100: `monoio --workers 2` against `tokio --workers 2`".into(),
            both.0.into(),
            both.1,
        ],
    ]
}

/// What the tables say, computed from them, so that the words follow the figures.
pub fn readings(r: &Results) -> String {
    let load = |server: &str, c: u32| {
        r.throughput
            .iter()
            .find(|x| x.served.server.starts_with(server) && x.connections == c)
            .and_then(|x| x.served.load.as_ref())
    };
    let mut out = String::new();
    let loops = ["tokio", "epoll", "uring", "ring"];
    let rates: Vec<f64> = loops.iter().filter_map(|s| load(s, 100).map(|l| l.req_per_s)).collect();
    if rates.len() == loops.len() {
        let (lo, hi) = rates.iter().fold((f64::MAX, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let nginx = load("nginx", 100).map_or(DASH.into(), |l| kreq(l.req_per_s));
        let p99 =
            loops.iter().filter_map(|s| load(s, 100).map(|l| l.p99_ms)).fold(0.0f64, f64::max);
        out += &format!(
            "- **Throughput.** At c = 100 the four Rust loops answer {} to {} requests a second, within {:.0} % of each other, and nginx {nginx}; their p99 stays at or under {}. ",
            kreq(lo), kreq(hi), (hi / lo - 1.0) * 100.0, ms(p99)
        );
        if let (Some(t), Some(p)) = (load("threads", 100), load("procs", 100)) {
            out += &format!(
                "A thread or a process per connection costs its latency: at c = 100 `threads` reaches a p99 of {} and `procs` {}.\n",
                ms(t.p99_ms), ms(p.p99_ms)
            );
        } else {
            out += "\n";
        }
    }
    if let (Some(uv), Some(node), Some(go)) =
        (load("py-uvloop", 100), load("node-promises", 100), load("go-goroutines", 100))
    {
        let (to_node, to_go) = (uv.req_per_s / node.req_per_s, uv.req_per_s / go.req_per_s);
        out += &format!(
            "- **uvloop's claim, server side** (c = 100): `py-uvloop` with httptools answers {}, {to_node:.2}× Node's `node:http` and {to_go:.2}× Go's `net/http`: \"twice Node.js\" {}, and \"as fast as Go\" {} (read as within 10 %).\n",
            kreq(uv.req_per_s),
            if to_node >= 2.0 { "holds" } else { "does not hold" },
            if to_go >= 0.9 { "holds" } else { "does not hold" },
        );
    }
    let p99 = |server: &str, offload: bool| {
        r.cpu
            .iter()
            .find(|c| c.server == server && c.offload == offload)
            .and_then(|c| c.health.as_ref())
            .map(|h| h.p99_ms)
            .filter(|v| !v.is_nan())
    };
    let range = |servers: &[&str], offload: bool| {
        let v: Vec<f64> = servers.iter().filter_map(|s| p99(s, offload)).collect();
        (!v.is_empty()).then(|| {
            (v.iter().copied().fold(f64::MAX, f64::min), v.iter().copied().fold(0.0f64, f64::max))
        })
    };
    let every_loop =
        ["tokio", "epoll", "uring", "ring", "py-asyncio", "py-uvloop", "node-promises"];
    if let (Some(rust), Some(dynamic), Some(off)) = (
        range(&loops, false),
        range(&["py-asyncio", "py-uvloop", "node-promises"], false),
        range(&every_loop, true),
    ) {
        out += &format!(
            "- **CPU on the server.** While a loop hashes, `/health` waits behind it: p99 {} to {} in the Rust loops, {} to {} in the Python and Node loops, whose hashes take longer; with `--offload` every loop answers it at a p99 of {} to {}.",
            ms(rust.0), ms(rust.1), ms(dynamic.0), ms(dynamic.1), ms(off.0), ms(off.1)
        );
        if let (Some(t), Some(go)) = (p99("threads", false), p99("go-goroutines", false)) {
            out += &format!(" `threads` ({}) and Go ({}) have no loop to hold: the kernel or Go's scheduler takes turns between the hashing and `/health`, on the one core.", ms(t), ms(go));
        }
        out += "\n";
    }
    out
}

/// What each server spent on a request at c = 100: the server's own user and system CPU time
/// over the requests it answered (its whole life, start-up included). With every fast server
/// near 100 % of its core, req/s ranks the kernel and the noise; cost per request ranks the
/// servers, and shows how close each comes to the kernel's share.
pub fn cost_table(r: &Results) -> String {
    cost_rows(r.throughput.iter().filter(|x| x.connections == 100))
        + "\nnginx counts no requests and reports no rusage: its row is its worker's CPU time \
           from /proc over the requests wrk had answered.\n"
}

/// The servers with a thread per core, on both cores: the same columns.
pub fn both_cores_table(r: &Results) -> String {
    if r.both_cores.is_empty() {
        return "Not measured in this run.\n".into();
    }
    cost_rows(r.both_cores.iter())
}

/// What a request cost the server: its user and system CPU time over the requests it
/// answered (nginx: over those wrk counted), in seconds.
fn per_request(x: &Throughput) -> Option<(f64, f64)> {
    let rep = x.served.server_report.as_ref()?;
    let n = match &x.served.load {
        Some(load) if rep.model == "nginx" => load.requests,
        _ => rep.requests,
    };
    (n > 0).then(|| (rep.user_s / n as f64, rep.sys_s / n as f64))
}

fn cost_rows<'a>(rows: impl Iterator<Item = &'a Throughput>) -> String {
    let mut t = Table::headed("server | req/s | user a request | sys a request | CPU a request");
    for x in rows {
        let req_s = x.served.load.as_ref().map_or(DASH.into(), |l| kreq(l.req_per_s));
        let us = |s: f64| format!("{:.1} µs", s * 1e6);
        let cells = match per_request(x) {
            Some((user, sys)) => vec![us(user), us(sys), us(user + sys)],
            None => vec![DASH.into(), DASH.into(), DASH.into()],
        };
        t.push([format!("`{}`", x.served.server), req_s].into_iter().chain(cells).collect());
    }
    t.render()
}

fn values(r: &Results) -> crate::suite::Slots {
    vec![
        ("facts", crate::facts::markdown_of_json(&r.facts)),
        ("readings", readings(r)),
        ("c10k", c10k_table(r)),
        ("throughput", throughput_table(r)),
        ("cost", cost_table(r)),
        ("both_cores", both_cores_table(r)),
        ("ladder", super::ladder::table(&r.ladder)),
        ("open_loop", open_loop_table(r)),
        ("cpu", cpu_table(r)),
        ("verdicts", verdicts(r)),
        ("secs", r.secs.to_string()),
        ("rate", r.rate.to_string()),
    ]
}

/// results/serve/README.md (page.md, and the plots) and the README's section (readme.md).
pub const TEMPLATES: Templates<Results> =
    Templates::new(include_str!("page.md"), include_str!("readme.md"), |r| {
        Drawn::new(values(r), Plots::new())
    });
