//! `tokio`: the contract, concurrency, descriptors, the event loop, and its worker threads.

testkit::suites!("tokio": contract_tests, concurrent_tests, socket_limit_tests, event_loop_tests, serve_tests, concurrent_serve_tests, serve_nofile_tests);

#[test]
fn workers_sets_the_runtime_threads() {
    let args = ["--tasks", "4", "--ms", "10", "--workers", "3", "--json"];
    let report = testkit::run(env!("CARGO_BIN_EXE_tokio"), &args).success();
    assert_eq!(report["workers"], 3);
}

/// The brigade on tokio channels: no pipe, so no descriptor to run out of.
#[test]
fn runtime_threads_past_a_limit_are_refused_before_the_runtime_starts() {
    let bin = env!("CARGO_BIN_EXE_tokio");
    testkit::pool_checks::a_pool_past_a_limit_is_refused_before_it_starts(bin, &[], &["--ms", "1"]);
}

#[test]
fn the_token_goes_round_every_ring() {
    testkit::brigade_checks::the_token_goes_round_every_ring(env!("CARGO_BIN_EXE_tokio"), &[], &[]);
    testkit::brigade_checks::the_token_goes_round_every_ring(
        env!("CARGO_BIN_EXE_tokio"),
        &[],
        &["--workers", "1"],
    );
}

#[test]
fn what_does_not_apply_to_the_ring_is_refused() {
    testkit::brigade_checks::what_does_not_apply_to_the_ring_is_refused(
        env!("CARGO_BIN_EXE_tokio"),
        &[],
        false,
    );
    let outcome = testkit::run(env!("CARGO_BIN_EXE_tokio"), &["--workload", "brigade", "--pipes"]);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
}
