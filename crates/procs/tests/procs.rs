testkit::contract_tests!("procs");
testkit::concurrent_tests!();
testkit::pool_tests!();

#[test]
fn each_child_reports_its_own_peak_memory() {
    let report = testkit::run(bin(), &["--tasks", "3", "--ms", "10", "--json"]).success();
    assert!(report["children_max_rss_kib_sum"].as_u64() > Some(0), "{report}");
}

#[test]
fn every_task_runs_in_a_child_process() {
    let outcome = testkit::run(bin(), &["--tasks", "3", "--ms", "10", "--verbose"]);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let pids: std::collections::BTreeSet<&str> = outcome
        .stderr
        .lines()
        .filter_map(|l| l.split("pid ").nth(1)?.split_whitespace().next())
        .collect();
    assert_eq!(pids.len(), 3, "three tasks, three processes: {}", outcome.stderr);
}

#[test]
fn running_out_of_processes_exits_1_and_leaves_no_zombie() {
    let outcome =
        testkit::run_with_nproc_limit(bin(), &["--tasks", "200", "--ms", "200", "--json"], 50);
    outcome.stopped_at_a_limit(200, "ulimit -u");
    // Every child was reaped before exit: nothing of user `nobody` is left, not even a zombie.
    assert_eq!(testkit::processes_of(65534), Vec::<String>::new());
}
