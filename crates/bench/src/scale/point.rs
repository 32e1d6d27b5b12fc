//! One point of the sweep: a run of one binary at one N, killed if it takes too long, with
//! its report or the error it stopped with.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use workload::Report;

use crate::table::seconds;

/// A run that takes longer than this stops its line of the sweep.
pub const LIMIT: Duration = Duration::from_secs(60);

/// One measured point, as `scale.json` holds it.
#[derive(Serialize, Deserialize)]
pub struct Point {
    pub line: String,
    pub n: u64,
    /// "ok", "exit 1", "killed after 60 s", …
    pub status: String,
    /// The binary's own last `Error` line, or why it did not finish; `None` when it succeeded.
    pub error: Option<String>,
    pub report: Option<Report>,
}

impl Point {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// The peers (every program not a Rust model) are drawn dashed.
    pub fn peer(&self) -> bool {
        !crate::programs::is_rust(&self.line)
    }

    /// Peak memory of the process and its children, in KiB.
    pub fn memory_kib(&self) -> Option<f64> {
        let r = self.report.as_ref()?;
        Some((r.max_rss_kib + r.children_max_rss_kib_sum) as f64)
    }

    pub fn wall_s(&self) -> Option<f64> {
        Some(self.report.as_ref()?.wall_s)
    }

    /// Wall time above the ideal, in ms.
    pub fn overhead_ms(&self) -> Option<f64> {
        let r = self.report.as_ref()?;
        Some((r.wall_s - r.ideal_s?) * 1000.0)
    }

    /// Run `argv` (with `--json` and `env`) as the point at `n` of `line`.
    pub fn run(line: &str, n: u64, argv: &[String], env: &[(String, String)]) -> Point {
        let mut point =
            Point { line: line.into(), n, status: String::new(), error: None, report: None };
        let argv: Vec<String> = argv.iter().cloned().chain(["--json".to_string()]).collect();
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        // The whole process group goes at the limit: grandchildren cannot hold the pipes.
        let (status, stdout, stderr) = match child::run_argv(&argv, &env, LIMIT) {
            Ok(ran) => (ran.status, ran.stdout, ran.stderr),
            Err(e) => {
                point.error = Some(format!("cannot start {}: {e}", argv[0]));
                return point;
            }
        };
        point.report = crate::run::report_line(&stdout);
        match status {
            None => {
                point.status = format!("killed after {} s", LIMIT.as_secs());
                point.error = Some(format!("took over {} s", LIMIT.as_secs()));
            }
            Some(s) if s.success() => point.status = "ok".into(),
            Some(s) => {
                point.status = s.code().map_or_else(|| format!("{s}"), |c| format!("exit {c}"));
                let last =
                    stderr.lines().rev().find(|l| l.starts_with("Error")).or(stderr.lines().last());
                point.error = Some(last.unwrap_or("no message").trim().to_string());
            }
        }
        let wall = point.wall_s().map_or(String::new(), seconds);
        eprintln!("{:>28} N = {:>9}: {} {wall}", point.line, n, point.status);
        point
    }
}
