//! `tokio`: the contract, concurrency, descriptors, the event loop, and its worker threads.

testkit::contract_tests!("tokio");
testkit::concurrent_tests!("tokio");
testkit::socket_limit_tests!("tokio");
testkit::event_loop_tests!("tokio");

#[test]
fn workers_sets_the_runtime_threads() {
    let args = ["--tasks", "4", "--ms", "10", "--workers", "3", "--json"];
    let report = testkit::run(env!("CARGO_BIN_EXE_tokio"), &args).success();
    assert_eq!(report["workers"], 3);
}
