//! soak.json, its page (results/soak/README.md), one plot per server, and the README's
//! reliability section (with results/fuzz).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::clients::Tally;
use super::{SoakReport, Soaked};
use crate::stats::{median, quantile};
use crate::table::{Table, DASH};

/// The targets (the issue's): after the warm-up RSS moves at most this much, and the
/// descriptors are back to their count before the load within this long.
pub const MAX_DRIFT_KIB: i64 = 1024;
pub const MAX_FDS_BACK_MS: u64 = 1000;

/// A server held if it ran, never crashed, never answered wrong, and came back to rest.
pub fn holds(s: &Soaked, _report: &SoakReport) -> bool {
    s.missing.is_some()
        || (s.crashed.is_none()
            && s.clients.wrong.load(Relaxed) == 0
            && s.memory.rss_drift_kib <= MAX_DRIFT_KIB
            && s.rest.fds_back_ms.is_some_and(|ms| ms <= MAX_FDS_BACK_MS))
}

/// The warm-up: a tenth of the soak, at least 8 s; it holds each server's first flood.
pub fn warmup(seconds: u64) -> u64 {
    (seconds / 10).max(8)
}

/// The windows whose memory is compared: just after the warm-up, and the soak's last.
pub fn window(seconds: u64) -> u64 {
    (seconds / 10).max(3)
}

/// Move the clients' tally into `s`, and read the samples. Only samples taken after the
/// warm-up with no flood of this server open count: a flood's connections are load, not
/// drift. The drift is the level the server settles at between floods — the 90th
/// percentile of those samples — in the second half against the first: a leak raises it,
/// while an allocator that settles at one of two levels after each flood (uring's does)
/// does not, and one sample caught mid-release does not decide it. The rise of the
/// least-squares line through the same samples is kept beside it.
pub fn tally_into(s: &mut Soaked, mut tally: Tally, seconds: u64) {
    let (warmup, window, seconds) =
        (warmup(seconds) as f64, window(seconds) as f64, seconds as f64);
    let lat = std::mem::take(&mut *tally.latencies_us.lock().unwrap_or_else(|e| e.into_inner()));
    let at = |q: f64| quantile(lat.iter().copied(), q).map(|us| us as f64 / 1000.0);
    (tally.p50_ms, tally.p99_ms) = (at(0.50), at(0.99));
    s.clients = tally;
    let rss_in = |from: f64, to: f64| {
        let quiet = s.samples.iter().filter(|x| x.t >= from && x.t < to && !x.flood);
        median(quiet.map(|x| x.rss_kib)).unwrap_or(0)
    };
    s.memory.rss_after_warmup_kib = rss_in(warmup, warmup + window);
    s.memory.rss_end_kib = rss_in(seconds - window, seconds + 1.0);
    let quiet: Vec<(f64, f64)> = s
        .samples
        .iter()
        .filter(|x| x.t >= warmup && !x.flood)
        .map(|x| (x.t, x.rss_kib as f64))
        .collect();
    s.memory.rss_fitted_rise_kib = fitted_rise(&quiet).round() as i64;
    let middle = (warmup + seconds) / 2.0;
    let p90 = |first: bool| {
        let half = quiet.iter().filter(|q| (q.0 < middle) == first).map(|q| q.1 as u64);
        quantile(half, 0.9).unwrap_or(0) as i64
    };
    s.memory.rss_drift_kib = p90(false) - p90(true);
}

/// The rise over its span of the least-squares line through `points` (0 for fewer than 3).
fn fitted_rise(points: &[(f64, f64)]) -> f64 {
    if points.len() < 3 {
        return 0.0;
    }
    let n = points.len() as f64;
    let (mx, my) = points.iter().fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    let (cov, var) = points
        .iter()
        .fold((0.0, 0.0), |(c, v), p| (c + (p.0 - mx) * (p.1 - my), v + (p.0 - mx).powi(2)));
    let span = points[points.len() - 1].0 - points[0].0;
    if var > 0.0 {
        cov / var * span
    } else {
        0.0
    }
}

pub fn write(out: &Path, report: &SoakReport) -> anyhow::Result<()> {
    for s in report.servers.iter().filter(|s| !s.samples.is_empty()) {
        plot(s, report, &out.join(plot_name(&s.name)))?;
    }
    std::fs::write(out.join("README.md"), page(report)).map_err(anyhow::Error::msg)
}

fn plot_name(server: &str) -> String {
    format!("soak-{}.svg", server.split_whitespace().next().unwrap_or(server))
}

fn mib(kib: i64) -> String {
    format!("{:+.2} MiB", kib as f64 / 1024.0)
}

/// The table of every server.
pub fn table(report: &SoakReport) -> String {
    let mut t = Table::headed(
        "server | answered (checked) | wrong | crashes | \
        p99 (keep-alive) | unanswered | hostile refused | slowloris closed | flood peak | \
        memory drift after warm-up | fitted rise | descriptors before → after | back to rest | \
        held",
    );
    for s in &report.servers {
        if let Some(why) = &s.missing {
            t.push(vec![format!("`{}`", s.name), why.clone()]);
            continue;
        }
        let count = |n: &AtomicU64| n.load(Relaxed).to_string();
        let c = &s.clients;
        t.push(vec![
            format!("`{}`", s.name),
            count(&c.answered),
            count(&c.wrong),
            s.crashed.as_ref().map_or("0".into(), |c| format!("1 ({c})")),
            s.clients.p99_ms.map_or(DASH.into(), |ms| format!("{ms:.1} ms")),
            count(&c.unanswered),
            count(&c.refused),
            count(&c.slow_closed),
            count(&c.flood_peak),
            mib(s.memory.rss_drift_kib),
            mib(s.memory.rss_fitted_rise_kib),
            format!("{} → {}", s.rest.fds_before, s.rest.fds_after),
            s.rest.fds_back_ms.map_or("not in 5 s".into(), |ms| format!("{ms} ms")),
            if holds(s, report) { "yes".into() } else { "**no**".into() },
        ]);
    }
    t.render()
}

fn page(r: &SoakReport) -> String {
    let mut text = format!(
        "# Soak: every server under a hostile mix\n\n\
         Generated by `make soak` (`bench soak`) from soak.json. Every Rust model's server and \
         nginx (the reference) ran **at the same time for {} s**, each under the project's own \
         mixed load (crates/bench/src/soak/clients.rs): two checked keep-alive clients, one \
         pipelining 16 requests at a time, one asking `/cpu`, one sending garbage, 10 KiB heads \
         and resets mid-request in turn, 16 slowloris connections, and a flood of connections \
         every {} s past the server's descriptor limit, which the soak lowers to {} \
         (RLIMIT_NOFILE, soft and hard). The servers ran with `--timeout-ms {}`; they share \
         core 0, the clients the rest. Memory (PSS, so that pages forked processes share \
         count once), descriptors and threads of each server's process tree are sampled once \
         a second. Only the samples taken after the warm-up while no flood of that server \
         was open count. The drift is the level a server settles at between floods (the 90th \
         percentile of those samples) in the second half of the soak, less the first half's: \
         a leak raises it, while an allocator that settles at one of two levels after each \
         flood does not. The fitted rise (the least-squares line through the same samples, \
         over their span) is shown beside it, not judged.\n\n\
         A server holds when it answers nothing wrong, never crashes, its memory drifts at \
         most {} MiB after the {} s warm-up (which holds its first flood), and its descriptors are back to their count before the load within {} ms of the load \
         stopping. Latency is reported, never judged: eight servers and their clients share \
         two cores. nginx answers every path with one fixed body, which is what its checked \
         clients expect.\n\n",
        r.seconds,
        r.flood_every_s,
        r.nofile,
        r.timeout_ms,
        MAX_DRIFT_KIB / 1024,
        r.warmup_s,
        MAX_FDS_BACK_MS
    );
    text += &table(r);
    for s in &r.servers {
        let examples = s.clients.wrong_examples.lock().unwrap_or_else(|e| e.into_inner());
        if !examples.is_empty() {
            text += &format!("\nWrong answers from `{}`: {}\n", s.name, examples.join("; "));
        }
    }
    text += "\n## Each server over time\n\n";
    for s in r.servers.iter().filter(|s| !s.samples.is_empty()) {
        text += &format!("![{}]({})\n", s.name, plot_name(&s.name));
    }
    text
}

/// Resident memory and descriptors over the soak, in two panels.
fn plot(s: &Soaked, r: &SoakReport, path: &Path) -> anyhow::Result<()> {
    use crate::svg::over_time::{panels, TimePanel};
    let line =
        |value: fn(&super::Sample) -> f64| s.samples.iter().map(|x| (x.t, value(x))).collect();
    let memory = TimePanel {
        title: format!("{}: memory (PSS of its processes), MiB", s.name),
        points: line(|x| x.rss_kib as f64 / 1024.0),
        color: plotters::style::BLUE,
    };
    let descriptors = TimePanel {
        title: "open descriptors (all its processes)".into(),
        points: line(|x| x.fds as f64),
        color: plotters::style::RED,
    };
    let x_label = "seconds into the load (grey line: end of the warm-up)";
    let svg = panels(&[memory, descriptors], r.seconds as f64, r.warmup_s as f64, x_label)?;
    crate::run::write(path, &svg)
}

/// The README's reliability section: the fuzz figures and the soak's table.
pub fn reliability(results: &Path) -> anyhow::Result<String> {
    let fuzz: serde_json::Value = crate::run::read_json(&results.join("fuzz/fuzz.json"))?;
    let soak = super::SUITE.section(results)?;
    let mut t = Table::headed(
        "fuzz target | inputs | edges covered | crashes | hangs | h11: agree / known / open",
    );
    for target in fuzz["targets"].as_array().into_iter().flatten() {
        let n = |k: &str| target[k].as_u64().map_or(DASH.into(), |v| v.to_string());
        let d = &target["differential"];
        t.push(vec![
            format!("`{}`", target["target"].as_str().unwrap_or("?")),
            n("inputs"),
            n("edges_covered"),
            n("crashes"),
            n("hangs"),
            if d.is_null() {
                DASH.into()
            } else {
                format!("{} / {} / {}", d["agree"], d["known"], d["open"])
            },
        ]);
    }
    let history = fuzz["history"].as_array().cloned().unwrap_or_default();
    let mut found = String::new();
    for f in history.iter().filter(|f| f["where"] != "harness") {
        let text = |k: &str| f[k].as_str().unwrap_or("").to_string();
        found += &format!(
            "- `{}` ({}): {}. Fixed: {}.\n",
            text("where"),
            text("how"),
            text("what"),
            text("fix")
        );
    }
    Ok(format!(
        "{}\nFound in the parsers while the targets were written and run, each fixed, kept in \
         fuzz/regressions/ and replayed by `make test` \
         ([results/fuzz](results/fuzz/README.md)):\n\n{found}\n\
         {soak}",
        t.render(),
    ))
}

/// The soak's part of the README's reliability section.
pub fn section(soak: &SoakReport) -> anyhow::Result<String> {
    Ok(format!(
        "The soak, {} s, every server at once ([results/soak](results/soak/README.md)):\n\n{}",
        soak.seconds,
        table(soak)
    ))
}
