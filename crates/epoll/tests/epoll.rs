//! `epoll`: the contract, concurrency, descriptors and the event loop.

testkit::suites!("epoll": contract_tests, concurrent_tests, socket_limit_tests, event_loop_tests, serve_tests, concurrent_serve_tests, serve_nofile_tests);

#[test]
fn a_single_threaded_loop_has_no_workers_flag() {
    let outcome = testkit::run(env!("CARGO_BIN_EXE_epoll"), &["--workers", "2"]);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
}
