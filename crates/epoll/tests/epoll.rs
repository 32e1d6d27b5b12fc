testkit::contract_tests!("epoll");

#[test]
fn sleeping_epoll_tasks_overlap() {
    let outcome = testkit::run(bin(), &["--tasks", "20", "--ms", "200", "--json"]);
    outcome.success();
    assert!(
        outcome.wall_s() < 1.0,
        "20 x 200 ms in {} s; ideal 0.2 s",
        outcome.wall_s()
    );
}

#[test]
fn ten_thousand_sleeping_epoll_tasks_take_about_one_sleep() {
    // timers in one hand-rolled loop: 10,000 waits cost little more than one.
    let outcome = testkit::run(bin(), &["--tasks", "10000", "--ms", "200", "--json"]);
    outcome.success();
    assert!(
        outcome.wall_s() < 2.0,
        "10,000 x 200 ms in {} s; ideal 0.2 s",
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
fn offloaded_cpu_tasks_yield_the_same_checksum() {
    let args = [
        "--workload",
        "cpu",
        "--tasks",
        "4",
        "--work",
        "1000",
        "--offload",
        "--json",
    ];
    let report = testkit::run(bin(), &args).success();
    assert_eq!(report["checksum"], 11416395711822536050u64);
    assert_eq!(report["offload"], true);
}

#[test]
fn a_single_threaded_loop_has_no_workers_flag() {
    let outcome = testkit::run(bin(), &["--workers", "2"]);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
}

#[test]
fn offloading_cpu_work_keeps_the_loop_ticking() {
    // Each task hashes for roughly 0.1 to 0.4 s on this machine kind; on the loop, the
    // loop's 10 ms ticker waits for it; handed to a pool, the ticker keeps (generous) time.
    let args = [
        "--workload",
        "cpu",
        "--tasks",
        "4",
        "--work",
        "4000000",
        "--json",
    ];
    let blocked = testkit::run(bin(), &args).success();
    let offloaded = testkit::run(bin(), &[&args[..], &["--offload"]].concat()).success();
    let max = |r: &serde_json::Value| r["loop_lag_ms"]["max"].as_f64().expect("loop_lag_ms.max");
    assert!(
        max(&blocked) > 60.0,
        "blocked loop lag {}",
        blocked["loop_lag_ms"]
    );
    assert!(
        max(&offloaded) < 60.0,
        "offloaded loop lag {}",
        offloaded["loop_lag_ms"]
    );
}
