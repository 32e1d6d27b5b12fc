//! `bench compare [REV]`: your run beside the reference. For every page of results/ that
//! differs from the one committed at REV (the last commit by default) — which is what
//! `make bench` or a `make bench-NAME` leaves after a run on your machine — it prints:
//! - each verdict whose outcome changed (a target met there and missed here);
//! - each figure of each table, then and now, and their ratio;
//! - each column whose first three, highest first, changed;
//! - each finding ("What they say") that no longer reads the same once its figures are set
//!   aside: a ranking or a verdict stated in words.
//!
//! It reads the pages, not the JSON: they are what a reader compares, and every suite has
//! one, whatever its JSON's shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cli;

/// One Markdown table of a page: the heading above it and its header, which name it, and
/// its rows.
struct PageTable {
    heading: String,
    name: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// What a page says: its tables and its findings.
struct Page {
    tables: Vec<PageTable>,
    findings: Vec<String>,
}

/// The cells of a table's line.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split(" | ").map(|c| c.trim().to_string()).collect()
}

fn parse(text: &str) -> Page {
    let mut page = Page { tables: Vec::new(), findings: Vec::new() };
    let (mut heading, mut in_code, mut in_machine) = (String::new(), false, false);
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("```") {
            in_code = !in_code;
        } else if in_code {
        } else if let Some(h) = line.strip_prefix('#') {
            heading = h.trim_start_matches('#').trim().to_string();
            in_machine = heading == "Machine";
        } else if line.starts_with('|') && lines.get(i + 1).is_some_and(|l| l.starts_with("| ---"))
        {
            let header = cells(line);
            let mut rows = Vec::new();
            i += 2;
            while i < lines.len() && lines[i].starts_with('|') {
                rows.push(cells(lines[i]));
                i += 1;
            }
            let name = format!("{heading} · {}", header.join(" | "));
            page.tables.push(PageTable { heading: heading.clone(), name, header, rows });
            continue;
        } else if let Some(finding) = line.strip_prefix("- ").filter(|_| !in_machine) {
            page.findings.push(finding.to_string());
        }
        i += 1;
    }
    page
}

/// A cell's figure: its first number (commas out, `k` thousands), and the unit after it.
fn figure(cell: &str) -> Option<(f64, String)> {
    let start = cell.find(|c: char| c.is_ascii_digit())?;
    let before = &cell[..start];
    // A figure leads its cell: `12.3 ms`, `87.3k`, `0.83`; not `W = 64` or `exit 1: …`.
    if before.chars().any(|c| c.is_alphanumeric()) {
        return None;
    }
    let rest = &cell[start..];
    let end =
        rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ',')).unwrap_or(rest.len());
    let mut value: f64 = rest[..end].replace(',', "").parse().ok()?;
    let mut unit = rest[end..].trim_start();
    if let Some(after) = unit.strip_prefix('k').filter(|u| !u.starts_with(char::is_alphabetic)) {
        value *= 1e3;
        unit = after.trim_start();
    }
    let unit = unit.split(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
    Some((value, unit.to_string()))
}

/// A row's label: its first cell, and which of the rows with that first cell it is.
fn labels(rows: &[Vec<String>]) -> Vec<String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    rows.iter()
        .map(|r| {
            let first = r.first().map_or("", String::as_str);
            let n = seen.entry(first).or_default();
            *n += 1;
            if *n == 1 {
                first.to_string()
            } else {
                format!("{first} (row {n})")
            }
        })
        .collect()
}

/// How many of a ranking's places are compared.
const TOP: usize = 3;

const VERDICTS: [&str; 8] =
    ["met", "missed", "**missed**", "yes", "no", "**no**", "holds", "fails"];

/// A finding with its figures set aside: what it says, not how much.
fn wording(finding: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in finding.chars() {
        let digit = c.is_ascii_digit() || (in_number && (c == '.' || c == ','));
        if digit && !in_number {
            out.push('#');
        }
        in_number = digit;
        if !digit {
            out.push(c);
        }
    }
    out.replace("#k", "#")
}

/// What changed between two versions of one page, as lines to print.
fn differences(then: &Page, now: &Page) -> Vec<String> {
    let (mut verdicts, mut figures, mut rankings) = (Vec::new(), Vec::new(), Vec::new());
    for table in &now.tables {
        let Some(old) = then.tables.iter().find(|t| t.name == table.name) else { continue };
        let (old_labels, new_labels) = (labels(&old.rows), labels(&table.rows));
        let old_rows: BTreeMap<&String, &Vec<String>> = old_labels.iter().zip(&old.rows).collect();
        let mut columns: BTreeMap<usize, Vec<(String, f64, f64)>> = BTreeMap::new();
        for (label, row) in new_labels.iter().zip(&table.rows) {
            let Some(old_row) = old_rows.get(label) else { continue };
            for (c, (cell, old_cell)) in row.iter().zip(old_row.iter()).enumerate().skip(1) {
                let column = table.header.get(c).map_or("", String::as_str);
                if VERDICTS.contains(&cell.as_str()) || VERDICTS.contains(&old_cell.as_str()) {
                    if cell != old_cell {
                        verdicts.push(format!("  {label} ({column}): {old_cell} → {cell}"));
                    }
                    continue;
                }
                let (Some((a, unit_a)), Some((b, unit_b))) = (figure(old_cell), figure(cell))
                else {
                    continue;
                };
                if unit_a == unit_b {
                    columns.entry(c).or_default().push((label.clone(), a, b));
                }
                if cell != old_cell {
                    let ratio =
                        if a != 0.0 { format!(" (× {:.2})", b / a) } else { String::new() };
                    figures.push(format!(
                        "  {} · {label} · {column}: {old_cell} → {cell}{ratio}",
                        table.heading
                    ));
                }
            }
        }
        for (c, values) in columns.into_iter().filter(|(_, v)| v.len() >= TOP) {
            let order = |pick: fn(&(String, f64, f64)) -> f64| {
                let mut v: Vec<&(String, f64, f64)> = values.iter().collect();
                v.sort_by(|x, y| pick(y).total_cmp(&pick(x)));
                v.into_iter().map(|x| x.0.clone()).collect::<Vec<_>>()
            };
            let (before, after) = (order(|x| x.1), order(|x| x.2));
            // A ranking is its first three: the leader and who follows, not the order of
            // the field behind them, which noise reshuffles.
            let (before, after) = (&before[..TOP], &after[..TOP]);
            if before != after {
                let column = table.header.get(c).map_or("", String::as_str);
                rankings.push(format!(
                    "  {} · {column}, highest first: {} → {}",
                    table.heading,
                    before.join(", "),
                    after.join(", ")
                ));
            }
        }
    }
    let said = |page: &Page| {
        page.findings.iter().map(|f| (wording(f), f.clone())).collect::<BTreeMap<_, _>>()
    };
    let (old_said, new_said) = (said(then), said(now));
    let mut findings = Vec::new();
    for (words, finding) in &old_said {
        if !new_said.contains_key(words) {
            findings.push(format!("  was: {finding}"));
        }
    }
    for (words, finding) in &new_said {
        if !old_said.contains_key(words) {
            findings.push(format!("  now: {finding}"));
        }
    }
    let mut out = Vec::new();
    for (title, lines) in [
        ("verdicts that changed", verdicts),
        ("rankings whose first three changed, then → now", rankings),
        ("findings that read differently", findings),
        ("figures, then → now", figures),
    ] {
        if !lines.is_empty() {
            out.push(format!(" {title}:"));
            out.extend(lines);
        }
    }
    out
}

/// Every page of results/: each folder's README.md, and the pages at its top (syscalls.md).
fn pages(results: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(results).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() && entry.file_name() != "tmp" && path.join("README.md").exists() {
            out.push(path.join("README.md"));
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
    out.sort();
    out
}

pub fn compare(o: &cli::Compare) -> anyhow::Result<()> {
    let mut differing = 0;
    for page in pages(&o.results) {
        let now = std::fs::read_to_string(&page)?;
        let asked = ["show".to_string(), format!("{}:{}", o.rev, page.display())];
        let Ok(then) = crate::git::output(std::path::Path::new("."), &asked) else {
            println!("{}: not in {} (new since)", page.display(), o.rev);
            continue;
        };
        if then == now {
            continue;
        }
        differing += 1;
        println!("{} — {} → your run", page.display(), o.rev);
        let lines = differences(&parse(&then), &parse(&now));
        if lines.is_empty() {
            println!(" (its text differs, but no table row or finding it shares with {})", o.rev);
        }
        for line in lines {
            println!("{line}");
        }
    }
    if differing == 0 {
        println!("every page of {} is as at {}", o.results.display(), o.rev);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const THEN: &str = "## At W = 64\n\n| program | IOPS | p50 |\n| --- | --- | --- |\n\
        | `ring` | 106.1k | 0.563 ms |\n| `uring` | 81.0k | 0.654 ms |\n| `monoio` | 87.3k | 0.653 ms |\n\n\
        ## Targets\n\n| case | target | measured | verdict |\n| --- | --- | --- | --- |\n\
        | `monoio`, W = 64 | ≥ 0.8 × fio | 0.68 | **missed** |\n\n\
        ## What they say\n\n- The fastest Rust model is `ring`, at 106.1k IOPS.\n\n\
        ## Machine\n\n- date: 2026-12-06\n";

    #[test]
    fn a_run_is_told_apart_from_the_reference_by_figure_ranking_verdict_and_finding() {
        let now = THEN
            .replace("87.3k", "110.2k")
            .replace("**missed**", "met")
            .replace("is `ring`, at 106.1k", "is `monoio`, at 110.2k")
            .replace("2026-12-06", "2026-12-07");
        let lines = differences(&parse(THEN), &parse(&now)).join("\n");
        assert!(lines.contains("`monoio`, W = 64 (verdict): **missed** → met"), "{lines}");
        assert!(lines.contains("At W = 64 · `monoio` · IOPS: 87.3k → 110.2k (× 1.26)"), "{lines}");
        assert!(
            lines.contains(
                "IOPS, highest first: `ring`, `monoio`, `uring` → `monoio`, `ring`, `uring`"
            ),
            "{lines}"
        );
        assert!(lines.contains("was: The fastest Rust model is `ring`"), "{lines}");
        assert!(lines.contains("now: The fastest Rust model is `monoio`"), "{lines}");
        assert!(!lines.contains("date"), "{lines}");
        // The same page, another run's figures alone: no finding reads differently.
        let figures_only = THEN.replace("106.1k", "104.0k");
        let lines = differences(&parse(THEN), &parse(&figures_only)).join("\n");
        assert!(!lines.contains("was:") && lines.contains("(× 0.98)"), "{lines}");
    }

    #[test]
    fn a_cells_figure_leads_it() {
        assert_eq!(figure("87.3k"), Some((87_300.0, String::new())));
        assert_eq!(figure("0.563 ms"), Some((0.563, "ms".into())));
        assert_eq!(figure("2,594 syscalls"), Some((2594.0, "syscalls".into())));
        assert_eq!(figure("`ring`, W = 64"), None);
        assert_eq!(figure("— (exit 1: out of memory)"), None);
    }
}
