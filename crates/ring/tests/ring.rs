//! `ring`: the contract, concurrency, descriptors and the event loop, on a raw io_uring; and
//! what only a completion loop can get wrong: its queues, and a ring it may not create.

testkit::suites!("ring": contract_tests, brigade_tests, concurrent_tests, socket_limit_tests, event_loop_tests, serve_tests, concurrent_serve_tests, serve_nofile_tests);

const BIN: &str = env!("CARGO_BIN_EXE_ring");

#[test]
fn three_thousand_requests_overflow_the_completion_queue_and_lose_none() {
    // 3,000 sockets are created in batches of 1,024 entries, and their completions outrun
    // the completion queue's 2,048: the rest wait in the kernel's overflow list. (Few enough
    // that the client's and the in-process service's descriptors fit a user's usual limits.)
    let report = testkit::run_http(BIN, &[], 3_000, 100).success();
    assert_eq!(report["checksum"], testkit::sum_of_values(3_000));
}

#[test]
fn a_ring_that_cannot_be_created_exits_1_naming_what_to_change() {
    let outcome = testkit::run_without_io_uring(BIN, &["--tasks", "5", "--ms", "10", "--json"]);
    outcome.stopped_at_a_limit(5, "kernel.io_uring_disabled");
    assert!(outcome.stderr.contains("seccomp"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("Operation not permitted"), "{}", outcome.stderr);
}

#[test]
fn workers_does_not_size_the_one_loop() {
    let outcome = testkit::run(BIN, &["--workers", "2"]);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
}

/// With --offload, --workers sizes the pool the loop hands cpu tasks to.
#[test]
fn offload_takes_a_pool_size() {
    testkit::offload_takes_a_pool_size(env!("CARGO_BIN_EXE_ring"));
}

/// The rungs of the http client's io_uring path (`src/parts/client_path.rs`).
const CLIENT_RUNGS: [&str; 4] = ["plain", "provided-buffers", "fixed-files", "linked"];

/// Every rung of the client gets every answer and fails as the contract says, not only the
/// one `ring` runs by default: the variant table in results/http measures each.
#[test]
fn every_rung_of_the_client_path_keeps_the_contract() {
    use testkit::contract_checks as check;
    for rung in CLIENT_RUNGS {
        let var = format!("CONCLAB_RING_CLIENT_PATH={rung}");
        let leading = [var.as_str(), BIN];
        check::http_tasks_get_their_values_from_the_service("env", &leading);
        check::chunked_responses_streamed_in_pieces_are_read_whole("env", &leading);
        check::refused_connection_fails_fast_with_exit_1("env", &leading);
        check::truncated_response_is_an_error_not_a_hang("env", &leading);
        check::silent_service_is_bounded_by_the_timeout("env", &leading);
    }
}

/// Deadlines that pass while requests are still on their way in: every step the kernel
/// holds is cancelled, on every rung, and the run ends. On the linked rung a cancel could
/// arrive before the next step of a chain had started, find nothing, and leave that step to
/// wait on a silent server for ever; the review that found it hung at these sizes.
#[test]
fn a_thousand_requests_past_a_short_deadline_end_on_every_rung() {
    let addr = testkit::silent_server().to_string();
    for rung in CLIENT_RUNGS {
        let env = [("CONCLAB_RING_CLIENT_PATH", rung.to_string())];
        let args = ["--workload", "http", "--tasks", "1000", "--timeout-ms", "5", "--addr", &addr];
        let outcome = testkit::run_with_env(BIN, &[&args[..], &["--json"]].concat(), &env);
        assert_eq!(outcome.code, Some(1), "{rung}: {}", outcome.stderr);
        assert_eq!(outcome.report()["failed"], 1000, "{rung}");
    }
}

/// A rung the variable does not name: one line, exit 2.
#[test]
fn an_unknown_client_path_is_refused() {
    let env = [("CONCLAB_RING_CLIENT_PATH", "fastest".to_string())];
    let outcome = testkit::run_with_env(BIN, &["--workload", "http", "--tasks", "1"], &env);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("no path \"fastest\""), "{}", outcome.stderr);
}

/// The rungs of the crawl's reads (`src/parts/crawl_path.rs`).
const CRAWL_RUNGS: [&str; 2] = ["one-shot", "multishot-recv"];

/// Every rung of the crawl crawls each web to its sheet, survives the fault profile (resets,
/// drips, hosts that never answer: RECVs cancelled past their deadline) and holds
/// `--per-host`, with its pages parsed on the loop and on a pool.
#[test]
fn every_rung_of_the_crawl_path_keeps_the_contract() {
    use testkit::crawl_checks as check;
    for rung in CRAWL_RUNGS {
        let var = format!("CONCLAB_RING_CRAWL_PATH={rung}");
        let leading = [var.as_str(), BIN];
        let workers = ["--workers", "20"];
        check::crawls_every_web_to_its_sheet("env", &leading, &workers);
        check::crawls_every_web_to_its_sheet("env", &leading, &["--workers", "20", "--offload"]);
        check::survives_the_fault_profile("env", &leading, &workers);
        check::holds_per_host("env", &leading, &workers);
    }
}

/// A rung the variable does not name: one line, exit 2.
#[test]
fn an_unknown_crawl_path_is_refused() {
    let env = [("CONCLAB_RING_CRAWL_PATH", "fastest".to_string())];
    let args = ["--workload", "crawl", "--seed", "http://127.0.0.1:9/"];
    let outcome = testkit::run_with_env(BIN, &args, &env);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("no path \"fastest\""), "{}", outcome.stderr);
}

/// The rungs of the server's io_uring path (`src/serve/path.rs`), as the variable names them.
const RUNGS: [&str; 5] =
    ["plain", "multishot-accept", "provided-buffers", "multishot-recv", "fixed-files"];

/// Every rung serves as the contract says, not only the one the server runs by default: the
/// variant table in results/serve measures each.
#[test]
fn every_rung_of_the_serve_path_keeps_the_contract() {
    use testkit::serve_checks as check;
    for rung in RUNGS {
        let var = format!("CONCLAB_RING_SERVE_PATH={rung}");
        let leading = [var.as_str(), BIN];
        check::routes_answer_on_one_keep_alive_connection("env", &leading);
        check::pipelined_requests_are_answered_in_order("env", &leading);
        check::an_oversized_head_gets_431_and_garbage_400("env", &leading);
        check::a_reset_client_leaves_the_server_serving("env", &leading);
        check::sigterm_finishes_the_request_in_flight_and_reports("env", &leading);
        check::fifty_clients_are_served_at_once("env", &leading);
        a_silent_and_a_slow_client_count_one_error_each(&leading);
    }
}

/// A client that sends nothing, and one that sends half a request, are each closed at the
/// deadline and counted once, however many completions the close takes.
fn a_silent_and_a_slow_client_count_one_error_each(leading: &[&str]) {
    use std::io::{Read, Write};
    use testkit::serving::{connect, Limit, Server};
    let server =
        Server::start("env", leading, &["--timeout-ms", "300"], Limit::None).expect("no limit");
    let mut silent = connect(server.addr);
    let mut slow = connect(server.addr);
    slow.write_all(b"GET /hea").expect("send");
    for stream in [&mut silent, &mut slow] {
        let _ = stream.read_to_end(&mut Vec::new()); // closed by the server
    }
    let report = testkit::serve_checks::stop_cleanly(server);
    assert_eq!(report["errors"], 2, "{leading:?}: {report}");
}

/// A client that pipelines without reading its answers is held back by TCP, not buffered:
/// a multishot RECV would read on while the loop writes, so the server stops reading past a
/// request head's bound. Without that brake, the 64 MiB below would be in its memory.
#[test]
fn a_client_that_never_reads_cannot_fill_the_servers_memory() {
    use std::io::Write;
    for rung in RUNGS {
        let var = format!("CONCLAB_RING_SERVE_PATH={rung}");
        let server = testkit::serving::Server::start(
            "env",
            &[var.as_str(), BIN],
            &[],
            testkit::serving::Limit::None,
        )
        .expect("no limit to set");
        let rss = || {
            let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
                .expect("the server's status");
            let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
            line.split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok()).expect("KiB")
        };
        let before = rss();
        let mut flood = testkit::serving::connect(server.addr);
        flood.set_write_timeout(Some(std::time::Duration::from_secs(2))).expect("timeout");
        let request = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n".repeat(1024);
        let mut sent = 0usize;
        while sent < 64 << 20 {
            match flood.write(&request) {
                Ok(n) => sent += n,
                Err(_) => break, // held back: the write timed out
            }
        }
        let grown = rss().saturating_sub(before);
        assert!(grown < 16 << 10, "{rung}: grew {grown} KiB after {sent} bytes sent");
        drop(flood);
        // Still serving.
        let (status, _) = testkit::serving::get(server.addr, "/health");
        assert_eq!(status, 200, "{rung}");
        testkit::serve_checks::stop_cleanly(server);
    }
}
