//! The README's answer to the claim the article leans on — uvloop makes asyncio "twice as
//! fast as Node.js, as fast as Go" — with this machine's figures: uvloop, Node and Go at the
//! sizes where the rows differ, beside the Rust event loops, every figure read from
//! `results/`.

use std::path::Path;

use crate::run::{read_json, HyperfineExport};
use crate::scale::ScaleData;
use crate::table::{seconds, Table, DASH};

/// The columns: the three runtimes of the claim, then the Rust loops.
const COLUMNS: [&str; 6] =
    ["py-uvloop", "node-promises", "go-goroutines", "tokio", "epoll", "ring"];

/// One case: its name and each column's time in seconds, where it was measured.
struct Case {
    what: String,
    seconds: Vec<Option<f64>>,
}

impl Case {
    fn of(&self, column: &str) -> Option<f64> {
        self.seconds[COLUMNS.iter().position(|c| *c == column)?]
    }
}

pub fn section(results: &Path) -> anyhow::Result<String> {
    let mut cases = Vec::new();
    let scale: ScaleData = read_json(&results.join("scale/scale.json"))?;
    for n in [100_000, 1_000_000] {
        let wall = |line: &str| {
            scale.sleep.iter().find(|p| p.line == line && p.n == n && p.ok())?.wall_s()
        };
        let n_text = if n == 100_000 { "100,000" } else { "1,000,000" };
        cases.push(Case {
            what: format!("{n_text} tasks sleep 1 s (one run each)"),
            seconds: COLUMNS.iter().map(|c| wall(c)).collect(),
        });
    }
    let medians = |file: &str| -> anyhow::Result<Vec<Option<f64>>> {
        let export: HyperfineExport = read_json(&results.join(file))?;
        let median = |c: &str| export.results.iter().find(|t| t.command == c).map(|t| t.median);
        Ok(COLUMNS.iter().map(|c| median(c)).collect())
    };
    cases.push(Case {
        what: "10,000 http requests at once (hyperfine median)".into(),
        seconds: medians("http/hyperfine-n10000.json")?,
    });
    // The cpu rows run in groups by runtime, one hyperfine export each: a column's median is
    // in whichever export has its row.
    let mut exports: Vec<String> = std::fs::read_dir(results.join("cpu"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("hyperfine-") && n.ends_with(".json"))
        .collect();
    exports.sort();
    let mut merged = vec![None; COLUMNS.len()];
    for file in exports {
        for (cell, median) in merged.iter_mut().zip(medians(&format!("cpu/{file}"))?) {
            *cell = cell.or(median);
        }
    }
    cases.push(Case {
        what: "8 SHA-256 chains, as each runs them by default (hyperfine median)".into(),
        seconds: merged,
    });

    let mut header = vec!["case"];
    header.extend(COLUMNS.iter().map(|c| match *c {
        "py-uvloop" => "`py-uvloop`",
        "node-promises" => "`node-promises`",
        "go-goroutines" => "`go-goroutines`",
        "tokio" => "`tokio`",
        "epoll" => "`epoll`",
        _ => "`ring`",
    }));
    header.extend(["Node ÷ uvloop", "Go ÷ uvloop"]);
    let mut t = Table::new(&header);
    let mut verdicts = String::new();
    for case in &cases {
        let mut cells = vec![case.what.clone()];
        cells.extend(case.seconds.iter().map(|s| s.map_or(DASH.into(), seconds)));
        let ratio = |other: &str| Some(case.of(other)? / case.of("py-uvloop")?);
        cells.push(ratio("node-promises").map_or(DASH.into(), |r| format!("{r:.2}")));
        cells.push(ratio("go-goroutines").map_or(DASH.into(), |r| format!("{r:.2}")));
        t.push(cells);
        if let (Some(node), Some(go)) = (ratio("node-promises"), ratio("go-goroutines")) {
            let twice = if node >= 2.0 { "holds" } else { "does not hold" };
            let as_fast = if go >= 1.0 / 1.1 { "holds" } else { "does not hold" };
            verdicts += &format!(
                "- {}: Node takes {node:.2}× uvloop's time, so \"twice Node.js\" {twice}; Go takes {go:.2}×, so \"as fast as Go\" {as_fast}.\n",
                case.what
            );
        }
    }
    crate::template::fill(
        "readme-claim.md",
        crate::template::README_CLAIM,
        &[("table", &t.render()), ("verdicts", &verdicts)],
    )
}
