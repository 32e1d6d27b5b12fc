//! The pools' tables, plots and verdicts, from `pools.json` alone.

use super::{CaseResult, Results};
use crate::suite::{Drawn, Templates};
use crate::svg::{loglog, Series};
use crate::table::{names, seconds, Table, DASH};

/// The median wall against the pool size, one row a program.
fn case_table(case: &CaseResult) -> String {
    let mut sizes: Vec<u32> = case.points.iter().map(|p| p.workers).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let header: Vec<String> =
        ["program".into()].into_iter().chain(sizes.iter().map(|w| format!("W = {w}"))).collect();
    let mut t = Table::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for name in names(&case.points) {
        let cells = sizes.iter().map(|&w| {
            match case.points.iter().find(|p| p.program == name && p.workers == w) {
                None => DASH.into(),
                Some(p) => p.median_wall().map_or_else(
                    || format!("{DASH} ({})", p.status.chars().take(40).collect::<String>()),
                    seconds,
                ),
            }
        });
        t.push([format!("`{name}`")].into_iter().chain(cells).collect());
    }
    t.render()
}

/// Where each program's best pool size is, and what CPU × 2 costs against it.
fn verdict_rows(r: &Results) -> Vec<(String, String, u32, f64, Option<f64>)> {
    let rule = r.cores * 2;
    let mut rows = Vec::new();
    for case in &r.cases {
        for name in names(&case.points) {
            let points: Vec<(u32, f64)> = case
                .points
                .iter()
                .filter(|p| p.program == name)
                .filter_map(|p| Some((p.workers, p.median_wall()?)))
                .collect();
            let Some(&(best_w, best)) = points.iter().min_by(|a, b| a.1.total_cmp(&b.1)) else {
                continue;
            };
            let at_rule = points.iter().find(|(w, _)| *w == rule).map(|(_, t)| t / best);
            rows.push((case.workload.clone(), name, best_w, best, at_rule));
        }
    }
    rows
}

fn verdict_table(r: &Results) -> String {
    let rule = r.cores * 2;
    let mut t = Table::new(&[
        "workload",
        "program",
        "best pool",
        "its wall",
        &format!("CPU × 2 (W = {rule}) against the best"),
    ]);
    for (workload, name, best_w, best, at_rule) in verdict_rows(r) {
        t.push(vec![
            workload,
            format!("`{name}`"),
            format!("W = {best_w}"),
            seconds(best),
            at_rule.map_or(DASH.into(), |x| format!("{x:.2} ×")),
        ]);
    }
    t.render()
}

/// One sentence a workload: where the best pools are, computed.
fn readings(r: &Results) -> String {
    let rule = r.cores * 2;
    let rows = verdict_rows(r);
    let mut out = Vec::new();
    for case in &r.cases {
        let here: Vec<_> = rows.iter().filter(|row| row.0 == case.workload).collect();
        if here.is_empty() {
            continue;
        }
        let bests: Vec<String> =
            here.iter().map(|row| format!("`{}` W = {}", row.1, row.2)).collect();
        let worst = here
            .iter()
            .filter_map(|row| row.4.map(|x| (x, &row.1)))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let at_rule = worst.map_or(String::new(), |(x, name)| {
            format!("; at CPU × 2 (W = {rule}) the furthest from its best is `{name}`, {x:.2} × its best time")
        });
        out.push(format!(
            "- **{}** (`{}`): the best pools are {}{}.",
            case.workload,
            case.args,
            bests.join(", "),
            at_rule
        ));
    }
    out.join("\n") + "\n"
}

/// A plot a workload: the median wall against the pool size, CPU × 2 marked.
fn plot(r: &Results, case: &CaseResult) -> String {
    let mut series: Vec<Series> = names(&case.points)
        .into_iter()
        .enumerate()
        .map(|(i, name)| Series {
            peer: !crate::programs::is_rust(&name),
            color: i,
            points: case
                .points
                .iter()
                .filter(|p| p.program == name)
                .filter_map(|p| Some((f64::from(p.workers), p.median_wall()?)))
                .collect(),
            name,
        })
        .collect();
    let all: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).collect();
    let (lo, hi) = all.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    if lo <= hi {
        let rule = f64::from(r.cores * 2);
        series.push(Series {
            name: format!("CPU × 2 = {}", r.cores * 2),
            points: vec![(rule, lo), (rule, hi)],
            peer: true,
            color: 11,
        });
    }
    loglog(
        &format!("{}: wall time against the pool's size", case.workload),
        "workers (W)",
        "seconds (median of the runs)",
        &series,
    )
}

/// Every slot of the page and of the README section, and the page's plots.
fn values(r: &Results) -> (crate::suite::Slots, crate::suite::Plots) {
    let mut sections = String::new();
    let mut plots = Vec::new();
    for case in &r.cases {
        let file = format!("pools-{}.svg", case.workload);
        sections += &format!(
            "## {}\n\n`{}`, `--workers W`\n\n![{}]({file})\n\n{}\n",
            case.workload,
            case.args,
            case.workload,
            case_table(case)
        );
        plots.push((file, plot(r, case)));
    }
    let values = vec![
        ("facts", crate::facts::markdown_of_json(&r.facts)),
        ("cores", r.cores.to_string()),
        ("rule", (r.cores * 2).to_string()),
        ("runs", r.runs.to_string()),
        ("sections", sections),
        ("verdicts", verdict_table(r)),
        ("readings", readings(r)),
    ];
    (values, plots)
}

/// results/pools/README.md (page.md, and the plots) and the README's section (readme.md).
pub const TEMPLATES: Templates<Results> =
    Templates::new(include_str!("page.md"), include_str!("readme.md"), |r| {
        let (slots, plots) = values(r);
        Drawn::new(slots, plots)
    });
