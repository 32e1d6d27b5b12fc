//! `epoll`: the contract, concurrency, descriptors and the event loop.

testkit::suites!("epoll": contract_tests, brigade_tests, concurrent_tests, socket_limit_tests, event_loop_tests, serve_tests, concurrent_serve_tests, serve_nofile_tests);

/// The loop itself is one thread, whatever `--workers` says: the flag sizes only the threads
/// it hands files to (below) and its offload pool, so on sleep it is refused.
#[test]
fn workers_does_not_size_the_one_loop() {
    let outcome = testkit::run(env!("CARGO_BIN_EXE_epoll"), &["--workers", "2"]);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
}

/// Why the loop hands files to threads: epoll refuses a regular file outright (EPERM), since a
/// file is always "ready" and a read of it blocks in the kernel however the loop waits.
#[test]
fn a_regular_file_cannot_be_registered_with_epoll() {
    use std::os::fd::AsRawFd;
    let poll = mio::Poll::new().unwrap();
    let file = std::fs::File::open(env!("CARGO_BIN_EXE_epoll")).unwrap();
    let mut source = mio::unix::SourceFd(&file.as_raw_fd());
    let refused =
        poll.registry().register(&mut source, mio::Token(0), mio::Interest::READABLE).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied, "{refused}");
}

/// So disk tasks go to a pool of libuv's four threads, or `--workers`.
#[test]
fn disk_reads_run_on_four_threads_unless_workers_says_otherwise() {
    let scratch = testkit::disk_checks::Scratch::new();
    let file = scratch.data_file("data", 1 << 20);
    let args = ["--workload", "disk", "--tasks", "40", "--file", &file, "--json"];
    let report = testkit::run(env!("CARGO_BIN_EXE_epoll"), &args).success();
    assert_eq!(report["workers"], 4, "{report}");
    let args = [&args[..], &["--workers", "7"]].concat();
    let report = testkit::run(env!("CARGO_BIN_EXE_epoll"), &args).success();
    assert_eq!(report["workers"], 7, "{report}");
}

/// With --offload, --workers sizes the pool the loop hands cpu tasks to.
#[test]
fn offload_takes_a_pool_size() {
    testkit::offload_takes_a_pool_size(env!("CARGO_BIN_EXE_epoll"));
}
