//! `uring`: the contract, concurrency, descriptors and the event loop, on tokio-uring.

testkit::suites!("uring": contract_tests, brigade_tests, concurrent_tests, socket_limit_tests, event_loop_tests, serve_tests, concurrent_serve_tests, serve_nofile_tests);

#[test]
fn its_one_thread_takes_no_workers_flag() {
    let outcome = testkit::run(env!("CARGO_BIN_EXE_uring"), &["--workers", "2"]);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
}
