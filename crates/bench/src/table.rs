//! Markdown tables from measured rows. Every figure comes from hyperfine's JSON or the
//! command's own report; nothing here rounds toward an expected value.

use workload::Report;

use crate::run::Measured;

/// A Markdown table built row by row.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table { header: header.iter().map(|s| s.to_string()).collect(), rows: Vec::new() }
    }

    /// A table whose header is written as it reads on the page: `"program | N | IOPS"`.
    pub fn headed(header: &str) -> Table {
        Table::new(&header.split(" | ").collect::<Vec<_>>())
    }

    pub fn push(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// A row with no figures: its first cells (the name, and why), then a dash in every
    /// column left.
    pub fn push_without_figures(&mut self, first: Vec<String>) {
        let mut cells = first;
        cells.resize(self.header.len().max(cells.len()), DASH.into());
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.header);
        out += &line(&self.header.iter().map(|_| "---".to_string()).collect::<Vec<_>>());
        for row in &self.rows {
            out += &line(row);
        }
        out
    }
}

/// A status cut to `max` characters for a table cell, with "…" where it was cut.
pub fn short(status: &str, max: usize) -> String {
    let s: String = status.chars().take(max).collect();
    if s.len() < status.len() {
        format!("{s}…")
    } else {
        s
    }
}

/// A point of a sweep: one program's run.
pub trait OfProgram {
    /// The program's row label.
    fn program(&self) -> &str;
}

/// A sweep's point type with `program` and `status` fields: its program for [`names`], and
/// `ok()`, whether it ran to its end (its status is "ok").
macro_rules! sweep_point {
    ($point:ty) => {
        impl crate::table::OfProgram for $point {
            fn program(&self) -> &str {
                &self.program
            }
        }

        impl $point {
            pub fn ok(&self) -> bool {
                self.status == "ok"
            }
        }
    };
}
pub(crate) use sweep_point;

/// The programs of `points`, in the order they first appear: a sweep's rows.
pub fn names<'a, P: OfProgram + 'a>(points: impl IntoIterator<Item = &'a P>) -> Vec<String> {
    in_order(points.into_iter().map(P::program))
}

/// The names in the order they first appear.
pub fn in_order<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for name in names {
        if !seen.iter().any(|s| s == name) {
            seen.push(name.to_string());
        }
    }
    seen
}

/// A target judged: the case, the target, what was measured, and whether it was met
/// (`None`: it could not be judged).
pub struct Verdict {
    pub case: String,
    pub target: String,
    pub measured: String,
    pub met: Option<bool>,
}

/// The targets' table: case, target, measured, and "met", "**missed**" or a dash.
pub fn verdict_table(verdicts: Vec<Verdict>) -> String {
    let mut t = Table::headed("case | target | measured | verdict");
    for Verdict { case, target, measured, met } in verdicts {
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => DASH,
        };
        t.push(vec![case, target, measured, verdict.into()]);
    }
    t.render()
}

pub fn seconds(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.4} s")
    }
}

pub const DASH: &str = "—";

/// "2.5 MiB" or "2.5 + 31.0 MiB" when children had memory of their own.
pub fn memory(report: Option<&Report>) -> String {
    let mib = |kib: u64| kib as f64 / 1024.0;
    match report {
        Some(r) if r.children_max_rss_kib_sum > 0 => {
            format!("{:.1} + {:.1} MiB", mib(r.max_rss_kib), mib(r.children_max_rss_kib_sum))
        }
        Some(r) => format!("{:.1} MiB", mib(r.max_rss_kib)),
        None => DASH.into(),
    }
}

/// The p99 of the row's lateness, from its own report.
pub fn lateness_p99(report: Option<&Report>) -> String {
    report.and_then(|r| r.lateness_ms).map_or(DASH.into(), |l| format!("{:.1} ms", l.p99))
}

/// The row's own wall time, from its report (hyperfine's includes start-up and exit).
pub fn own_wall(report: Option<&Report>) -> String {
    report.map_or(DASH.into(), |r| seconds(r.wall_s))
}

/// The event loop's worst timer lag, for the cpu rows that ran one.
pub fn loop_lag(report: Option<&Report>) -> String {
    report.and_then(|r| r.loop_lag_ms).map_or(DASH.into(), |l| format!("{:.1} ms", l.max))
}

/// The first cells of every timed row: name, then mean ± σ (or why there is none).
fn mean_cell(m: &Measured) -> String {
    match (&m.row.missing, &m.timing) {
        (Some(why), _) => format!("not run: {why}"),
        (None, None) => "no timing".into(),
        (None, Some(t)) if t.failed_runs() > 0 => {
            format!(
                "{} ± {} ({} of {} runs failed)",
                seconds(t.mean),
                seconds(t.stddev.unwrap_or(0.0)),
                t.failed_runs(),
                t.runs()
            )
        }
        (None, Some(t)) => format!("{} ± {}", seconds(t.mean), seconds(t.stddev.unwrap_or(0.0))),
    }
}

/// The sleep/http table: wall time against the ideal, CPU, memory, switches, lateness.
///
/// `over` is what "over" counts from: `Some(s)` a fixed ideal for every row (the article's
/// 1 s, all tasks at once), `None` each row's own ideal at its concurrency.
pub fn timed_table(rows: &[Measured], with_article: bool, over: Option<f64>) -> String {
    let over_header =
        over.map_or("over its ideal".to_string(), |s| format!("over the ideal {}", seconds(s)));
    let mut header = vec!["model"];
    if with_article {
        header.push("article");
    }
    header.extend([
        "mean ± σ",
        "min",
        "median",
        "own wall",
        "ideal at its concurrency",
        &over_header,
        "user + sys",
        "peak memory (self + children)",
        "voluntary ctx switches",
        "p99 lateness",
    ]);
    let mut table = Table::new(&header);
    for m in rows {
        let mut cells = vec![format!("`{}`", m.row.name)];
        if with_article {
            cells.push(m.row.article.unwrap_or(DASH).to_string());
        }
        cells.push(mean_cell(m));
        let report = m.report.as_ref();
        let ideal = report.and_then(|r| r.ideal_s);
        match &m.timing {
            Some(t) => {
                cells.push(seconds(t.min));
                cells.push(seconds(t.median));
                cells.push(own_wall(report));
                cells.push(ideal.map_or(DASH.into(), seconds));
                let reference = over.or(ideal);
                cells.push(
                    reference
                        .map_or(DASH.into(), |i| format!("{:+.1} ms", (t.median - i) * 1000.0)),
                );
                cells.push(seconds(t.user + t.system));
            }
            None => cells.extend(std::iter::repeat_n(DASH.to_string(), 6)),
        }
        cells.push(memory(report));
        cells.push(report.map_or(DASH.into(), |r| r.voluntary_ctx_switches.to_string()));
        cells.push(lateness_p99(report));
        table.push(cells);
    }
    table.render()
}

/// The cpu table: speedup over each row's serial row (`serial(row)` gives its median) and
/// parallel efficiency (speedup / cores).
pub fn cpu_table(
    rows: &[Measured],
    cores: usize,
    serial: impl Fn(&Measured) -> Option<f64>,
) -> String {
    let mut table = Table::headed(
        "model | mean ± σ | min | median | user + sys | CPU / wall | \
        speedup over serial | efficiency (speedup / cores) | peak memory (self + children) | \
        loop's 10 ms timer: max lag",
    );
    for m in rows {
        let mut cells = vec![format!("`{}`", m.row.name), mean_cell(m)];
        match &m.timing {
            Some(t) => {
                cells.push(seconds(t.min));
                cells.push(seconds(t.median));
                cells.push(seconds(t.user + t.system));
                cells.push(format!("{:.2}", (t.user + t.system) / t.mean));
                let speedup = serial(m).map(|s| s / t.median);
                cells.push(speedup.map_or(DASH.into(), |s| format!("{s:.2}×")));
                cells.push(
                    speedup.map_or(DASH.into(), |s| format!("{:.0} %", 100.0 * s / cores as f64)),
                );
            }
            None => cells.extend(std::iter::repeat_n(DASH.to_string(), 6)),
        }
        cells.push(memory(m.report.as_ref()));
        cells.push(loop_lag(m.report.as_ref()));
        table.push(cells);
    }
    table.render()
}

/// 10000 as "10,000".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::run::{HyperfineExport, Row};
    use serde_json::json;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(super::thousands(90108), "90,108");
        assert_eq!(super::thousands(655), "655");
        assert_eq!(super::thousands(1_000_000), "1,000,000");
    }

    /// A report as a binary would print it, with `fields` over the defaults.
    pub fn report(fields: serde_json::Value) -> Report {
        let mut r = json!({"model": "m", "workload": "sleep", "tasks": 10, "workers": 1, "ok": 10,
            "failed": 0, "checksum": 1045, "wall_s": 1.0, "ideal_s": 1.0, "max_rss_kib": 0,
            "children_max_rss_kib_sum": 0, "voluntary_ctx_switches": 0, "involuntary_ctx_switches": 0,
            "lateness_ms": null});
        r.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        serde_json::from_value(r).expect("a report")
    }

    /// Two rows as hyperfine 1.20 and the binaries would give them, and one that could not run.
    fn fixture() -> Vec<Measured> {
        let hyperfine: HyperfineExport = serde_json::from_value(json!({"results": [
            {"command": "tokio", "mean": 1.0021, "stddev": 0.0004, "median": 1.0019, "min": 1.0015, "max": 1.003,
             "user": 0.002, "system": 0.003, "times": [1.0015, 1.0019, 1.003], "exit_codes": [0, 0, 0]},
            {"command": "procs", "mean": 1.0102, "stddev": 0.002, "median": 1.0100, "min": 1.0081, "max": 1.013,
             "user": 0.004, "system": 0.016, "times": [1.0081, 1.01, 1.013], "exit_codes": [0, 1, 0]}
        ]}))
        .unwrap();
        let reports = [
            Some(report(json!({"ideal_s": 1.0, "wall_s": 1.0012, "max_rss_kib": 3174,
                "voluntary_ctx_switches": 31, "lateness_ms": {"p50": 1.0, "p99": 1.14, "max": 1.2}}))),
            Some(report(
                json!({"ideal_s": 1.0, "max_rss_kib": 2560, "children_max_rss_kib_sum": 5120,
                "voluntary_ctx_switches": 12, "lateness_ms": {"p50": 1.0, "p99": 9.5, "max": 9.9}}),
            )),
            None,
        ];
        let mut missing = Row::new("py-uvloop", vec!["python".into()]);
        missing.missing = Some("python3 not found".into());
        let mut tokio = Row::new("tokio", vec![]);
        tokio.article = Some("1.011 s");
        let rows = [tokio, Row::new("procs", vec![]), missing];
        let timings =
            [Some(hyperfine.results[0].clone()), Some(hyperfine.results[1].clone()), None];
        rows.into_iter()
            .zip(timings)
            .zip(reports)
            .map(|((row, timing), report)| Measured { row, timing, report })
            .collect()
    }

    #[test]
    fn the_timed_table_shows_every_figure_from_its_source() {
        let text = timed_table(&fixture(), true, Some(1.0));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(
            lines[2],
            "| `tokio` | 1.011 s | 1.0021 s ± 0.0004 s | 1.0015 s | 1.0019 s | 1.0012 s | 1.0000 s | +1.9 ms | 0.0050 s | 3.1 MiB | 31 | 1.1 ms |"
        );
        assert!(lines[3].contains("(1 of 3 runs failed)"), "{}", lines[3]);
        assert!(lines[3].contains("| 2.5 + 5.0 MiB |"), "{}", lines[3]);
        assert!(
            lines[4].starts_with("| `py-uvloop` | — | not run: python3 not found | — |"),
            "{}",
            lines[4]
        );
    }

    #[test]
    fn the_cpu_table_divides_by_the_serial_median() {
        let text = cpu_table(&fixture()[..1], 2, |_| Some(2.0038));
        assert!(text.contains("| 2.00× | 100 % |"), "{text}");
        assert!(text.contains("| 0.00 |"), "CPU/wall of a sleeping row: {text}");
        assert!(text.ends_with("| 3.1 MiB | — |\n"), "no loop lag in a sleep report: {text}");
    }
}
