//! `ring`: the contract, concurrency, descriptors and the event loop, on a raw io_uring; and
//! what only a completion loop can get wrong: its queues, and a ring it may not create.

testkit::suites!("ring": contract_tests, brigade_tests, concurrent_tests, socket_limit_tests, event_loop_tests, serve_tests, concurrent_serve_tests, serve_nofile_tests);

use testkit::Needs;

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

/// One of `ring`'s ladders, as its tests climb it: the variable that picks a rung, and the
/// rungs, plain to modern — read from the file that declares them, so that a rung added
/// there is climbed here.
struct Ladder {
    variable: String,
    rungs: Vec<String>,
}

/// The http client's io_uring path.
const CLIENT: &str = "src/parts/client_path.rs";
/// The crawl's reads.
const CRAWL: &str = "src/parts/crawl_path.rs";
/// The server's io_uring path.
const SERVE: &str = "src/serve/path.rs";

impl Ladder {
    /// The ladder `file` declares: its `VARIABLE`, and the name of each rung (`Path::X =>
    /// "name"`), in the order it gives them.
    fn of(file: &str) -> Ladder {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let source = std::fs::read_to_string(&path).expect("the file that declares the rungs");
        let quoted = |line: &str| line.split('"').nth(1).map(str::to_string);
        let lines = || source.lines().map(str::trim);
        let variable = lines().find(|l| l.starts_with("const VARIABLE")).and_then(quoted);
        let rungs: Vec<String> =
            lines().filter(|l| l.contains(" => \"")).filter_map(quoted).collect();
        assert!(rungs.len() >= 2, "{file}: a ladder has rungs, found {rungs:?}");
        Ladder { variable: variable.expect("the ladder's VARIABLE"), rungs }
    }

    /// `check(rung, leading)` on every rung: `env` runs `leading`, `VARIABLE=rung ring`.
    fn on_every_rung(&self, check: impl Fn(&str, &[&str])) {
        for rung in &self.rungs {
            let setting = format!("{}={rung}", self.variable);
            check(rung, &[setting.as_str(), BIN]);
        }
    }

    /// A rung the variable does not name: one line, exit 2.
    fn refuses_an_unknown_rung(&self, args: &[&str]) {
        let env = [(self.variable.as_str(), "fastest".to_string())];
        let outcome = testkit::run_with_env(BIN, args, &env);
        assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
        assert!(outcome.stderr.contains("no path \"fastest\""), "{}", outcome.stderr);
    }
}

/// Every rung of the client passes every http check of the contract, not only the rung
/// `ring` runs by default: the variant table in results/http measures each.
#[test]
fn every_rung_of_the_client_path_keeps_the_contract() {
    let checks = (testkit::contract_checks::GROUP.checks)();
    let http: Vec<_> = checks.into_iter().filter(|c| c.needs == Needs::HTTP).collect();
    assert!(!http.is_empty(), "the contract has http checks");
    Ladder::of(CLIENT).on_every_rung(|rung, leading| {
        for check in &http {
            eprintln!("{rung}: {}", check.name);
            (check.run)("env", leading);
        }
    });
}

/// Deadlines that pass while requests are still on their way in: every step the kernel
/// holds is cancelled, on every rung, and the run ends. On the linked rung a cancel could
/// arrive before the next step of a chain had started, find nothing, and leave that step to
/// wait on a silent server for ever; the review that found it hung at these sizes.
#[test]
fn a_thousand_requests_past_a_short_deadline_end_on_every_rung() {
    let addr = testkit::silent_server().to_string();
    let args = ["--workload", "http", "--tasks", "1000", "--timeout-ms", "5", "--addr", &addr];
    Ladder::of(CLIENT).on_every_rung(|rung, leading| {
        let outcome = testkit::run("env", &[leading, &args[..], &["--json"]].concat());
        assert_eq!(outcome.code, Some(1), "{rung}: {}", outcome.stderr);
        assert_eq!(outcome.report()["failed"], 1000, "{rung}");
    });
}

#[test]
fn an_unknown_client_path_is_refused() {
    Ladder::of(CLIENT).refuses_an_unknown_rung(&["--workload", "http", "--tasks", "1"]);
}

/// Every rung of the crawl crawls each web to its sheet, survives the fault profile (resets,
/// drips, hosts that never answer: RECVs cancelled past their deadline) and holds
/// `--per-host`, with its pages parsed on the loop and on a pool.
#[test]
fn every_rung_of_the_crawl_path_keeps_the_contract() {
    use testkit::crawl_checks as check;
    let workers = ["--workers", "20"];
    Ladder::of(CRAWL).on_every_rung(|_, leading| {
        check::crawls_every_web_to_its_sheet("env", leading, &workers);
        check::crawls_every_web_to_its_sheet("env", leading, &["--workers", "20", "--offload"]);
        check::survives_the_fault_profile("env", leading, &workers);
        check::holds_per_host("env", leading, &workers);
    });
}

#[test]
fn an_unknown_crawl_path_is_refused() {
    Ladder::of(CRAWL).refuses_an_unknown_rung(&[
        "--workload",
        "crawl",
        "--seed",
        "http://127.0.0.1:9/",
    ]);
}

/// Every rung passes every check a server passes, not only the rung the server runs by
/// default: the variant table in results/serve measures each.
#[test]
fn every_rung_of_the_serve_path_keeps_the_contract() {
    Ladder::of(SERVE).on_every_rung(|_, leading| {
        testkit::every_serve_check!([testkit::run_checks] "env", leading,);
        testkit::serve_checks::fifty_clients_are_served_at_once("env", leading);
        a_silent_and_a_slow_client_count_one_error_each(leading);
    });
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
    Ladder::of(SERVE).on_every_rung(|rung, leading| {
        let server =
            testkit::serving::Server::start("env", leading, &[], testkit::serving::Limit::None)
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
    });
}
