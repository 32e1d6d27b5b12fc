//! `bench readme --check`: the prose cannot drift from the results. Every figure written by
//! hand — in the README outside its generated sections, and in the crates' docs — must be
//! found among the figures of `results/` (its JSON and pages), at the precision it is
//! written with; each one that is not is named, with its file and line, and the check
//! fails.
//!
//! A figure is a number with the unit of something measured: time (ns, µs, ms), rates
//! (req/s, IOPS, TPS, queries/s), memory (MiB), system calls and context switches, ratios (×)
//! and percentages. Sizes and durations a run is asked for (`16 KiB`, `10 tasks × 1 s`) are
//! parameters, not results, and are not checked; nor is text in code blocks, which shows
//! commands. The match is loose on purpose — any figure of results/ that rounds to it — so
//! that a figure quoted from one run is found, and one that no run produced is not.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// The units of measured things, as the prose writes them after a number.
const UNITS: [&str; 14] = [
    "ns",
    "µs",
    "ms",
    "req/s",
    "IOPS",
    "TPS",
    "queries/s",
    "MiB",
    "system calls",
    "syscalls",
    "×",
    "%",
    "context switches",
    "switches",
];

/// One figure of the prose that results/ does not hold.
#[derive(Debug, PartialEq)]
pub struct Drift {
    pub file: String,
    pub line: usize,
    pub figure: String,
}

/// Every number in the text of results/ (its JSON, Markdown and SVG), commas taken out,
/// parsed, sorted and each once.
fn result_numbers(results: &Path) -> Vec<f64> {
    let mut numbers = Vec::new();
    let mut stack = vec![results.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                // Scratch runs (results/tmp) are not results.
                if path.file_name().is_some_and(|n| n != "tmp") {
                    stack.push(path);
                }
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                numbers.extend(
                    numbers_in(&text).into_iter().filter_map(|(n, _)| n.parse::<f64>().ok()),
                );
            }
        }
    }
    // Parsed once; many figures are looked for among them.
    numbers.sort_by(f64::total_cmp);
    numbers.dedup();
    numbers
}

/// The numbers of `text` (`2,594`, `6.4`, `1e-3` as `1`), commas taken out, with where each
/// ends.
fn numbers_in(text: &str) -> Vec<(String, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut number = String::new();
        while j < bytes.len() {
            let c = bytes[j];
            let digit_follows = bytes.get(j + 1).is_some_and(u8::is_ascii_digit);
            if c.is_ascii_digit() {
                number.push(c as char);
            } else if c == b','
                && digit_follows
                && bytes.get(j + 4).is_none_or(|b| !b.is_ascii_digit())
            {
                // a thousands separator: exactly three digits follow
            } else if c == b'.' && digit_follows && !number.contains('.') {
                number.push('.');
            } else {
                break;
            }
            j += 1;
        }
        out.push((number, j));
        i = j;
    }
    out
}

/// Whether some number of results/ is `figure` at the precision `figure` is written with.
fn found(figure: &str, numbers: &[f64]) -> bool {
    let decimals = figure.split('.').nth(1).map_or(0, str::len);
    let Ok(wanted) = figure.parse::<f64>() else { return false };
    let scale = 10f64.powi(decimals as i32);
    numbers.iter().any(|n| (n * scale).round() == (wanted * scale).round())
}

/// The figures of `text`: each number followed (after at most a space) by a unit of
/// [`UNITS`], with its line; code blocks and generated sections left out.
fn figures(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let (mut in_code, mut in_generated) = (false, false);
    for (k, line) in text.lines().enumerate() {
        let trimmed = line.trim_start().trim_start_matches("//!").trim_start();
        if trimmed.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if trimmed.starts_with("<!--") && trimmed.contains(":start -->") {
            in_generated = true;
        }
        if trimmed.starts_with("<!--") && trimmed.contains(":end -->") {
            in_generated = false;
            continue;
        }
        if in_code || in_generated {
            continue;
        }
        for (number, end) in numbers_in(line) {
            let rest = line[end..].strip_prefix(' ').unwrap_or(&line[end..]);
            let rest = rest.strip_prefix("k ").map_or(rest, |r| r);
            if UNITS.iter().any(|u| rest.starts_with(u) && unit_ends(rest, u)) {
                out.push((k + 1, number));
            }
        }
    }
    out
}

/// The unit is a word of its own (`ms`, not `msg`).
fn unit_ends(rest: &str, unit: &str) -> bool {
    rest[unit.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric())
}

/// The README and every crate's doc (its `main.rs` or `lib.rs`).
fn prose(readme: &Path, root: &Path) -> Vec<PathBuf> {
    let mut files = vec![readme.to_path_buf()];
    let crates = std::fs::read_dir(root.join("crates")).into_iter().flatten().flatten();
    let mut docs: Vec<PathBuf> = crates
        .flat_map(|c| ["src/main.rs", "src/lib.rs"].map(|f| c.path().join(f)))
        .filter(|p| p.exists())
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// Every figure of the prose that results/ does not hold.
pub fn check(readme: &Path, results: &Path) -> anyhow::Result<Vec<Drift>> {
    let root = readme.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let numbers = result_numbers(results);
    if numbers.is_empty() {
        return Err(anyhow::anyhow!("{}: no results to check against", results.display()));
    }
    let mut drifts = Vec::new();
    for file in prose(readme, root) {
        let text = std::fs::read_to_string(&file).with_context(|| file.display().to_string())?;
        // A crate's doc is its `//!` lines; the README is all prose.
        let text: String = if file.extension().is_some_and(|e| e == "rs") {
            text.lines()
                .map(|l| if l.starts_with("//!") { l } else { "" })
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            text
        };
        for (line, figure) in figures(&text) {
            if !found(&figure, &numbers) {
                drifts.push(Drift { file: file.display().to_string(), line, figure });
            }
        }
    }
    Ok(drifts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_with_units_are_found_outside_code_and_generated_sections() {
        let text = "ring makes 656 system calls; epoll 1.0 µs a request, 16 KiB bound\n\
                    ```\nmake strace # 999 syscalls\n```\n<!-- x:start -->\n7 ms\n<!-- x:end -->\n\
                    2,594 syscalls and 12 msgs";
        let got: Vec<String> = figures(text).into_iter().map(|(_, f)| f).collect();
        assert_eq!(got, ["656", "1.0", "2594"]);
    }

    #[test]
    fn a_figure_is_found_at_the_precision_it_is_written_with() {
        let numbers = [2594.0, 6.41, 0.98];
        assert!(found("2594", &numbers));
        assert!(found("6.4", &numbers));
        assert!(found("1.0", &numbers));
        assert!(!found("656", &numbers));
        assert!(!found("6.3", &numbers));
    }
}
