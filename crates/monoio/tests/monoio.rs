//! `monoio`: the contract, concurrency, descriptors and the event loop, on a runtime per core;
//! and what only thread-per-core can get wrong: its cores, its listeners, and a ring it may not
//! create.

testkit::suites!("monoio": contract_tests, brigade_tests, concurrent_tests, socket_limit_tests, event_loop_tests, serve_tests, concurrent_serve_tests, serve_nofile_tests);

const BIN: &str = env!("CARGO_BIN_EXE_monoio");

#[test]
fn a_ring_that_cannot_be_created_exits_1_naming_what_to_change() {
    let outcome = testkit::run_without_io_uring(BIN, &["--tasks", "5", "--ms", "10", "--json"]);
    outcome.stopped_at_a_limit(5, "kernel.io_uring_disabled");
    assert!(outcome.stderr.contains("Operation not permitted"), "{}", outcome.stderr);
}

#[test]
fn workers_sets_the_cores_and_every_task_runs_on_one_of_them() {
    for cores in ["1", "3"] {
        let args = ["--tasks", "30", "--ms", "10", "--workers", cores, "--json"];
        let report = testkit::run(BIN, &args).success();
        assert_eq!(report["workers"], cores.parse::<u32>().unwrap(), "{report}");
        assert_eq!(report["checksum"], testkit::sum_of_values(30), "{report}");
    }
}

#[test]
fn offload_has_no_pool_to_go_to() {
    let outcome = testkit::run(BIN, &["--workload", "cpu", "--offload"]);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
}
