//! Running the commands: hyperfine for the timings, then each command once more with `--json`
//! for its own report (hyperfine's memory figure is a high-water mark over every process it
//! ever waited for, so only the binary itself can say what one run used).

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use workload::Report;

/// Where the model binaries are: next to this one (target/release).
pub fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target/release"))
}

/// A model binary, as the start of a command line.
pub fn model_program(binary: &str) -> Vec<String> {
    vec![bin_dir().join(binary).display().to_string()]
}

/// One command of a benchmark: a model binary or a peer with its arguments.
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

/// hyperfine's `--export-json` file.
#[derive(Deserialize)]
pub struct HyperfineExport {
    pub results: Vec<Timing>,
}

/// hyperfine's figures for one command, in seconds: one entry of its export's `results`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub command: String,
    pub mean: f64,
    /// `null` when there was a single run.
    pub stddev: Option<f64>,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub user: f64,
    pub system: f64,
    /// One per run; `null` for a run ended by a signal.
    pub exit_codes: Vec<Option<i32>>,
}

impl Timing {
    pub fn runs(&self) -> usize {
        self.exit_codes.len()
    }

    /// Runs that exited non-zero (hyperfine runs with --ignore-failure).
    pub fn failed_runs(&self) -> usize {
        self.exit_codes.iter().filter(|c| **c != Some(0)).count()
    }
}

/// One command's own report, as a bench writes it to `reports*.json`.
#[derive(Serialize, Deserialize)]
pub struct ReportEntry {
    pub name: String,
    pub argv: Vec<String>,
    pub report: Option<Report>,
}

/// A row with what was measured of it.
#[derive(Clone, Debug)]
pub struct Measured {
    pub row: Row,
    pub timing: Option<Timing>,
    /// The command's own `--json` report from one more run.
    pub report: Option<Report>,
}

/// Rows timed together in one hyperfine run, so their figures compare as ratios.
pub struct Group {
    /// Names the export, `hyperfine-<label>.json`.
    pub label: String,
    pub rows: Vec<Row>,
    pub warmup: u32,
    pub runs: u32,
}

/// Where a benchmark writes, and the hyperfine it uses.
pub struct Bench {
    pub hyperfine: String,
    pub out: PathBuf,
}

impl Bench {
    pub fn new(hyperfine: String, out: &Path) -> anyhow::Result<Bench> {
        std::fs::create_dir_all(out)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
        Ok(Bench { hyperfine, out: out.to_path_buf() })
    }

    /// Each group's rows, run once with `--json` for their reports, then timed together in
    /// one hyperfine run; the reports go to `reports_file`, and the rows come back in the
    /// order given.
    pub fn measure(&self, groups: Vec<Group>, reports_file: &str) -> anyhow::Result<Vec<Measured>> {
        let mut all = Vec::new();
        for group in groups {
            let (label, warmup, runs) = (group.label.clone(), group.warmup, group.runs);
            let measured = self.time(&label, self.reports(group.rows), warmup, runs)?;
            all.extend(measured);
        }
        self.write_reports(&all, reports_file)?;
        Ok(all)
    }

    /// Each row run once with `--json`, for its own report. This comes before hyperfine: a
    /// row that hangs is killed at [`child::limit`], marked "timed out after N s",
    /// and left out of the timings, so that it cannot hang the benchmark.
    pub fn reports(&self, rows: Vec<Row>) -> Vec<Measured> {
        eprintln!("== {} commands, one run each with --json for its own report", rows.len());
        rows.into_iter()
            .map(|mut row| {
                let report = match &row.missing {
                    Some(_) => None,
                    None => match report_of(&row) {
                        Ok(report) => report,
                        Err(timed_out) => {
                            row.missing = Some(timed_out.to_string());
                            None
                        }
                    },
                };
                Measured { row, timing: None, report }
            })
            .collect()
    }

    /// The runnable rows of `measured` timed together in one hyperfine run.
    pub fn time(
        &self,
        label: &str,
        mut measured: Vec<Measured>,
        warmup: u32,
        runs: u32,
    ) -> anyhow::Result<Vec<Measured>> {
        let rows: Vec<Row> = measured.iter().map(|m| m.row.clone()).collect();
        let group = Group { label: label.to_string(), rows, warmup, runs };
        for (m, timing) in measured.iter_mut().zip(self.hyperfine(&group)?) {
            m.timing = timing;
        }
        Ok(measured)
    }

    /// The reports of `measured`, to `reports_file`.
    pub fn write_reports(&self, measured: &[Measured], reports_file: &str) -> anyhow::Result<()> {
        let entries: Vec<ReportEntry> = measured
            .iter()
            .map(|m| ReportEntry {
                name: m.row.name.clone(),
                argv: m.row.argv.clone(),
                report: m.report.clone(),
            })
            .collect();
        self.write(reports_file, &to_json(&entries))
    }

    /// Time the group's runnable rows in one hyperfine run; `None` for the others.
    fn hyperfine(&self, group: &Group) -> anyhow::Result<Vec<Option<Timing>>> {
        let runnable: Vec<&Row> = group.rows.iter().filter(|r| r.missing.is_none()).collect();
        if runnable.is_empty() {
            return Ok(vec![None; group.rows.len()]);
        }
        let export = self.out.join(format!("hyperfine-{}.json", group.label));
        let mut cmd = child::command(&self.hyperfine);
        cmd.args(["-N", "--ignore-failure", "--style", "basic"])
            .args(["--warmup", &group.warmup.to_string(), "--runs", &group.runs.to_string()])
            .arg("--export-json")
            .arg(&export);
        for row in &runnable {
            cmd.args(["--command-name", &row.name]);
        }
        cmd.args(runnable.iter().map(|r| r.command_line()));
        eprintln!(
            "\n== hyperfine {}: {} commands, {} warm-up + {} runs each",
            group.label,
            runnable.len(),
            group.warmup,
            group.runs
        );
        // No limit but its rows': each ran once under the children's limit before this,
        // and hyperfine's whole run takes as long as its rows, times its runs.
        let status = child::run_attached(cmd, Duration::MAX)
            .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", self.hyperfine))?;
        if !status.is_some_and(|s| s.success()) {
            return Err(anyhow::anyhow!("hyperfine failed ({status:?})"));
        }
        let mut timings = read_json::<HyperfineExport>(&export)?.results.into_iter();
        Ok(group
            .rows
            .iter()
            .map(|r| if r.missing.is_none() { timings.next() } else { None })
            .collect())
    }

    pub fn write(&self, name: &str, contents: &str) -> anyhow::Result<()> {
        write(&self.out.join(name), contents)
    }
}

/// One run of the row with `--json`: its report, or `None` when it printed none; `Err` when
/// it was killed at the child's time limit.
pub fn report_of(row: &Row) -> anyhow::Result<Option<Report>> {
    let argv: Vec<String> = row.argv.iter().cloned().chain(["--json".to_string()]).collect();
    let limit = child::limit();
    let Ok(ran) = child::run_argv(&argv, &[], limit) else { return Ok(None) };
    if ran.status.is_none() {
        let outcome = ran.outcome(limit);
        eprintln!("warning: {}: {outcome}; left out of the timings", row.name);
        return Err(anyhow::anyhow!(outcome));
    }
    if ran.status.is_some_and(|s| !s.success()) {
        eprintln!("warning: {}: {}", row.name, ran.outcome(limit));
    }
    Ok(report_line(&ran.stdout))
}

/// The `--json` report in a command's stdout: its last line that parses as a report.
pub fn report_line(stdout: &str) -> Option<Report> {
    stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok())
}

/// Read and parse a JSON file, saying which file when it fails.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: {e} (run the bench first)", path.display()))?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}

pub fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).expect("results always serialize")
}

pub fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// User and system CPU seconds of a process, from /proc/PID/stat.
pub fn cpu_seconds(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    // SAFETY: sysconf takes a constant and touches no memory of ours.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let at = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / ticks;
    (at(11), at(12)) // utime and stime: fields 14 and 15 of stat, 12 and 13 after the name
}
