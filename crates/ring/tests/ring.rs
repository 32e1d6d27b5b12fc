//! `ring`: the contract, concurrency, descriptors and the event loop, on a raw io_uring; and
//! what only a completion loop can get wrong: its queues, and a ring it may not create.

testkit::suites!("ring": contract_tests, brigade_tests, concurrent_tests, socket_limit_tests, event_loop_tests, serve_tests, concurrent_serve_tests, serve_nofile_tests);

const BIN: &str = env!("CARGO_BIN_EXE_ring");

#[test]
fn three_thousand_requests_overflow_the_completion_queue_and_lose_none() {
    // 3,000 sockets are created in batches of 1,024 entries, and their completions outrun
    // the completion queue's 2,048: the rest wait in the kernel's overflow list. (Few enough
    // that the client's and the in-process service's descriptors fit a user's usual limits.)
    let report = testkit::run_http(BIN, &[], 3_000, 100).success();
    assert_eq!(report["checksum"], testkit::sum_of_values(3_000));
}

#[test]
fn a_ring_that_cannot_be_created_exits_1_naming_what_to_change() {
    let outcome = testkit::run_without_io_uring(BIN, &["--tasks", "5", "--ms", "10", "--json"]);
    outcome.stopped_at_a_limit(5, "kernel.io_uring_disabled");
    assert!(outcome.stderr.contains("seccomp"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("Operation not permitted"), "{}", outcome.stderr);
}

#[test]
fn workers_does_not_size_the_one_loop() {
    let outcome = testkit::run(BIN, &["--workers", "2"]);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
}

/// With --offload, --workers sizes the pool the loop hands cpu tasks to.
#[test]
fn offload_takes_a_pool_size() {
    testkit::offload_takes_a_pool_size(env!("CARGO_BIN_EXE_ring"));
}
