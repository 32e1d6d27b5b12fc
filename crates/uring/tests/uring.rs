//! `uring`: the contract, concurrency, descriptors and the event loop, on tokio-uring.

testkit::contract_tests!("uring");
testkit::concurrent_tests!("uring");
testkit::socket_limit_tests!("uring");
testkit::event_loop_tests!("uring");

#[test]
fn its_one_thread_takes_no_workers_flag() {
    let outcome = testkit::run(env!("CARGO_BIN_EXE_uring"), &["--workers", "2"]);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
}
