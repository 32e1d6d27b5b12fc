//! Running the commands: hyperfine for the timings, then each command once more with `--json`
//! for its own report (hyperfine's memory figure is a high-water mark over every process it
//! ever waited for, so only the binary itself can say what one run used).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// One command of a benchmark: a model binary or a Python peer with its arguments.
#[derive(Clone, Debug)]
pub struct Row {
    /// The name in tables and in hyperfine's output, e.g. `tokio` or `py-threads (10 workers)`.
    pub name: String,
    /// Program and arguments, without `--json`.
    pub argv: Vec<String>,
    /// The article's figure for this row, where it has one.
    pub article: Option<&'static str>,
    /// Why this row cannot run here (e.g. "python3 not found"); it is shown, not measured.
    pub missing: Option<String>,
}

impl Row {
    pub fn new(name: impl Into<String>, argv: Vec<String>) -> Row {
        Row { name: name.into(), argv, article: None, missing: None }
    }

    fn command_line(&self) -> String {
        self.argv
            .iter()
            .map(|a| if a.contains(' ') { format!("'{a}'") } else { a.clone() })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// hyperfine's figures for one command, in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    pub mean: f64,
    pub stddev: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub user: f64,
    pub system: f64,
    pub runs: usize,
    /// Runs that exited non-zero (hyperfine ran with --ignore-failure).
    pub failed_runs: usize,
}

impl Timing {
    /// From one entry of hyperfine's `--export-json` `results` array.
    pub fn from_hyperfine(result: &Value) -> Option<Timing> {
        let f = |k: &str| result[k].as_f64();
        let codes = result["exit_codes"].as_array()?;
        Some(Timing {
            mean: f("mean")?,
            stddev: f("stddev").unwrap_or(0.0),
            median: f("median")?,
            min: f("min")?,
            max: f("max")?,
            user: f("user")?,
            system: f("system")?,
            runs: codes.len(),
            failed_runs: codes.iter().filter(|c| c.as_i64() != Some(0)).count(),
        })
    }
}

/// A row with what was measured of it.
#[derive(Clone, Debug)]
pub struct Measured {
    pub row: Row,
    pub timing: Option<Timing>,
    /// The command's own `--json` report from one more run.
    pub report: Option<Value>,
}

impl Measured {
    pub fn report_f64(&self, field: &str) -> Option<f64> {
        self.report.as_ref()?.get(field)?.as_f64()
    }

    /// How late the event loop's 10 ms timer woke at worst (`loop_lag_ms.max`), if it ran.
    pub fn loop_lag_max(&self) -> Option<f64> {
        self.report.as_ref()?["loop_lag_ms"]["max"].as_f64()
    }
}

/// Where a benchmark writes, and the hyperfine it uses.
pub struct Bench {
    pub hyperfine: String,
    pub out: PathBuf,
}

impl Bench {
    pub fn new(hyperfine: String, out: &Path) -> Result<Bench, String> {
        std::fs::create_dir_all(out)
            .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
        Ok(Bench { hyperfine, out: out.to_path_buf() })
    }

    /// Time `rows` in one hyperfine run, so their figures compare as ratios; the JSON export
    /// goes to `hyperfine-<label>.json`.
    pub fn hyperfine(
        &self,
        label: &str,
        rows: &[Row],
        warmup: u32,
        runs: u32,
    ) -> Result<Vec<Option<Timing>>, String> {
        let runnable: Vec<&Row> = rows.iter().filter(|r| r.missing.is_none()).collect();
        if runnable.is_empty() {
            return Ok(vec![None; rows.len()]);
        }
        let export = self.out.join(format!("hyperfine-{label}.json"));
        let mut cmd = Command::new(&self.hyperfine);
        cmd.args(["-N", "--ignore-failure", "--style", "basic"])
            .args(["--warmup", &warmup.to_string(), "--runs", &runs.to_string()])
            .arg("--export-json")
            .arg(&export);
        for row in &runnable {
            cmd.args(["--command-name", &row.name]);
        }
        cmd.args(runnable.iter().map(|r| r.command_line()));
        eprintln!(
            "\n== hyperfine {label}: {} commands, {warmup} warm-up + {runs} runs each",
            runnable.len()
        );
        let status = cmd.status().map_err(|e| format!("cannot run {}: {e}", self.hyperfine))?;
        if !status.success() {
            return Err(format!("hyperfine failed ({status})"));
        }
        let text =
            std::fs::read_to_string(&export).map_err(|e| format!("{}: {e}", export.display()))?;
        let json: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", export.display()))?;
        let results = json["results"].as_array().cloned().unwrap_or_default();
        let mut timings = results.iter().map(Timing::from_hyperfine);
        Ok(rows
            .iter()
            .map(|r| if r.missing.is_none() { timings.next().flatten() } else { None })
            .collect())
    }

    /// Run each row once with `--json` and keep its report.
    pub fn reports(&self, rows: &[Row]) -> Vec<Option<Value>> {
        rows.iter().map(|row| if row.missing.is_some() { None } else { report_of(row) }).collect()
    }

    pub fn write(&self, name: &str, contents: &str) -> Result<(), String> {
        let path = self.out.join(name);
        std::fs::write(&path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// One run of the row with `--json`: its report, or `None` when it printed none.
pub fn report_of(row: &Row) -> Option<Value> {
    let out = Command::new(&row.argv[0]).args(&row.argv[1..]).arg("--json").output().ok()?;
    if !out.status.success() {
        eprintln!(
            "warning: {} exited with {}: {}",
            row.name,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    report_line(&String::from_utf8_lossy(&out.stdout))
}

/// The `--json` report in a command's stdout: its last line that parses as JSON.
pub fn report_line(stdout: &str) -> Option<Value> {
    stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok())
}

/// Pair rows with their timings and reports.
pub fn measured(
    rows: Vec<Row>,
    timings: Vec<Option<Timing>>,
    reports: Vec<Option<Value>>,
) -> Vec<Measured> {
    rows.into_iter()
        .zip(timings)
        .zip(reports)
        .map(|((row, timing), report)| Measured { row, timing, report })
        .collect()
}
