testkit::contract_tests!("uring");
testkit::concurrent_tests!();
testkit::socket_limit_tests!();
testkit::event_loop_tests!();

#[test]
fn a_single_threaded_loop_has_no_workers_flag() {
    let outcome = testkit::run(bin(), &["--workers", "2"]);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
}
