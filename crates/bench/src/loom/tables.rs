//! results/loom/README.md and the README's section: each case on each JDK, and what it did
//! — computed from its wall time and threads, so that the words follow the figures.

use super::{Case, Results, Size, SIZES};
use crate::suite::{Drawn, Templates};
use crate::table::{Table, DASH};

/// What a case did, read from its figures: its wall time against the same JDK's plain
/// sleep at that size and against T ÷ carriers rounds of B, and the carriers it had beyond
/// that sleep's.
fn did(case: &Case, sleep: Option<&Case>) -> String {
    let rounds = case.wall_s / (case.ms as f64 / 1000.0);
    let overlapped =
        sleep.map_or(rounds < 2.0, |s| case.wall_s <= 2.0 * s.wall_s.max(case.ms as f64 / 1000.0));
    let rest = sleep.map_or(u64::from(case.carriers), |s| s.peak_carriers);
    let added = case.peak_carriers.saturating_sub(rest);
    let serial_rounds = f64::from(case.threads) / f64::from(case.carriers.max(1));
    if case.failed > 0 {
        format!("{} of {} failed", case.failed, case.threads)
    } else if overlapped && added == 0 {
        "unmounts".into()
    } else if overlapped {
        format!("captures its carrier; {added} carriers added")
    } else if rounds >= serial_rounds / 2.0 {
        format!("**pins** its carrier: {rounds:.0} rounds of B")
    } else if added > 0 {
        let most = case.peak_carriers;
        format!(
            "captures its carrier; the scheduler stops adding at {most}: {rounds:.1} rounds of B"
        )
    } else {
        format!("{rounds:.1} rounds of B")
    }
}

fn table(r: &Results, size: Size) -> String {
    let at: Vec<&Case> = r.cases.iter().filter(|c| c.size() == size).collect();
    let mut jdks: Vec<&str> = at.iter().map(|c| c.feature()).collect();
    jdks.dedup();
    let mut cases: Vec<&str> = at.iter().map(|c| c.case.as_str()).collect();
    cases.sort_by_key(|name| at.iter().position(|c| c.case == *name));
    cases.dedup();
    let mut header = vec!["case".to_string()];
    for jdk in &jdks {
        header.extend([format!("JDK {jdk}: wall"), "carriers (peak)".into(), "what it did".into()]);
    }
    let mut t = Table::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for name in cases {
        let mut row = vec![format!("{name}")];
        for jdk in &jdks {
            let of =
                |case: &str| at.iter().find(|c| c.case == case && c.feature() == *jdk).copied();
            match of(name) {
                Some(c) => row.extend([
                    format!("{:.2} s", c.wall_s),
                    c.peak_carriers.to_string(),
                    did(c, of("sleep")),
                ]),
                None => row.extend([DASH.into(), DASH.into(), DASH.into()]),
            }
        }
        t.push(row);
    }
    t.render()
}

fn values(r: &Results) -> crate::suite::Slots {
    let tables: Vec<String> = SIZES
        .iter()
        .map(|s| format!("### T = {} threads, B = {} ms\n\n{}", s.threads, s.ms, table(r, *s)))
        .collect();
    let missing = match r.missing.is_empty() {
        true => String::new(),
        false => format!("\nNot measured: {}.\n", r.missing.join("; ")),
    };
    vec![
        ("facts", crate::facts::markdown_of_json(&r.facts)),
        ("tables", tables.join("\n")),
        ("first", table(r, SIZES[0])),
        ("first_threads", SIZES[0].threads.to_string()),
        ("first_ms", SIZES[0].ms.to_string()),
        ("missing", missing),
    ]
}

/// results/loom/README.md (page.md) and the README's section (readme.md).
pub const TEMPLATES: Templates<Results> =
    Templates::new(include_str!("page.md"), include_str!("readme.md"), |r| {
        Drawn::new(values(r), crate::suite::Plots::new())
    });
