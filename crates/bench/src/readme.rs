//! `make readme`: the result sections of the top-level README, generated from the JSON in
//! `results/` and written between `<!-- NAME:start -->` and `<!-- NAME:end -->` markers.
//! `make bench`, `bench-http`, `bench-cpu` and `bench-scale` run it at their end, so the
//! README never shows a figure by hand (`bench-quick` writes only to results/tmp/).

use anyhow::Context;
use std::path::Path;

use crate::cli::Readme;
use crate::run::{read_json, HyperfineExport, Measured, ReportEntry, Row};
use crate::table::{lateness_p99, loop_lag, memory, own_wall, seconds, Table, DASH};
use crate::template;

/// The rows a bench wrote to `dir`: timings from its `hyperfine-*.json` files whose name
/// contains `filter`, reports from `reports_file`, in the order of the reports.
pub fn load(dir: &Path, filter: &str, reports_file: &str) -> anyhow::Result<Vec<Measured>> {
    let mut timings = std::collections::HashMap::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| dir.display().to_string())?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
        if name.starts_with("hyperfine-") && name.contains(filter) {
            for timing in read_json::<HyperfineExport>(&path)?.results {
                timings.insert(timing.command.clone(), timing);
            }
        }
    }
    let reports: Vec<ReportEntry> = read_json(&dir.join(reports_file))?;
    Ok(reports
        .into_iter()
        .map(|entry| {
            let mut row = Row::new(entry.name.clone(), entry.argv);
            row.article = crate::timed::article_figure(&entry.name);
            Measured { timing: timings.remove(&entry.name), report: entry.report, row }
        })
        .collect())
}

fn median(m: &Measured) -> String {
    m.timing.as_ref().map_or(DASH.into(), |t| seconds(t.median))
}

/// The article's table: the compact form of `results/seed/README.md`.
pub fn seed_section(rows: &[Measured]) -> anyhow::Result<String> {
    let mut t = Table::new(&[
        "model",
        "article",
        "median (hyperfine)",
        "own wall",
        "peak memory (self + children)",
        "p99 lateness",
    ]);
    for m in rows {
        let report = m.report.as_ref();
        t.push(vec![
            format!("`{}`", m.row.name),
            m.row.article.unwrap_or(DASH).to_string(),
            median(m),
            own_wall(report),
            memory(report),
            lateness_p99(report),
        ]);
    }
    template::fill("readme-seed.md", template::README_SEED, &[("table", &t.render())])
}

/// 10,000 requests at once: the compact form of `results/http/README.md`.
pub fn http_section(rows: &[Measured]) -> anyhow::Result<String> {
    let mut t =
        Table::new(&["model", "median (hyperfine)", "own wall", "peak memory", "p99 lateness"]);
    for m in rows {
        let report = m.report.as_ref();
        t.push(vec![
            format!("`{}`", m.row.name),
            median(m),
            own_wall(report),
            memory(report),
            lateness_p99(report),
        ]);
    }
    template::fill("readme-http.md", template::README_HTTP, &[("table", &t.render())])
}

/// The GIL contrast: speedup over each language's serial row, and the loop's lag.
pub fn cpu_section(rows: &[Measured]) -> anyhow::Result<String> {
    let median_of = |name: &str| crate::reading::median(rows, name);
    let mut t = Table::new(&[
        "model",
        "median",
        "speedup over its serial",
        "CPU / wall",
        "loop's 10 ms timer: max lag",
    ]);
    for m in rows {
        // A row whose program is not in the roster has no runtime to be compared within.
        let serial = crate::programs::one_at_a_time(&m.row.name)?;
        let speedup = m.timing.as_ref().and_then(|t| Some(median_of(serial)? / t.median));
        t.push(vec![
            format!("`{}`", m.row.name),
            median(m),
            speedup.map_or(DASH.into(), |s| format!("{s:.2}×")),
            m.timing
                .as_ref()
                .map_or(DASH.into(), |t| format!("{:.2}", (t.user + t.system) / t.mean)),
            loop_lag(m.report.as_ref()),
        ]);
    }
    template::fill("readme-cpu.md", template::README_CPU, &[("table", &t.render())])
}

/// Replace the text between `<!-- name:start -->` and `<!-- name:end -->`.
pub fn replace_section(text: &str, name: &str, content: &str) -> anyhow::Result<String> {
    let (start, end) = (format!("<!-- {name}:start -->"), format!("<!-- {name}:end -->"));
    let (Some(a), Some(b)) = (text.find(&start), text.find(&end)) else {
        return Err(anyhow::anyhow!("README.md has no {start} … {end} markers"));
    };
    Ok(format!("{}{start}\n{content}{}", &text[..a], &text[b..]))
}

pub fn readme(options: &Readme) -> anyhow::Result<()> {
    let (path, results) = (options.readme.as_path(), options.results.as_path());
    let mut text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let sections: [(&str, anyhow::Result<String>); 12] = [
        ("seed", load(&results.join("seed"), "", "reports.json").and_then(|r| seed_section(&r))),
        (
            "http",
            load(&results.join("http"), "n10000", "reports-n10000.json")
                .and_then(|r| http_section(&r)),
        ),
        ("cpu", load(&results.join("cpu"), "", "reports.json").and_then(|r| cpu_section(&r))),
        ("scale", crate::scale::SUITE.section(results)),
        ("loops", crate::loops::section(results)),
        ("claim", crate::claim::section(results)),
        ("serve", crate::serve::SUITE.section(results)),
        ("disk", crate::disk::SUITE.section(results)),
        ("brigade", crate::brigade::SUITE.section(results)),
        ("pools", crate::pools::SUITE.section(results)),
        ("db", crate::db::SUITE.section(results)),
        ("reliability", crate::soak::tables::reliability(results)),
    ];
    let mut stale = Vec::new();
    for (name, content) in sections {
        match content {
            Ok(content) => {
                let new = replace_section(&text, name, &content)?;
                if new != text {
                    stale.push(name);
                }
                text = new;
            }
            Err(e) => eprintln!("README section {name} left as it was: {e}"),
        }
    }
    if !options.check {
        return std::fs::write(path, text).with_context(|| path.display().to_string());
    }
    let drifts = crate::drift::check(path, results)?;
    for d in &drifts {
        println!("{}:{}: {} is in no result (results/)", d.file, d.line, d.figure);
    }
    for name in &stale {
        println!("{}: the {name} section is not what results/ gives (make readme)", path.display());
    }
    if drifts.is_empty() && stale.is_empty() {
        println!("{}: every figure is in results/, every section up to date", path.display());
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "{} figures in no result, {} stale sections",
            drifts.len(),
            stale.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_between_its_markers_only() {
        let text = "intro\n<!-- seed:start -->\nold\n<!-- seed:end -->\nrest\n";
        let new = replace_section(text, "seed", "| new |\n").unwrap();
        assert_eq!(new, "intro\n<!-- seed:start -->\n| new |\n<!-- seed:end -->\nrest\n");
        assert!(replace_section(text, "cpu", "x").is_err());
    }

    #[test]
    fn rows_load_from_the_json_a_bench_wrote() {
        let dir = std::env::temp_dir().join(format!("conclab-readme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hyperfine-concurrent.json"), r#"{"results":[{"command":"tokio","mean":1.0021,"stddev":0.0004,"median":1.0019,"min":1.0015,"max":1.003,"user":0.002,"system":0.003,"exit_codes":[0,0]}]}"#).unwrap();
        std::fs::write(dir.join("reports.json"), r#"[{"name":"tokio","argv":[],"report":{"model":"tokio","workload":"sleep","tasks":10,"workers":2,"ok":10,"failed":0,"checksum":1045,"wall_s":1.0012,"ideal_s":1.0,"max_rss_kib":3174,"children_max_rss_kib_sum":0,"voluntary_ctx_switches":31,"involuntary_ctx_switches":2,"lateness_ms":{"p50":0.4,"p99":1.14,"max":1.2}}},{"name":"py-uvloop","argv":[],"report":null}]"#).unwrap();
        let rows = load(&dir, "", "reports.json").unwrap();
        let text = seed_section(&rows).unwrap();
        assert!(
            text.contains(
                "| `tokio` | 1.0110 s (asyncio) | 1.0019 s | 1.0012 s | 3.1 MiB | 1.1 ms |"
            ),
            "{text}"
        );
        assert!(text.contains("| `py-uvloop` | 1.01 s | — | — | — | — |"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
