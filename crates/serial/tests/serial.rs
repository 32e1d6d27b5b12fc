//! `serial`: the contract, and one task after another.

testkit::suites!("serial": contract_tests, brigade_tests, serve_tests);

const BIN: &str = env!("CARGO_BIN_EXE_serial");

#[test]
fn serial_takes_n_times_the_sleep() {
    let outcome = testkit::run(BIN, &["--tasks", "20", "--ms", "200", "--json"]);
    outcome.success();
    assert!(outcome.wall_s() >= 4.0, "20 x 200 ms in {} s", outcome.wall_s());
}

#[test]
fn serial_rejects_workers_and_offload() {
    for flag in [&["--workers", "2"][..], &["--workload", "cpu", "--offload"][..]] {
        let outcome = testkit::run(BIN, flag);
        assert_eq!(outcome.code, Some(2), "{flag:?}: {}", outcome.stderr);
    }
}

#[test]
fn serial_timeline_is_a_staircase_no_two_tasks_at_once() {
    let spans = testkit::timeline_of(BIN, &[], &["--tasks", "10", "--ms", "30"], 10);
    assert!(!testkit::any_overlap(&spans), "{spans:?}");
}
