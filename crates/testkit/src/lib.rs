//! # testkit — what the integration tests share
//!
//! The tests drive the real binaries as a user would, so a test here can only see what a
//! user sees: the exit status, stdout, stderr, the time it took, and the processes it left
//! behind. Each model's `tests/<model>.rs` invokes the suites its kind of model must pass,
//! then adds the tests that tell its model apart (serial is slow, pools run in rounds, forks
//! can run out).
//!
//! # Layout
//!
//! - [`mod@run`]: run a binary and read its [`Outcome`]; run it under a lowered RLIMIT_NPROC or
//!   RLIMIT_NOFILE, as root or as any other user, or where io_uring is refused; find the
//!   processes a run left behind.
//! - [`servers`]: the project's service in-process, and the servers that misbehave on
//!   purpose: one that refuses, one that never answers, one that cuts its answer short, one
//!   that streams it in chunks.
//! - [`serving`]: a model started with `--serve`, and the clients that test it.
//! - [`brigade_checks`]: the brigade's rings, for the models' `brigade_tests!` and the peers.
//! - [`contract_checks`]: the contract's core for any program — tasks, checksums, report,
//!   exit statuses, the http task against good and misbehaving servers — for the models'
//!   `contract_tests!`, the peers and `bench conform`.
//! - [`cli_checks`]: what every command line must do for a newcomer: no file touched before
//!   its arguments are accepted, no flag silently ignored, clap's suggestions kept, bind
//!   errors told apart.
//! - [`needs`]: what a check needs of a program — workloads, flags — read from its roster
//!   entry, so that a partial program is checked on what it takes.
//! - [`pool_checks`]: what every pool does with a size the machine cannot give: bad input
//!   past any machine, refused before it starts past this one's limits.
//! - [`signal_checks`]: Ctrl-C and SIGTERM end a run at once, leaving nothing behind.
//! - [`postgres`]: a real PostgreSQL cluster for the db tests, started for the test
//!   process and gone with it.
//! - [`db_checks`]: what every program must do with the db workload against it, for the
//!   models' `db_tests!` and the peers alike.
//! - [`disk_checks`]: what every program must do with the disk workload, in a scratch
//!   folder on a real disk, for the models' `disk_tests!` and the peers alike.
//! - [`crawl_checks`]: what every program must do with the crawl workload, against the
//!   project's web served in-process and the answer sheet it computes, for the models'
//!   `crawl_tests!` and the peers alike.
//! - [`serve_checks`]: what every server must do, for the models' `serve_tests!` and the
//!   peers alike.
//! - [`mod@checks`]: a [`Check`](checks::Check) and the [`CheckGroup`](checks::CheckGroup)
//!   it belongs to; [`check_groups`] lists every group, for the peers' tests and
//!   `bench conform`.
//! - [`mod@suites`]: the test suites as macros, each taking the binary's name —
//!   [`contract_tests!`] for every model, [`concurrent_tests!`], [`socket_limit_tests!`] and
//!   [`event_loop_tests!`] for the models of each kind; [`pool_tests!`] and
//!   [`offload_tests!`] come with every model and run where its roster.toml entry declares
//!   the knob. A workload's suite lives beside its checks (`disk_tests!` in `disk_checks`,
//!   and so on), and runs where the entry says the model runs the workload.
//!
//! Every binary is started through the `child` crate, the harness's one way to start a
//! program: a process group of its own, one time limit, the group killed after.

pub mod brigade_checks;
pub mod checks;
pub mod cli_checks;
pub mod contract_checks;
pub mod crawl_checks;
pub mod db_checks;
pub mod disk_checks;
pub mod needs;
pub mod pool_checks;
pub mod postgres;
pub mod run;
pub mod serve_checks;
pub mod servers;
pub mod serving;
pub mod signal_checks;
pub mod suites;
pub use needs::Needs;
pub use roster;

/// Every group of checks, in the order `bench conform` runs them: each `NAME_checks.rs`
/// declares its own, and the peers' tests and `bench conform` read this list alone. A new
/// workload's group is named here, once.
pub fn check_groups() -> [checks::CheckGroup; 7] {
    [
        contract_checks::GROUP,
        cli_checks::GROUP,
        serve_checks::GROUP,
        disk_checks::GROUP,
        brigade_checks::GROUP,
        db_checks::GROUP,
        crawl_checks::GROUP,
    ]
}

/// The suites a model passes, in one line:
/// `testkit::suites!("tokio": contract_tests, concurrent_tests, event_loop_tests);`
/// The suites of the workloads and knobs its roster.toml entry declares come with them, each
/// test run only where the entry says the model runs the workload or takes the knob: disk,
/// db, crawl; a pool (`--workers` sizing its tasks'), `--offload`. A new workload's suite is named
/// here, once.
#[macro_export]
macro_rules! suites {
    ($bin:literal: $($suite:ident),+ $(,)?) => {
        $crate::suite!($bin, disk_tests);
        $crate::suite!($bin, db_tests);
        $crate::suite!($bin, crawl_tests);
        $crate::suite!($bin, pool_tests);
        $crate::suite!($bin, offload_tests);
        $( $crate::suite!($bin, $suite); )+
    };
}

/// One suite, `testkit::suite!("threads", brigade_tests, pipes: ["--pipes"])`: a module named
/// as the suite, holding `BIN`, the path cargo built the binary at, and the suite's tests,
/// given the binary's name and whatever else the suite takes.
#[macro_export]
macro_rules! suite {
    ($bin:literal, $suite:ident $(, $($more:tt)+)?) => {
        mod $suite {
            const BIN: &str = env!(concat!("CARGO_BIN_EXE_", $bin));
            $crate::$suite!($bin $(, $($more)+)?);
        }
    };
}

pub use run::Outcome;
pub use run::{
    assert_http_fails, run, run_command, run_http, run_with_env, run_with_nofile_limit,
    run_with_nproc_limit, run_without_io_uring,
};
pub use serde_json::Value;
pub use servers::{chunked_server, refusing_addr, silent_server, truncating_server, Service};

/// The fields `CONTRACT.md` requires in a server's `--json` report.
pub const SERVE_FIELDS: [&str; 11] = [
    "model",
    "connections",
    "requests",
    "errors",
    "refused",
    "wall_s",
    "user_s",
    "sys_s",
    "max_rss_kib",
    "voluntary_ctx_switches",
    "involuntary_ctx_switches",
];

/// The fields `CONTRACT.md` requires in the `--json` line.
pub const CONTRACT_FIELDS: [&str; 14] = [
    "model",
    "workload",
    "tasks",
    "workers",
    "ok",
    "failed",
    "checksum",
    "wall_s",
    "ideal_s",
    "max_rss_kib",
    "children_max_rss_kib_sum",
    "voluntary_ctx_switches",
    "involuntary_ctx_switches",
    "lateness_ms",
];

/// The checksum of `--workload cpu --tasks 4 --work 1000`, computed with Python's hashlib:
/// four chains of 1000 SHA-256 rounds, the first 8 bytes of each summed.
pub const CPU_CHECKSUM_4_X_1000: u64 = 11416395711822536050;

/// The checksum of N sleep or http tasks, from the contract: the sum of `i + 100`.
pub fn sum_of_values(tasks: u64) -> u64 {
    (0..tasks).map(|i| i + 100).sum()
}

/// Run `program` with `--timeline` (and `--verbose`) and return the timeline's task lines
/// as (id, start, end, pid, tid), after checking what every timeline must hold: one line per
/// task, start before end, and the runner `--verbose` names for the same task.
pub fn timeline_of(
    program: &str,
    leading: &[&str],
    args: &[&str],
    tasks: u32,
) -> Vec<(u32, f64, f64, u32, u64)> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "conclab-timeline-{}-{}.jsonl",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let path_text = path.display().to_string();
    let mut argv = leading.to_vec();
    argv.extend(args);
    argv.extend(["--timeline", &path_text, "--verbose"]);
    let outcome = run(program, &argv);
    assert_eq!(outcome.code, Some(0), "{argv:?}: {}", outcome.stderr);
    let lines = workload::timeline::Timeline::read(&path).expect("a readable timeline");
    let _ = std::fs::remove_file(&path);
    let mut spans: Vec<(u32, f64, f64, u32, u64)> = lines
        .into_iter()
        .filter_map(|l| match l {
            workload::timeline::Line::Task { id, start, end, pid, tid } => {
                Some((id, start, end, pid, tid))
            }
            workload::timeline::Line::Tick { .. } => None,
        })
        .collect();
    spans.sort_by_key(|s| s.0);
    let ids: Vec<u32> = spans.iter().map(|s| s.0).collect();
    assert_eq!(ids, (0..tasks).collect::<Vec<_>>(), "{argv:?}: one line per task");
    for &(id, start, end, pid, tid) in &spans {
        assert!(0.0 <= start && start < end, "{argv:?}: task {id} from {start} to {end}");
        let named = format!("task {id} value ");
        let line = outcome.stderr.lines().find(|l| l.starts_with(&named)).unwrap_or_else(|| {
            panic!("{argv:?}: --verbose says nothing of task {id}: {}", outcome.stderr)
        });
        let runner = format!("pid {pid} tid {tid}");
        let thread = format!("pid {pid} thread {tid}");
        assert!(
            line.contains(&runner) || line.contains(&thread),
            "{argv:?}: timeline {runner} vs {line:?}"
        );
    }
    spans
}

/// Whether any two of the spans overlap in time.
pub fn any_overlap(spans: &[(u32, f64, f64, u32, u64)]) -> bool {
    spans.iter().enumerate().any(|(i, a)| spans[i + 1..].iter().any(|b| a.1 < b.2 && b.1 < a.2))
}

/// `--offload --workers 3` in a loop that sizes its pool (`epoll`, `ring`): the checksum, and
/// the loop's thread beside the three of the pool.
pub fn offload_takes_a_pool_size(bin: &str) {
    let args =
        ["--workload", "cpu", "--tasks", "4", "--work", "1000", "--offload", "--workers", "3"];
    let report = run(bin, &[&args[..], &["--json"]].concat()).success();
    assert_eq!(report["checksum"], CPU_CHECKSUM_4_X_1000);
    assert!(report["peak_threads"].as_u64() >= Some(4), "the loop and 3 pool threads: {report}");
}

#[cfg(test)]
mod tests {
    use roster::Workload;

    /// "Adding a workload" (book/src/adding.md), held: every workload has checks — the
    /// contract's own, or a group of its name — so that none reaches the peers and
    /// `bench conform` unchecked.
    #[test]
    fn every_workload_has_checks_of_its_own() {
        let contract = (crate::contract_checks::GROUP.checks)();
        for w in Workload::ALL {
            let in_contract = contract.iter().any(|c| c.needs.workloads.contains(&w));
            let grouped = crate::check_groups().iter().any(|g| g.name == w.name());
            assert!(
                in_contract || grouped,
                "{} has no checks: a GROUP in its NAME_checks.rs",
                w.name()
            );
        }
    }
}
