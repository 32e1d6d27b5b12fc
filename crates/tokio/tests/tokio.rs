//! `tokio`: the contract, concurrency, descriptors, the event loop, and its worker threads.

testkit::suites!("tokio": contract_tests, disk_tests, concurrent_tests, socket_limit_tests, event_loop_tests, serve_tests, concurrent_serve_tests, serve_nofile_tests);

#[test]
fn workers_sets_the_runtime_threads() {
    let args = ["--tasks", "4", "--ms", "10", "--workers", "3", "--json"];
    let report = testkit::run(env!("CARGO_BIN_EXE_tokio"), &args).success();
    assert_eq!(report["workers"], 3);
}
