testkit::contract_tests!("threads");
testkit::concurrent_tests!();
testkit::socket_limit_tests!();
testkit::pool_tests!();

#[test]
fn running_out_of_threads_exits_1_naming_the_limit() {
    let outcome =
        testkit::run_with_nproc_limit(bin(), &["--tasks", "200", "--ms", "200", "--json"], 50);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    let report = outcome.report();
    assert!(report["failed"].as_u64() > Some(0), "{report}");
    assert_eq!(report["ok"].as_u64().unwrap() + report["failed"].as_u64().unwrap(), 200);
    assert!(outcome.stderr.contains("RLIMIT_NPROC"), "{}", outcome.stderr);
}
