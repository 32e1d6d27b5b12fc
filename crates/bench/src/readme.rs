//! `make readme`: the result sections of the top-level README, generated from the JSON in
//! `results/` and written between `<!-- NAME:start -->` and `<!-- NAME:end -->` markers.
//! Every bench target runs it at its end, so the README never shows a figure by hand.

use std::path::Path;

use serde_json::Value;

use crate::run::{Measured, Row, Timing};
use crate::table::{lateness_p99, loop_lag, memory, own_wall, seconds, Table, DASH};
use crate::Options;

/// The rows a bench wrote to `dir`: timings from its `hyperfine-*.json` files whose name
/// contains `filter`, reports from `reports_file`, in the order of the reports.
pub fn load(dir: &Path, filter: &str, reports_file: &str) -> Result<Vec<Measured>, String> {
    let read = |path: &Path| -> Result<Value, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: {e} (run the bench first)", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let mut timings = std::collections::HashMap::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
        if name.starts_with("hyperfine-") && name.contains(filter) {
            for result in read(&path)?["results"].as_array().cloned().unwrap_or_default() {
                if let (Some(command), Some(timing)) =
                    (result["command"].as_str(), Timing::from_hyperfine(&result))
                {
                    timings.insert(command.to_string(), timing);
                }
            }
        }
    }
    let reports = read(&dir.join(reports_file))?;
    Ok(reports
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|entry| {
            let name = entry["name"].as_str().unwrap_or("?").to_string();
            let mut row = Row::new(name.clone(), Vec::new());
            row.article = crate::suites::article_figure(&name);
            Measured {
                timing: timings.get(&name).cloned(),
                report: Some(entry["report"].clone()).filter(|r| !r.is_null()),
                row,
            }
        })
        .collect())
}

fn median(m: &Measured) -> String {
    m.timing.as_ref().map_or(DASH.into(), |t| seconds(t.median))
}

/// The article's table: the compact form of `results/seed/README.md`.
pub fn seed_section(rows: &[Measured]) -> String {
    let mut t = Table::new(&[
        "model",
        "article",
        "median (hyperfine)",
        "own wall",
        "peak memory (self + children)",
        "p99 lateness",
    ]);
    for m in rows {
        t.push(vec![
            format!("`{}`", m.row.name),
            m.row.article.unwrap_or(DASH).to_string(),
            median(m),
            own_wall(m),
            memory(m),
            lateness_p99(m),
        ]);
    }
    format!("{}\nThe full table, with σ, min, CPU time and context switches, the reading and the machine: [results/seed](results/seed/README.md).\n", t.render())
}

/// 10,000 requests at once: the compact form of `results/http/README.md`.
pub fn http_section(rows: &[Measured]) -> String {
    let mut t =
        Table::new(&["model", "median (hyperfine)", "own wall", "peak memory", "p99 lateness"]);
    for m in rows {
        t.push(vec![
            format!("`{}`", m.row.name),
            median(m),
            own_wall(m),
            memory(m),
            lateness_p99(m),
        ]);
    }
    format!(
        "{}\nN = 100 and 1,000, serial and the pools: [results/http](results/http/README.md).\n",
        t.render()
    )
}

/// The GIL contrast: speedup over each language's serial row, and the loop's lag.
pub fn cpu_section(rows: &[Measured]) -> String {
    let serial_of = |name: &str| {
        if name.starts_with("py-") {
            "py-serial"
        } else {
            "serial"
        }
    };
    let median_of =
        |name: &str| rows.iter().find(|m| m.row.name == name)?.timing.as_ref().map(|t| t.median);
    let mut t = Table::new(&[
        "model",
        "median",
        "speedup over its serial",
        "CPU / wall",
        "loop's 10 ms timer: max lag",
    ]);
    for m in rows {
        let speedup =
            m.timing.as_ref().and_then(|t| Some(median_of(serial_of(&m.row.name))? / t.median));
        t.push(vec![
            format!("`{}`", m.row.name),
            median(m),
            speedup.map_or(DASH.into(), |s| format!("{s:.2}×")),
            m.timing
                .as_ref()
                .map_or(DASH.into(), |t| format!("{:.2}", (t.user + t.system) / t.mean)),
            loop_lag(m),
        ]);
    }
    format!("{}\nWith user + sys time, efficiency, memory and the reading: [results/cpu](results/cpu/README.md).\n", t.render())
}

/// Replace the text between `<!-- name:start -->` and `<!-- name:end -->`.
pub fn replace_section(text: &str, name: &str, content: &str) -> Result<String, String> {
    let (start, end) = (format!("<!-- {name}:start -->"), format!("<!-- {name}:end -->"));
    let (Some(a), Some(b)) = (text.find(&start), text.find(&end)) else {
        return Err(format!("README.md has no {start} … {end} markers"));
    };
    Ok(format!("{}{start}\n{content}{}", &text[..a], &text[b..]))
}

pub fn readme(options: &Options) -> Result<(), String> {
    let path = Path::new(options.get_or("readme", "README.md"));
    let results = Path::new(options.get_or("results", "results"));
    let mut text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let sections: [(&str, Result<String, String>); 4] = [
        ("seed", load(&results.join("seed"), "", "reports.json").map(|rows| seed_section(&rows))),
        (
            "http",
            load(&results.join("http"), "n10000", "reports-n10000.json")
                .map(|rows| http_section(&rows)),
        ),
        ("cpu", load(&results.join("cpu"), "", "reports.json").map(|rows| cpu_section(&rows))),
        ("scale", crate::scale::summary(&results.join("scale"))),
    ];
    for (name, content) in sections {
        match content {
            Ok(content) => text = replace_section(&text, name, &content)?,
            Err(e) => eprintln!("README section {name} left as it was: {e}"),
        }
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
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
        std::fs::write(dir.join("reports.json"), r#"[{"name":"tokio","argv":[],"report":{"wall_s":1.0012,"max_rss_kib":3174,"children_max_rss_kib_sum":0,"lateness_ms":{"p99":1.14}}},{"name":"py-uvloop","argv":[],"report":null}]"#).unwrap();
        let rows = load(&dir, "", "reports.json").unwrap();
        let text = seed_section(&rows);
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
