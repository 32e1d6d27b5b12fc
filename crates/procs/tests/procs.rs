//! `procs`: the contract, concurrency, the pool, and what forking costs and where it stops.

testkit::suites!("procs": contract_tests, brigade_tests, concurrent_tests, serve_tests, concurrent_serve_tests, serve_nproc_tests);

const BIN: &str = env!("CARGO_BIN_EXE_procs");

#[test]
fn each_child_reports_its_own_peak_memory() {
    let report = testkit::run(BIN, &["--tasks", "3", "--ms", "10", "--json"]).success();
    assert!(report["children_max_rss_kib_sum"].as_u64() > Some(0), "{report}");
}

#[test]
fn every_task_runs_in_a_child_process() {
    let outcome = testkit::run(BIN, &["--tasks", "3", "--ms", "10", "--verbose"]);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let pids: std::collections::BTreeSet<&str> = outcome
        .stderr
        .lines()
        .filter_map(|l| l.split("pid ").nth(1)?.split_whitespace().next())
        .collect();
    assert_eq!(pids.len(), 3, "three tasks, three processes: {}", outcome.stderr);
}

#[test]
fn running_out_of_processes_exits_1_and_leaves_no_zombie() {
    // Room for 50 more processes, and far more tasks than that, whatever else runs meanwhile.
    let args = ["--tasks", "1000", "--ms", "200", "--json"];
    let Some(outcome) = testkit::run_with_nproc_limit(BIN, &args, 50) else { return };
    outcome.stopped_at_a_limit(1000, "ulimit -u");
}

#[test]
fn a_preforked_pool_serves_routes_pipelining_and_stops_cleanly() {
    testkit::serve_checks::routes_answer_on_one_keep_alive_connection(BIN, &["--workers", "2"]);
    testkit::serve_checks::pipelined_requests_are_answered_in_order(BIN, &["--workers", "2"]);
    testkit::serve_checks::sigterm_finishes_the_request_in_flight_and_reports(
        BIN,
        &["--workers", "2"],
    );
}
