//! One point of the sweep: a run of one binary at one N, killed if it takes too long, with
//! its report or the error it stopped with.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

    /// The peers (Python, Node, Go) are drawn dashed.
    pub fn peer(&self) -> bool {
        crate::peers::Runtime::of(&self.line) != crate::peers::Runtime::Rust
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
        let (status, stdout, stderr) = match run_with_limit(argv, env) {
            Ok(done) => done,
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

/// Run `argv --json` to its end or [`LIMIT`]: its exit status (`None` if killed), stdout
/// and stderr.
fn run_with_limit(
    argv: &[String],
    env: &[(String, String)],
) -> std::io::Result<(Option<std::process::ExitStatus>, String, String)> {
    let started = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .arg("--json")
        .envs(env.iter().cloned())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Read the pipes on threads so a chatty child cannot fill them and stall.
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || std::io::read_to_string(&mut out).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(&mut err).unwrap_or_default());
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    Ok((status, out.join().unwrap_or_default(), err.join().unwrap_or_default()))
}
