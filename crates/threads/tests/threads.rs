testkit::contract_tests!("threads");
testkit::concurrent_tests!();
testkit::socket_limit_tests!();
testkit::pool_tests!();

#[test]
fn running_out_of_threads_exits_1_naming_the_limit() {
    let outcome =
        testkit::run_with_nproc_limit(bin(), &["--tasks", "200", "--ms", "200", "--json"], 50);
    outcome.stopped_at_a_limit(200, "RLIMIT_NPROC");
}
