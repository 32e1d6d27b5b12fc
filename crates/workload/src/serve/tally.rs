//! The server's tally and its report (`CONTRACT.md`, "Serving": the report).
//!
//! Connections add their [`Counts`] when they close; refusals are counted as they happen and
//! named on stderr at most once a second, so a server out of descriptors or threads says why
//! without flooding its log.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::exchange::Counts;
use crate::error::TaskError;
use crate::{measure, Args};

/// The address the listener was bound to (`listen` sets it): with port 0, the one the
/// kernel chose, which the report gives rather than the 0 asked for.
pub(super) static BOUND: std::sync::OnceLock<std::net::SocketAddr> = std::sync::OnceLock::new();

/// What every connection of the server did, shared by its threads, and since when it has
/// served.
pub struct Counters {
    started: Instant,
    connections: AtomicU64,
    requests: AtomicU64,
    rejected: AtomicU64,
    errors: AtomicU64,
    refused: AtomicU64,
    last_named: Mutex<Option<Instant>>,
}

/// The counters' values, as a forked worker sends them to its parent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub connections: u64,
    pub requests: u64,
    pub rejected: u64,
    pub errors: u64,
    pub refused: u64,
}

impl Totals {
    /// The record's size on the pipe.
    pub const BYTES: usize = 40;

    pub fn to_bytes(self) -> [u8; Totals::BYTES] {
        let mut b = [0u8; Totals::BYTES];
        let values = [self.connections, self.requests, self.rejected, self.errors, self.refused];
        for (i, v) in values.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        }
        b
    }

    pub fn from_bytes(b: &[u8; Totals::BYTES]) -> Totals {
        let v = |i: usize| u64::from_ne_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Totals { connections: v(0), requests: v(1), rejected: v(2), errors: v(3), refused: v(4) }
    }
}

impl Default for Counters {
    /// No counts yet, and the server's clock started: it serves from now.
    fn default() -> Counters {
        Counters {
            started: Instant::now(),
            connections: AtomicU64::default(),
            requests: AtomicU64::default(),
            rejected: AtomicU64::default(),
            errors: AtomicU64::default(),
            refused: AtomicU64::default(),
            last_named: Mutex::default(),
        }
    }
}

impl Counters {
    /// A connection was accepted.
    pub fn accepted(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    /// A connection closed, having done `counts`.
    pub fn closed(&self, counts: Counts) {
        self.requests.fetch_add(counts.requests, Relaxed);
        self.rejected.fetch_add(counts.rejected, Relaxed);
        self.errors.fetch_add(counts.errors, Relaxed);
    }

    /// A connection was refused because the machine ran out of something: count it, and
    /// name the limit on stderr unless that was done less than a second ago.
    pub fn refused(&self, why: &TaskError) {
        self.refused.fetch_add(1, Relaxed);
        let mut last = self.last_named.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            *last = Some(Instant::now());
            let _ = writeln!(std::io::stderr(), "refusing connections: {why}");
        }
    }

    /// Add what a forked worker counted.
    pub fn add(&self, t: Totals) {
        self.connections.fetch_add(t.connections, Relaxed);
        self.requests.fetch_add(t.requests, Relaxed);
        self.rejected.fetch_add(t.rejected, Relaxed);
        self.errors.fetch_add(t.errors, Relaxed);
        self.refused.fetch_add(t.refused, Relaxed);
    }

    pub fn totals(&self) -> Totals {
        Totals {
            connections: self.connections.load(Relaxed),
            requests: self.requests.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            errors: self.errors.load(Relaxed),
            refused: self.refused.load(Relaxed),
        }
    }

    /// The report of a server of `model` on `workers`.
    pub fn report(&self, model: &str, args: &Args, workers: u32) -> ServeReport {
        let started = self.started;
        let usage = measure::rusage();
        let t = self.totals();
        ServeReport {
            model: model.to_string(),
            serve: BOUND.get().copied().or(args.serve).map(|a| a.to_string()).unwrap_or_default(),
            workers,
            offload: args.offload,
            connections: t.connections,
            requests: t.requests,
            rejected: t.rejected,
            errors: t.errors,
            refused: t.refused,
            wall_s: started.elapsed().as_secs_f64(),
            user_s: usage.user_s,
            sys_s: usage.sys_s,
            max_rss_kib: usage.max_rss_kib,
            children_max_rss_kib: usage.children_max_rss_kib,
            voluntary_ctx_switches: usage.voluntary_ctx_switches,
            involuntary_ctx_switches: usage.involuntary_ctx_switches,
            json: args.json,
        }
    }
}

/// What a server prints when it stops: one human line, or one JSON line with `--json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServeReport {
    pub model: String,
    /// The address it listened on (with port 0 asked for, the port the kernel chose).
    pub serve: String,
    pub workers: u32,
    #[serde(default)]
    pub offload: bool,
    pub connections: u64,
    /// Requests answered 200.
    pub requests: u64,
    /// Requests answered 4xx (bad parameters, an unknown path, a head too large).
    #[serde(default)]
    pub rejected: u64,
    /// Requests cut short, and clients closed as too slow.
    pub errors: u64,
    pub refused: u64,
    pub wall_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    pub max_rss_kib: u64,
    /// The largest peak RSS of any reaped child (`procs`), 0 otherwise.
    #[serde(default)]
    pub children_max_rss_kib: u64,
    pub voluntary_ctx_switches: u64,
    pub involuntary_ctx_switches: u64,
    #[serde(skip)]
    json: bool,
}

impl ServeReport {
    pub fn human_line(&self) -> String {
        let count =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut line = format!(
            "{} · served {} on {} · {} · {} · {} refused · {:.3} s · \
             user {:.3} s sys {:.3} s · peak RSS {:.1} MiB",
            self.model,
            count(self.requests, "request", "requests"),
            count(self.connections, "connection", "connections"),
            count(self.rejected, "answered 4xx", "answered 4xx"),
            count(self.errors, "error", "errors"),
            self.refused,
            self.wall_s,
            self.user_s,
            self.sys_s,
            self.max_rss_kib as f64 / 1024.0
        );
        if self.children_max_rss_kib > 0 {
            line +=
                &format!(" (largest child {:.1} MiB)", self.children_max_rss_kib as f64 / 1024.0);
        }
        line += &format!(
            " · {} + {} context switches",
            self.voluntary_ctx_switches, self.involuntary_ctx_switches
        );
        line
    }
}

/// The end of a server's `main`: print the report (exit 0), or the error that stopped it
/// before it could serve (exit 1).
pub fn exit(outcome: Result<ServeReport, Box<dyn std::error::Error>>) -> ExitCode {
    match outcome {
        Ok(report) => {
            crate::report::print(&report, report.json, report.human_line());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "Error: {e}");
            ExitCode::from(1)
        }
    }
}
