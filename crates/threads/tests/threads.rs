testkit::contract_tests!("threads");

#[test]
fn one_thread_per_task_overlaps_the_sleeps() {
    let outcome = testkit::run(bin(), &["--tasks", "20", "--ms", "200", "--json"]);
    outcome.success();
    assert!(
        outcome.wall_s() < 1.0,
        "20 x 200 ms in {} s; ideal 0.2 s",
        outcome.wall_s()
    );
}

#[test]
fn a_pool_of_two_runs_four_tasks_in_two_rounds() {
    let outcome = testkit::run(
        bin(),
        &["--tasks", "4", "--ms", "200", "--workers", "2", "--json"],
    );
    let report = outcome.success();
    assert_eq!(report["workers"], 2);
    assert!(
        outcome.wall_s() >= 0.4,
        "4 x 200 ms on 2 workers in {} s",
        outcome.wall_s()
    );
    assert!(
        outcome.wall_s() < 2.0,
        "4 x 200 ms on 2 workers in {} s",
        outcome.wall_s()
    );
}

#[test]
fn http_tasks_overlap_far_below_serial_time() {
    let service = testkit::Service::start();
    let addr = service.addr.to_string();
    let outcome = testkit::run(
        bin(),
        &[
            "--workload",
            "http",
            "--tasks",
            "200",
            "--ms",
            "100",
            "--addr",
            &addr,
            "--json",
        ],
    );
    outcome.success();
    assert!(
        outcome.wall_s() < 2.0,
        "200 x 100 ms requests in {} s; serial takes 20 s",
        outcome.wall_s()
    );
}

#[test]
fn cpu_tasks_in_a_pool_yield_the_same_checksum() {
    let args = [
        "--workload",
        "cpu",
        "--tasks",
        "4",
        "--work",
        "1000",
        "--workers",
        "3",
        "--json",
    ];
    assert_eq!(
        testkit::run(bin(), &args).success()["checksum"],
        11416395711822536050u64
    );
}

#[test]
fn running_out_of_threads_exits_1_naming_the_limit() {
    let outcome =
        testkit::run_with_nproc_limit(bin(), &["--tasks", "200", "--ms", "200", "--json"], 50);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    let report = outcome.report();
    assert!(report["failed"].as_u64() > Some(0), "{report}");
    assert_eq!(
        report["ok"].as_u64().unwrap() + report["failed"].as_u64().unwrap(),
        200
    );
    assert!(
        outcome.stderr.contains("RLIMIT_NPROC"),
        "{}",
        outcome.stderr
    );
}
