//! The contract's core, as checks any program can be put to (`CONTRACT.md`: tasks, report,
//! exit statuses, the http task against the service and against servers that misbehave).
//! Each takes the program and its leading arguments (a Python peer's script, say), so that
//! the models' suites, the peers' tests and `bench conform` share them.

use roster::{Flag, Workload};

use crate::checks::CheckGroup;
use crate::{checks, run, Needs, Outcome};

fn run_with(program: &str, lead: &[&str], args: &[&str]) -> Outcome {
    run(program, &[lead, args].concat())
}

/// 20 tasks of 200 ms: every value, in the checksum; the report names a model.
pub fn twenty_sleeping_tasks_yield_every_value(program: &str, lead: &[&str]) {
    let report = run_with(program, lead, &["--tasks", "20", "--ms", "200", "--json"]).success();
    assert_eq!(report["checksum"], crate::sum_of_values(20));
    assert!(report["model"].as_str().is_some_and(|m| !m.is_empty()), "{report}");
}

/// `--json` has every field of the contract's report.
pub fn json_report_holds_every_contract_field(program: &str, lead: &[&str]) {
    let report = run_with(program, lead, &["--tasks", "3", "--ms", "10", "--json"]).success();
    for field in crate::CONTRACT_FIELDS {
        assert!(report.get(field).is_some(), "missing {field} in {report}");
    }
    assert_eq!(report["workload"], "sleep");
    assert!(report["ideal_s"].as_f64() >= Some(0.01), "{report}");
    assert!(report["lateness_ms"]["p99"].is_number(), "{report}");
}

/// Without `--json`, one line: `MODEL · sleep · 3 tasks …` with the checksum.
pub fn human_report_is_one_line_with_the_checksum(program: &str, lead: &[&str]) {
    let outcome = run_with(program, lead, &["--tasks", "3", "--ms", "10"]);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(outcome.stdout.lines().count(), 1, "{}", outcome.stdout);
    assert!(outcome.stdout.contains(" · sleep · 3 tasks"), "{}", outcome.stdout);
    assert!(outcome.stdout.contains("checksum 303"), "{}", outcome.stdout);
}

/// `--timeline`: a span per task, sleep and cpu.
pub fn timeline_has_a_span_per_task(program: &str, lead: &[&str]) {
    crate::timeline_of(program, lead, &["--tasks", "4", "--ms", "50"], 4);
}

/// The same for cpu tasks, whose spans the runners' names tell apart.
pub fn cpu_timeline_has_a_span_per_task(program: &str, lead: &[&str]) {
    crate::timeline_of(program, lead, &["--workload", "cpu", "--tasks", "3", "--work", "1000"], 3);
}

/// `--verbose`: one line per task on stderr.
pub fn verbose_names_every_task_on_stderr(program: &str, lead: &[&str]) {
    let outcome = run_with(program, lead, &["--tasks", "4", "--ms", "10", "--verbose"]);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(outcome.stderr.lines().count(), 4, "{}", outcome.stderr);
}

/// Bad input: exit 2, `Error: …` on stderr, nothing on stdout, no panic.
pub fn bad_input_exits_2_with_a_reason_and_nothing_on_stdout(program: &str, lead: &[&str]) {
    let cases: &[&[&str]] = &[
        &["--tasks", "0"],
        &["--tasks", "-3"],
        &["--tasks", "ten"],
        &["--ms", "-5"],
        &["--ms", "86400001"],
        &["--ms", "18446744073709551615"],
        &["--work", "1.5"],
        &["--workload", "nope"],
        &["--addr", "nowhere"],
        &["--timeout-ms", "0"],
        &["--workload", "http", "--timeout-ms", "18446744073709551615"],
        &["--frobnicate"],
    ];
    for case in cases {
        let outcome = run_with(program, lead, case);
        assert_eq!(outcome.code, Some(2), "{case:?}: {}", outcome.stderr);
        assert!(outcome.stdout.is_empty(), "{case:?}: stdout {:?}", outcome.stdout);
        assert!(outcome.stderr.starts_with("Error: "), "{case:?}: {}", outcome.stderr);
        assert!(!outcome.stderr.contains("panicked"), "{case:?}: {}", outcome.stderr);
    }
}

/// The cpu workload's checksum for 4 tasks of 1,000 rounds; no sleep figures.
pub fn cpu_tasks_yield_the_known_checksum(program: &str, lead: &[&str]) {
    let args = ["--workload", "cpu", "--tasks", "4", "--work", "1000", "--json"];
    let report = run_with(program, lead, &args).success();
    assert_eq!(report["checksum"], crate::CPU_CHECKSUM_4_X_1000);
    assert!(report["ideal_s"].is_null() && report["lateness_ms"].is_null(), "{report}");
}

/// 200 requests to the service: every value.
pub fn http_tasks_get_their_values_from_the_service(program: &str, lead: &[&str]) {
    let report = crate::run_http(program, lead, 200, 100).success();
    assert_eq!(report["checksum"], crate::sum_of_values(200));
}

/// A server that streams chunked answers in pieces: read whole.
pub fn chunked_responses_streamed_in_pieces_are_read_whole(program: &str, lead: &[&str]) {
    let addr = crate::chunked_server().to_string();
    let args = ["--workload", "http", "--tasks", "20", "--addr", &addr, "--json"];
    let report = run_with(program, lead, &args).success();
    assert_eq!(report["checksum"], crate::sum_of_values(20));
}

/// Nothing listens: exit 1 at once, "connection refused".
pub fn refused_connection_fails_fast_with_exit_1(program: &str, lead: &[&str]) {
    crate::assert_http_fails(program, lead, crate::refusing_addr(), &[], "connection refused");
}

/// A server that closes mid-answer: "truncated", not a hang.
pub fn truncated_response_is_an_error_not_a_hang(program: &str, lead: &[&str]) {
    crate::assert_http_fails(program, lead, crate::truncating_server(), &[], "truncated");
}

/// A server that never answers: bounded by `--timeout-ms`.
pub fn silent_service_is_bounded_by_the_timeout(program: &str, lead: &[&str]) {
    let addr = crate::silent_server();
    crate::assert_http_fails(program, lead, addr, &["--timeout-ms", "300"], "timed out");
}

/// Every check above, by what it needs of a program, in the order the contract states them:
/// what `bench conform` runs first for any program.
pub const GROUP: CheckGroup = CheckGroup::new(
    "contract",
    "Tasks, checksums, the report, exit statuses, the http task against good and bad servers",
    || {
        let cpu_timeline = Needs { workloads: &[Workload::Cpu], flags: &[Flag::Timeline] };
        [
            checks!(Needs::SLEEP, contract_checks: [
                twenty_sleeping_tasks_yield_every_value,
                json_report_holds_every_contract_field,
                human_report_is_one_line_with_the_checksum,
            ]),
            checks!(Needs::SLEEP_TIMELINE, contract_checks: [timeline_has_a_span_per_task]),
            checks!(cpu_timeline, contract_checks: [cpu_timeline_has_a_span_per_task]),
            checks!(Needs::SLEEP, contract_checks: [verbose_names_every_task_on_stderr]),
            checks!(Needs::NOTHING, contract_checks: [
                bad_input_exits_2_with_a_reason_and_nothing_on_stdout
            ]),
            checks!(Needs::CPU, contract_checks: [cpu_tasks_yield_the_known_checksum]),
            checks!(Needs::HTTP, contract_checks: [
                http_tasks_get_their_values_from_the_service,
                chunked_responses_streamed_in_pieces_are_read_whole,
                refused_connection_fails_fast_with_exit_1,
                truncated_response_is_an_error_not_a_hang,
                silent_service_is_bounded_by_the_timeout,
            ]),
        ]
        .concat()
    },
);
