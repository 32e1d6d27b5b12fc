//! `threads`: the contract, concurrency, the pool, and where starting threads stops.

testkit::suites!("threads": contract_tests, concurrent_tests, socket_limit_tests, serve_tests, concurrent_serve_tests, serve_nofile_tests, serve_nproc_tests);

#[test]
fn running_out_of_threads_exits_1_naming_the_limit() {
    // Room for 50 more threads, and far more tasks than that, whatever else runs meanwhile.
    let args = ["--tasks", "1000", "--ms", "200", "--json"];
    let bin = env!("CARGO_BIN_EXE_threads");
    let Some(outcome) = testkit::run_with_nproc_limit(bin, &args, 50) else { return };
    outcome.stopped_at_a_limit(1000, "RLIMIT_NPROC");
}

#[test]
fn threads_timeline_shows_the_tasks_overlapping_on_threads_of_their_own() {
    let bin = env!("CARGO_BIN_EXE_threads");
    let spans = testkit::timeline_of(bin, &[], &["--tasks", "10", "--ms", "300"], 10);
    assert!(testkit::any_overlap(&spans), "{spans:?}");
    let threads: std::collections::HashSet<u64> = spans.iter().map(|s| s.4).collect();
    assert_eq!(threads.len(), 10, "{spans:?}");
}

#[test]
fn a_pool_of_threads_serves_routes_pipelining_and_stops_cleanly() {
    let bin = env!("CARGO_BIN_EXE_threads");
    testkit::serve_checks::routes_answer_on_one_keep_alive_connection(bin, &["--workers", "2"]);
    testkit::serve_checks::pipelined_requests_are_answered_in_order(bin, &["--workers", "2"]);
    testkit::serve_checks::sigterm_finishes_the_request_in_flight_and_reports(
        bin,
        &["--workers", "2"],
    );
}

// The brigade on channels, and with --pipes on a pipe per pair (whose ring needs descriptors).
testkit::suite!("threads", brigade_tests, pipes: ["--pipes"]);

#[test]
fn the_brigade_on_pipes_gives_the_same_checksum() {
    testkit::brigade_checks::the_token_goes_round_every_ring(
        env!("CARGO_BIN_EXE_threads"),
        &[],
        &["--pipes"],
    );
}
