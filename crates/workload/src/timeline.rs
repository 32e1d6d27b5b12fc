//! `--timeline FILE` (`CONTRACT.md`, "Timeline"): which task ran when, and where — the
//! [`Runner`] that `--verbose` names too.
//!
//! One JSON object per line: a task as `{"id":I,"start":S,"end":E,"pid":P,"tid":T}`, with
//! S and E in seconds since the run's start on the one monotonic clock every process and
//! thread shares; an event loop's pulse tick as `{"tick_due":D,"tick_at":A}`. Nothing is
//! kept unless the flag is given.

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which process and thread ran a task, for `--verbose`.
#[derive(Clone, Copy, Debug)]
pub struct Runner {
    pub pid: u32,
    pub tid: u32,
}

impl Runner {
    pub fn here() -> Runner {
        Runner { pid: std::process::id(), tid: nix::unistd::gettid().as_raw() as u32 }
    }

    /// [`Runner::here`] without its two syscalls after the first call on each thread: at a
    /// million tasks they cost more than the tasks. Not for a forked child, whose copy of the
    /// thread-local would name its parent (`procs` records its children's pids itself).
    pub fn cached() -> Runner {
        thread_local!(static HERE: Runner = Runner::here());
        HERE.with(|runner| *runner)
    }
}

/// One line of a timeline file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Line {
    Task { id: u32, start: f64, end: f64, pid: u32, tid: u64 },
    Tick { tick_due: f64, tick_at: f64 },
}

/// What a run records for its timeline.
#[derive(Default)]
pub struct Timeline {
    lines: Vec<Line>,
}

impl Timeline {
    pub fn task(&mut self, id: u32, start: Duration, end: Duration, runner: Runner) {
        let (start, end) = (start.as_secs_f64(), end.as_secs_f64());
        self.lines.push(Line::Task { id, start, end, pid: runner.pid, tid: runner.tid.into() });
    }

    pub fn tick(&mut self, due: Duration, at: Duration) {
        self.lines.push(Line::Tick { tick_due: due.as_secs_f64(), tick_at: at.as_secs_f64() });
    }

    /// Write every line to `path`, tasks in the order they finished, then the ticks.
    pub fn write(self, path: &str) -> io::Result<()> {
        let mut out = BufWriter::new(std::fs::File::create(path)?);
        for line in &self.lines {
            serde_json::to_writer(&mut out, line)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// Read a timeline file back (for `bench timelines` and the tests).
    pub fn read(path: &std::path::Path) -> io::Result<Vec<Line>> {
        let text = std::fs::read_to_string(path)?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| io::Error::other(format!("{path:?}: {e}: {l}")))
            })
            .collect()
    }
}
