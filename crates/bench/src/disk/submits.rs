//! How each program on an io_uring hands its reads to the kernel at 64 in flight: every
//! `io_uring_enter` of one run under `strace -f -e trace=io_uring_enter`, and the entries each
//! call submitted (its `to_submit`). A program that submits each read as soon as it can keeps
//! 64 at the device; one that submits only once a turn of its runtime may find the whole
//! depth waiting each time, and its reads then reach the device in bursts.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Program;

/// The depth the target is judged at, and the reads of the traced run.
pub const DEPTH: u32 = 64;
const READS: u32 = 50_000;

/// The programs whose reads go through an io_uring.
pub const ON_A_RING: [&str; 3] = ["uring", "ring", "monoio"];

/// One program's `io_uring_enter` calls over one run.
#[derive(Clone, Serialize, Deserialize)]
pub struct Submits {
    pub program: String,
    /// Every call, and the entries they submitted in all.
    pub calls: u64,
    pub entries: u64,
    /// Calls that submitted nothing (they only waited, or reaped).
    pub empty: u64,
    /// Calls that submitted all [`DEPTH`] reads at once: none was in flight before them.
    pub whole_depth: u64,
}

impl Submits {
    /// Entries a call that submitted any.
    pub fn per_submit(&self) -> Option<f64> {
        let submitting = self.calls.checked_sub(self.empty).filter(|n| *n > 0)?;
        Some(self.entries as f64 / submitting as f64)
    }
}

/// Count `strace`'s lines: `io_uring_enter(fd, to_submit, min_complete, flags, …)`, with a
/// pid in front under -f, and each call once (a call left unfinished has its arguments on
/// its first line).
pub fn count(program: &str, trace: &str) -> Submits {
    let mut s = Submits { program: program.into(), calls: 0, entries: 0, empty: 0, whole_depth: 0 };
    for line in trace.lines() {
        let Some((_, args)) = line.split_once("io_uring_enter(") else { continue };
        let Some(to_submit) = args.split(", ").nth(1).and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        s.calls += 1;
        s.entries += to_submit;
        s.empty += u64::from(to_submit == 0);
        s.whole_depth += u64::from(to_submit == u64::from(DEPTH));
    }
    s
}

/// Each program of [`ON_A_RING`] that runs here, traced once at [`DEPTH`].
pub fn measure(programs: &[Program], file: &Path) -> Vec<Submits> {
    let scratch = std::env::temp_dir().join(format!("conclab-submits-{}", std::process::id()));
    let mut out = Vec::new();
    for p in programs.iter().filter(|p| ON_A_RING.contains(&p.name.as_str())) {
        if p.missing.is_some() || super::page_cache(file, false).is_err() {
            continue;
        }
        let mut argv = p.argv.clone();
        let (reads, depth, file) =
            (READS.to_string(), DEPTH.to_string(), file.display().to_string());
        argv.extend(
            ["--workload", "disk", "--tasks", &reads, "--workers", &depth, "--file", &file]
                .map(String::from),
        );
        match crate::trace::strace(&["-f", "-e", "trace=io_uring_enter"], &scratch, argv, None) {
            Ok(trace) => out.push(count(&p.name, &trace)),
            Err(e) => eprintln!("bench disk: {}'s submissions not counted: {e:#}", p.name),
        }
    }
    let _ = std::fs::remove_file(&scratch);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strace_lines_count_once_each() {
        let trace = "\
1234  io_uring_enter(3, 64, 0, 0, NULL, 128) = 64
1234  io_uring_enter(3, 0, 1, IORING_ENTER_GETEVENTS, NULL, 128 <unfinished ...>
1234  <... io_uring_enter resumed>) = 0
io_uring_enter(5, 3, 1, IORING_ENTER_GETEVENTS|IORING_ENTER_EXT_ARG, 0x7ff, 24) = 3
1234  +++ exited with 0 +++";
        let s = count("x", trace);
        assert_eq!((s.calls, s.entries, s.empty, s.whole_depth), (3, 67, 1, 1));
        assert_eq!(s.per_submit(), Some(33.5));
    }
}
