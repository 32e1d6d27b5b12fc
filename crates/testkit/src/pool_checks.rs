//! What every pool must do with a size the machine cannot give (`CONTRACT.md`, `--workers`),
//! of threads, processes or db connections:
//! a size no Linux machine can run is bad input (exit 2), and a pool past a limit of this one
//! is refused before its first worker starts (exit 1, naming the limit and what to raise it
//! to) — never an abort, a panic or a traceback, and nothing left running. Each check takes
//! the program and its leading arguments, so that the models' suites and the peers' tests
//! share them.

use crate::run::assert_unbroken;

/// One past PID_MAX_LIMIT, the most threads or processes any Linux kernel runs.
const PAST_ANY_MACHINE: &str = "4194305";

/// `--workers 4194305` is refused as bad input, saying the bound, in every mode that takes
/// `--workers` (db takes it in every program).
pub fn a_pool_no_machine_can_hold_is_bad_input(program: &str, lead: &[&str]) {
    let args = ["--workload", "db", "--tasks", "10", "--workers", PAST_ANY_MACHINE];
    let outcome = crate::run(program, &[lead, &args].concat());
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
    assert!(outcome.stdout.is_empty(), "stdout {:?}", outcome.stdout);
    assert!(outcome.stderr.contains("4194304"), "the bound is said: {}", outcome.stderr);
    assert_unbroken(&outcome.stderr, "--workers 4194305");
}

/// With room for about 30 more threads or processes (RLIMIT_NPROC), `args` plus
/// `--workers 200 --tasks 200` is refused before the pool starts: exit 1, one line naming
/// RLIMIT_NPROC and the value to raise it to, no report, and no process of the run left.
/// Skipped (said on stderr) where the limit cannot be set up.
pub fn a_pool_past_a_limit_is_refused_before_it_starts(
    program: &str,
    lead: &[&str],
    args: &[&str],
) {
    let args = [lead, args, &["--workers", "200", "--tasks", "200", "--json"]].concat();
    let Some(outcome) = crate::run_with_nproc_limit(program, &args, 30) else { return };
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(outcome.stdout.is_empty(), "no task ran, so no report: {:?}", outcome.stdout);
    let said = outcome.stderr.trim();
    assert_eq!(said.lines().count(), 1, "one line: {said}");
    assert!(said.contains(" cannot start: "), "{said}");
    assert!(said.contains("RLIMIT_NPROC") && said.contains("to at least"), "{said}");
    assert_unbroken(said, "a pool past RLIMIT_NPROC");
    assert_eq!(outcome.processes_left(), Vec::<String>::new());
}

/// With RLIMIT_NOFILE at 100, a pool of 500 db connections is refused before the first
/// connects: exit 1, one line naming RLIMIT_NOFILE and the value to raise it to. (For a
/// program whose connections are held in the processes it forks, not its own: skip it.)
pub fn a_pool_of_connections_past_rlimit_nofile_is_refused(program: &str, lead: &[&str]) {
    let args = ["--workload", "db", "--workers", "500", "--tasks", "500"];
    let url = ["--db-url", "postgres://conclab@127.0.0.1:1/conclab"];
    let outcome = crate::run_with_nofile_limit(program, &[lead, &args, &url].concat(), 100);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    let said = outcome.stderr.trim();
    assert_eq!(said.lines().count(), 1, "one line: {said}");
    assert!(said.contains("500 db connections (--workers) cannot start"), "{said}");
    assert!(said.contains("RLIMIT_NOFILE") && said.contains("to at least"), "{said}");
    assert_unbroken(said, "a pool past RLIMIT_NOFILE");
}
