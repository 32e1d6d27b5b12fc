testkit::contract_tests!("tokio");
testkit::concurrent_tests!();
testkit::socket_limit_tests!();
testkit::event_loop_tests!();

#[test]
fn workers_sets_the_runtime_threads() {
    let report =
        testkit::run(bin(), &["--tasks", "4", "--ms", "10", "--workers", "3", "--json"]).success();
    assert_eq!(report["workers"], 3);
}
