//! `bench readme --check`: the prose cannot drift from the results. Every figure written by
//! hand — in the README and the book outside their generated sections, and in the crates'
//! docs — must be found among the figures of the results its document cites (each
//! `results/NAME` it names, JSON and page; all of `results/` where it names none), at the
//! precision it is written with; each one that is not is named, with its file and line, and
//! the check fails. A chapter on files is held to results/disk, not to whatever page of
//! results/ happens to hold the same number.
//!
//! A figure is a number with the unit of something measured: time (ns, µs, ms), rates
//! (req/s, IOPS, TPS, queries/s), memory (MiB), system calls and context switches, ratios (×)
//! and percentages. Sizes and durations a run is asked for (`16 KiB`, `10 tasks × 1 s`) are
//! parameters, not results, and are not checked; nor is text in code blocks, which shows
//! commands. The match is loose on purpose — any figure of results/ that rounds to it — so
//! that a figure quoted from one run is found, and one that no run produced is not. A time
//! (ns, µs, ms) is held to the times of results/ alone, in whatever unit they are kept: a
//! JSON field named for its unit (`p99_ms`, `wall_s`, `cpu_us_per_query`, and hyperfine's
//! seconds), or a number written with one in a page. "p99 0.096 ms" is not found in a
//! `user_s` of 0.096753.

use anyhow::Context;
use std::collections::BTreeMap;
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

/// One line of prose the results do not bear out: a figure they do not hold, or a verdict
/// written by hand; `what` says which.
#[derive(Debug, PartialEq)]
pub struct Drift {
    pub file: String,
    pub line: usize,
    pub what: String,
}

/// What results/ holds: every number of its text (JSON, Markdown and SVG), and apart from
/// them its times, in nanoseconds; each list sorted, each number once.
struct Held {
    numbers: Vec<f64>,
    times_ns: Vec<f64>,
}

/// The time units, as prose writes them and as a JSON field's name ends, in nanoseconds.
const TIMES: [(&str, &str, f64); 4] =
    [("ns", "_ns", 1.0), ("µs", "_us", 1e3), ("ms", "_ms", 1e6), ("s", "_s", 1e9)];

/// The unit a JSON key names (`p99_ms`, `cpu_us_per_query`), in nanoseconds.
fn unit_of_key(key: &str) -> Option<f64> {
    TIMES.iter().find_map(|&(_, suffix, ns)| {
        (key.ends_with(suffix) || key.contains(&format!("{suffix}_"))).then_some(ns)
    })
}

/// The times of a JSON value, in nanoseconds: a number under a key that names its unit, or
/// under one of hyperfine's keys (seconds); the unit of an object holds for what is inside
/// it (`"lateness_ms": {"p50": …}`).
fn json_times(value: &serde_json::Value, unit: Option<f64>, out: &mut Vec<f64>) {
    const HYPERFINE_SECONDS: [&str; 8] =
        ["mean", "stddev", "median", "min", "max", "user", "system", "times"];
    match value {
        serde_json::Value::Number(n) => {
            if let (Some(ns), Some(v)) = (unit, n.as_f64()) {
                out.push(v * ns);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_times(v, unit, out)),
        serde_json::Value::Object(fields) => {
            for (key, v) in fields {
                let own = unit_of_key(key)
                    .or(unit)
                    .or_else(|| HYPERFINE_SECONDS.contains(&key.as_str()).then_some(1e9));
                json_times(v, own, out);
            }
        }
        _ => {}
    }
}

/// The results a document cites: each `results/NAME` it names that exists (a page's folder,
/// or a page of its own with its JSON beside it), sorted; all of results/ if it names none.
/// A figure in a chapter is held to the pages the chapter shows, not to any page.
fn cited(text: &str, results: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("results/") {
        let name: String = text[at + "results/".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "_-.".contains(*c))
            .collect();
        let name = name.trim_end_matches('.');
        if name.is_empty() || name == "tmp" {
            continue;
        }
        let path = results.join(name);
        if path.exists() {
            if let Some(stem) = name.strip_suffix(".md") {
                out.push(results.join(format!("{stem}.json")));
            }
            out.push(path);
        }
    }
    out.retain(|p| p.exists());
    out.sort();
    out.dedup();
    if out.is_empty() {
        out.push(results.to_path_buf());
    }
    out
}

/// Every number in the text of `paths` (folders of results/ walked whole, and files: JSON,
/// Markdown and SVG), commas taken out, parsed, sorted and each once; and its times.
fn result_numbers(paths: &[PathBuf]) -> Held {
    let mut numbers = Vec::new();
    let mut times_ns = Vec::new();
    let mut stack = paths.to_vec();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                // Scratch runs (results/tmp) are not results.
                if entry.file_name() != "tmp" {
                    stack.push(entry.path());
                }
            }
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        for (number, end) in numbers_in(&text) {
            let Ok(value) = number.parse::<f64>() else { continue };
            numbers.push(value);
            if let Some(ns) = time_unit_after(&text[end..]) {
                times_ns.push(value * ns);
            }
        }
        if path.extension().is_some_and(|e| e == "json") {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
                json_times(&json, None, &mut times_ns);
            }
        }
        // JSON Lines (a timeline): a value a line.
        for line in text.lines().filter(|l| l.starts_with('{')) {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(line) {
                json_times(&json, None, &mut times_ns);
            }
        }
    }
    // Parsed once; many figures are looked for among them.
    for list in [&mut numbers, &mut times_ns] {
        list.sort_by(f64::total_cmp);
        list.dedup();
    }
    Held { numbers, times_ns }
}

/// The time unit a number is written with (`12 ms`, `0.4 µs`, `1.2 s`), in nanoseconds.
fn time_unit_after(rest: &str) -> Option<f64> {
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    TIMES
        .iter()
        .find_map(|&(unit, _, ns)| (rest.starts_with(unit) && unit_ends(rest, unit)).then_some(ns))
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

/// Whether some number of results/ is `figure` at the precision `figure` is written with;
/// `in_unit` (nanoseconds a unit) when the numbers are times, to be read in the figure's unit.
fn found(figure: &str, numbers: &[f64], in_unit: f64) -> bool {
    let decimals = figure.split('.').nth(1).map_or(0, str::len);
    let Ok(wanted) = figure.parse::<f64>() else { return false };
    let scale = 10f64.powi(decimals as i32);
    numbers.iter().any(|n| (n / in_unit * scale).round() == (wanted * scale).round())
}

/// The lines of `text` written by hand, each with its number: code blocks and generated
/// sections left out.
fn hand_written(text: &str) -> Vec<(usize, &str)> {
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
        if !in_code && !in_generated {
            out.push((k + 1, line));
        }
    }
    out
}

/// The figures of `text` written by hand: each number followed (after at most a space) by a
/// unit of [`UNITS`], with its line and, for a time, its unit in nanoseconds.
fn figures(text: &str) -> Vec<(usize, String, Option<f64>)> {
    let mut out = Vec::new();
    for (k, line) in hand_written(text) {
        for (number, end) in numbers_in(line) {
            let rest = line[end..].strip_prefix(' ').unwrap_or(&line[end..]);
            let rest = rest.strip_prefix("k ").map_or(rest, |r| r);
            if UNITS.iter().any(|u| rest.starts_with(u) && unit_ends(rest, u)) {
                out.push((k, number, time_unit_after(rest)));
            }
        }
    }
    out
}

/// How prose states a verdict: a target met or missed is the generated tables' to say, from
/// the run, never a sentence's.
const VERDICT_WORDS: [&str; 12] = [
    "all targets are met",
    "all targets were met",
    "every target is met",
    "every target was met",
    "targets are met",
    "targets were met",
    "target is met",
    "target was met",
    "target is missed",
    "target was missed",
    "targets are missed",
    "targets were missed",
];

/// The verdicts of `text` written by hand, with their lines.
fn verdicts(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (k, line) in hand_written(text) {
        let lower = line.to_lowercase();
        out.extend(VERDICT_WORDS.iter().filter(|w| lower.contains(*w)).map(|w| (k, w.to_string())));
    }
    out
}

/// The unit is a word of its own (`ms`, not `msg`).
fn unit_ends(rest: &str, unit: &str) -> bool {
    rest[unit.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric())
}

/// The README, the book's chapters and every crate's doc (its `main.rs` or `lib.rs`).
fn prose(readme: &Path, root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        crate::documents::all(readme).into_iter().map(|(path, _)| path).collect();
    let crates = std::fs::read_dir(root.join("crates")).into_iter().flatten().flatten();
    let mut docs: Vec<PathBuf> = crates
        .flat_map(|c| ["src/main.rs", "src/lib.rs"].map(|f| c.path().join(f)))
        .filter(|p| p.exists())
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// Every figure of the prose that the results it cites do not hold.
pub fn check(readme: &Path, results: &Path) -> anyhow::Result<Vec<Drift>> {
    let root = crate::documents::root(readme);
    if result_numbers(&[results.to_path_buf()]).numbers.is_empty() {
        return Err(anyhow::anyhow!("{}: no results to check against", results.display()));
    }
    let mut held: BTreeMap<Vec<PathBuf>, Held> = BTreeMap::new();
    let mut drifts = Vec::new();
    for file in prose(readme, root) {
        let text = std::fs::read_to_string(&file).with_context(|| file.display().to_string())?;
        // A crate's doc is its `//!` lines; the README and the book are all prose.
        let text: String = if file.extension().is_some_and(|e| e == "rs") {
            text.lines()
                .map(|l| if l.starts_with("//!") { l } else { "" })
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            text
        };
        let pages = cited(&text, results);
        let held = held.entry(pages.clone()).or_insert_with(|| result_numbers(&pages));
        for (line, figure, time) in figures(&text) {
            let ok = match time {
                Some(ns) => found(&figure, &held.times_ns, ns),
                None => found(&figure, &held.numbers, 1.0),
            };
            if !ok {
                let what = format!("{figure} is in none of the results it cites");
                drifts.push(Drift { file: file.display().to_string(), line, what });
            }
        }
        for (line, words) in verdicts(&text) {
            let what = format!("\"{words}\" is a verdict written by hand: the tables give them");
            drifts.push(Drift { file: file.display().to_string(), line, what });
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
        let got: Vec<String> = figures(text).into_iter().map(|(_, f, _)| f).collect();
        assert_eq!(got, ["656", "1.0", "2594"]);
    }

    #[test]
    fn a_figure_is_found_at_the_precision_it_is_written_with() {
        let numbers = [2594.0, 6.41, 0.98];
        assert!(found("2594", &numbers, 1.0));
        assert!(found("6.4", &numbers, 1.0));
        assert!(found("1.0", &numbers, 1.0));
        assert!(!found("656", &numbers, 1.0));
        assert!(!found("6.3", &numbers, 1.0));
    }

    #[test]
    fn a_time_is_found_among_the_times_alone_in_any_unit() {
        let json: serde_json::Value = serde_json::from_str(
            r#"{"user_s": 0.096753, "lateness_ms": {"p99": 0.114}, "mean": 0.5, "n": 7}"#,
        )
        .unwrap();
        let mut times = Vec::new();
        json_times(&json, None, &mut times);
        times.sort_by(f64::total_cmp);
        // 0.114 ms and 0.5 s; the user_s is 96.753 ms, not 0.096 of anything; 7 is no time.
        assert!(found("0.114", &times, 1e6));
        assert!(found("114", &times, 1e3));
        assert!(found("500", &times, 1e6));
        assert!(!found("0.096", &times, 1e6));
        assert!(found("96.8", &times, 1e6));
        assert!(!found("7", &times, 1e6));
        assert_eq!(time_unit_after(" ms, then"), Some(1e6));
        assert_eq!(time_unit_after(" msgs"), None);
    }

    #[test]
    fn a_figure_is_held_to_the_pages_its_document_cites() {
        let results = std::env::temp_dir().join(format!("conclab-drift-{}", std::process::id()));
        for (page, text) in [("disk", "| `ring` | 106.1k IOPS |"), ("serve", "| `ring` | 4.0 µs |")]
        {
            std::fs::create_dir_all(results.join(page)).unwrap();
            std::fs::write(results.join(page).join("README.md"), text).unwrap();
        }
        let chapter = "ring reads at 106.1k IOPS ([results/disk](../../results/disk/README.md))";
        let pages = cited(chapter, &results);
        assert_eq!(pages, [results.join("disk")]);
        let held = result_numbers(&pages);
        assert!(found("106.1", &held.numbers, 1.0));
        // 4.0 is a figure of results/serve, which this chapter does not show.
        assert!(!found("4.0", &held.numbers, 1.0));
        assert_eq!(cited("no page named", &results), std::slice::from_ref(&results));
        std::fs::remove_dir_all(&results).unwrap();
    }

    #[test]
    fn a_verdict_is_generated_never_written() {
        let text = "All six targets are met in this run.\n<!-- loops:start -->\n| x | met |\n\
                    <!-- loops:end -->\nThe table says which targets this run met.";
        assert_eq!(verdicts(text), [(1, "targets are met".to_string())]);
    }
}
