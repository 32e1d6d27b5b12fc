//! Test helpers shared by the model crates' integration tests.
//!
//! The tests drive the real binaries as a user would, so a test here can only see what a
//! user sees: the exit status, stdout, stderr and the time it took. [`contract_tests!`]
//! writes the tests every model must pass (the contract); each model crate adds the tests
//! that tell its model apart (serial is slow, pools run in rounds, forks can run out).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

pub use serde_json::Value;

/// The fields `../shared/CONTRACT.md` requires in the `--json` line.
pub const CONTRACT_FIELDS: [&str; 14] = [
    "model",
    "workload",
    "tasks",
    "workers",
    "ok",
    "failed",
    "checksum",
    "wall_s",
    "ideal_s",
    "max_rss_kib",
    "children_max_rss_kib_sum",
    "voluntary_ctx_switches",
    "involuntary_ctx_switches",
    "lateness_ms",
];

/// No test run may hang the suite: past this, the binary is killed and the test fails.
const KILL_AFTER: Duration = Duration::from_secs(120);

/// What a finished run of a binary showed.
pub struct Outcome {
    /// `None` when it was killed by a signal (or by the suite's time limit).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// The `--json` report: exactly one line on stdout that parses as an object.
    pub fn report(&self) -> Value {
        let lines: Vec<&str> = self.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            lines.len(),
            1,
            "want one report line; stdout: {:?} stderr: {:?}",
            self.stdout,
            self.stderr
        );
        serde_json::from_str(lines[0])
            .unwrap_or_else(|e| panic!("report is not JSON ({e}): {}", lines[0]))
    }

    /// The report of a run that must have succeeded with every task ok.
    pub fn success(&self) -> Value {
        assert_eq!(self.code, Some(0), "exit status; stderr: {}", self.stderr);
        let report = self.report();
        assert_eq!(report["failed"], 0, "failed tasks: {report}");
        assert_eq!(report["ok"], report["tasks"], "ok tasks: {report}");
        report
    }

    /// The report of a run the machine stopped short: exit 1, every one of `tasks` counted
    /// as ok or failed with some failed, and the `limit` to raise named on stderr.
    pub fn stopped_at_a_limit(&self, tasks: u64, limit: &str) -> Value {
        assert_eq!(self.code, Some(1), "{}", self.stderr);
        let report = self.report();
        assert!(report["failed"].as_u64() > Some(0), "{report}");
        assert_eq!(report["ok"].as_u64().unwrap() + report["failed"].as_u64().unwrap(), tasks);
        assert!(self.stderr.contains(limit), "want {limit:?} in {}", self.stderr);
        report
    }

    /// `wall_s` from the binary's own report.
    pub fn wall_s(&self) -> f64 {
        self.report()["wall_s"].as_f64().expect("wall_s is a number")
    }
}

/// Run `bin` with `args` (plus nothing else) and wait for it.
pub fn run(bin: &str, args: &[&str]) -> Outcome {
    let mut command = Command::new(bin);
    command.args(args);
    finish(command)
}

/// Run `bin` as the unprivileged user `nobody` with RLIMIT_NPROC lowered to `nproc`, so that
/// fork and clone fail with EAGAIN (root is exempt from RLIMIT_NPROC, hence the user switch).
pub fn run_with_nproc_limit(bin: &str, args: &[&str], nproc: u64) -> Outcome {
    run_with_rlimit(bin, args, libc::RLIMIT_NPROC, nproc, true)
}

/// Run `bin` with RLIMIT_NOFILE lowered to `nofile` (soft and hard, so the binary cannot
/// raise it back): a model holding more sockets at once runs out of file descriptors.
pub fn run_with_nofile_limit(bin: &str, args: &[&str], nofile: u64) -> Outcome {
    run_with_rlimit(bin, args, libc::RLIMIT_NOFILE, nofile, false)
}

/// Run `bin` with `resource` lowered to `value` (soft and hard), as `nobody` if asked.
fn run_with_rlimit(
    bin: &str,
    args: &[&str],
    resource: libc::__rlimit_resource_t,
    value: u64,
    as_nobody: bool,
) -> Outcome {
    let mut command = Command::new(bin);
    command.args(args);
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (setgroups, setgid, setuid, setrlimit); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            let nobody = 65534;
            let limit = libc::rlimit { rlim_cur: value, rlim_max: value };
            let failed = (as_nobody
                && (libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(nobody) != 0
                    || libc::setuid(nobody) != 0))
                || libc::setrlimit(resource, &limit) != 0;
            if failed {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    finish(command)
}

fn finish(command: Command) -> Outcome {
    let started = Instant::now();
    let output = assert_cmd::Command::from_std(command)
        .timeout(KILL_AFTER)
        .output()
        .expect("the binary starts");
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// The checksum of N sleep or http tasks, from the contract: the sum of `i + 100`.
pub fn sum_of_values(tasks: u64) -> u64 {
    (0..tasks).map(|i| i + 100).sum()
}

/// Run `program` (after `leading` arguments, e.g. a Python peer's script) on the http
/// workload against a fresh in-process service: `tasks` requests of `ms` each.
pub fn run_http(program: &str, leading: &[&str], tasks: u32, ms: u32) -> Outcome {
    let service = Service::start();
    let (addr, tasks, ms) = (service.addr.to_string(), tasks.to_string(), ms.to_string());
    let mut args = leading.to_vec();
    args.extend(["--workload", "http", "--tasks", &tasks, "--ms", &ms, "--addr", &addr, "--json"]);
    run(program, &args)
}

/// Run `program` on the http workload against `addr`, which misbehaves, and check that it
/// fails the way the contract says: exit 1, every task failed, `expected` named on stderr,
/// and quickly (no hang).
pub fn assert_http_fails(
    program: &str,
    leading: &[&str],
    addr: SocketAddr,
    extra: &[&str],
    expected: &str,
) {
    let addr = addr.to_string();
    let mut args = leading.to_vec();
    args.extend(["--workload", "http", "--tasks", "3", "--addr", &addr, "--json"]);
    args.extend(extra);
    let outcome = run(program, &args);
    assert_eq!(outcome.code, Some(1), "{args:?}: {}", outcome.stderr);
    assert_eq!(outcome.report()["failed"], 3, "{args:?}");
    assert!(outcome.stderr.contains(expected), "{args:?}: want {expected:?} in {}", outcome.stderr);
    assert!(outcome.elapsed.as_secs() < 10, "{args:?} took {:?}", outcome.elapsed);
}

/// Processes owned by `uid` still alive (zombies included): after a run as `nobody`, none.
pub fn processes_of(uid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let owner = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next());
        if owner == Some(&uid.to_string()) {
            let name = status.lines().next().unwrap_or("").to_string();
            let state = status.lines().find(|l| l.starts_with("State:")).unwrap_or("").to_string();
            found.push(format!("{}: {name} {state}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

/// The project's HTTP service, running in this test process on a free port until dropped.
pub struct Service {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    pub fn start() -> Service {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener =
                    workload::service::listen("127.0.0.1:0".parse().unwrap()).expect("listen");
                ready_tx.send(listener.local_addr().unwrap()).unwrap();
                workload::service::serve(listener, async move {
                    let _ = stop_rx.await;
                })
                .await;
            });
        });
        let addr = ready_rx.recv().expect("the service starts");
        Service { addr, stop: Some(stop_tx), thread: Some(thread) }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.stop.take().map(|stop| stop.send(()));
        let _ = self.thread.take().map(|t| t.join());
    }
}

/// An address where nothing listens: connecting is refused at once.
pub fn refusing_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
    // The listener closes here; the port stays free for the test's short life.
}

/// A server that accepts every connection and never answers: only a timeout ends a request.
/// Keep the returned listener alive for as long as it should listen.
pub fn silent_server() -> (SocketAddr, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    (addr, thread)
}

/// A server that answers every request with a response cut short: the headers promise a
/// 100-byte body, 10 bytes arrive, then the connection closes.
pub fn truncating_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request);
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\":0,\"v");
            });
        }
    });
    addr
}

/// The tests every model passes: the contract's tasks, checksum, report and exit statuses.
/// `contract_tests!("tokio")` in `crates/tokio/tests/` expands to them for the `tokio` binary.
#[macro_export]
macro_rules! contract_tests {
    ($bin:literal) => {
        fn bin() -> &'static str {
            env!(concat!("CARGO_BIN_EXE_", $bin))
        }

        #[test]
        fn twenty_sleeping_tasks_yield_every_value() {
            let report = $crate::run(bin(), &["--tasks", "20", "--ms", "200", "--json"]).success();
            assert_eq!(report["checksum"], $crate::sum_of_values(20));
            assert_eq!(report["model"], $bin);
        }

        #[test]
        fn json_report_holds_every_contract_field() {
            let report = $crate::run(bin(), &["--tasks", "3", "--ms", "10", "--json"]).success();
            for field in $crate::CONTRACT_FIELDS {
                assert!(report.get(field).is_some(), "missing {field} in {report}");
            }
            assert_eq!(report["workload"], "sleep");
            assert!(report["ideal_s"].as_f64() >= Some(0.01), "{report}");
            assert!(report["lateness_ms"]["p99"].is_number(), "{report}");
        }

        #[test]
        fn human_report_is_one_line_with_the_checksum() {
            let outcome = $crate::run(bin(), &["--tasks", "3", "--ms", "10"]);
            assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
            assert_eq!(outcome.stdout.lines().count(), 1, "{}", outcome.stdout);
            assert!(
                outcome.stdout.starts_with(concat!($bin, " · sleep · 3 tasks")),
                "{}",
                outcome.stdout
            );
            assert!(outcome.stdout.contains("checksum 303"), "{}", outcome.stdout);
        }

        #[test]
        fn verbose_names_every_task_on_stderr() {
            let outcome = $crate::run(bin(), &["--tasks", "4", "--ms", "10", "--verbose"]);
            assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
            assert_eq!(outcome.stderr.lines().count(), 4, "{}", outcome.stderr);
        }

        #[test]
        fn bad_input_exits_2_with_a_reason_and_nothing_on_stdout() {
            let cases: &[&[&str]] = &[
                &["--tasks", "0"],
                &["--tasks", "-3"],
                &["--tasks", "ten"],
                &["--ms", "-5"],
                &["--work", "1.5"],
                &["--workload", "nope"],
                &["--addr", "nowhere"],
                &["--timeout-ms", "0"],
                &["--frobnicate"],
            ];
            for case in cases {
                let outcome = $crate::run(bin(), case);
                assert_eq!(outcome.code, Some(2), "{case:?}: {}", outcome.stderr);
                assert!(outcome.stdout.is_empty(), "{case:?}: stdout {:?}", outcome.stdout);
                assert!(outcome.stderr.starts_with("Error: "), "{case:?}: {}", outcome.stderr);
                assert!(!outcome.stderr.contains("panicked"), "{case:?}: {}", outcome.stderr);
            }
        }

        #[test]
        fn cpu_tasks_yield_the_known_checksum() {
            // From Python's hashlib: 4 chains of 1000 SHA-256 rounds, the first 8 bytes summed.
            let report = $crate::run(
                bin(),
                &["--workload", "cpu", "--tasks", "4", "--work", "1000", "--json"],
            )
            .success();
            assert_eq!(report["checksum"], 11416395711822536050u64);
            assert!(report["ideal_s"].is_null() && report["lateness_ms"].is_null(), "{report}");
        }

        #[test]
        fn http_tasks_get_their_values_from_the_service() {
            let report = $crate::run_http(bin(), &[], 200, 100).success();
            assert_eq!(report["checksum"], $crate::sum_of_values(200));
        }

        #[test]
        fn refused_connection_fails_fast_with_exit_1() {
            $crate::assert_http_fails(
                bin(),
                &[],
                $crate::refusing_addr(),
                &[],
                "connection refused",
            );
        }

        #[test]
        fn truncated_response_is_an_error_not_a_hang() {
            $crate::assert_http_fails(bin(), &[], $crate::truncating_server(), &[], "truncated");
        }

        #[test]
        fn silent_service_is_bounded_by_the_timeout() {
            let (addr, _server) = $crate::silent_server();
            $crate::assert_http_fails(bin(), &[], addr, &["--timeout-ms", "300"], "timed out");
        }
    };
}

/// What every concurrent model shows: the sleeps and the requests overlap.
/// `concurrent_tests!()` after `contract_tests!` in a concurrent model's tests.
#[macro_export]
macro_rules! concurrent_tests {
    () => {
        #[test]
        fn twenty_sleeping_tasks_overlap() {
            let outcome = $crate::run(bin(), &["--tasks", "20", "--ms", "200", "--json"]);
            outcome.success();
            let wall = outcome.wall_s();
            assert!(wall < 1.0, "20 x 200 ms in {wall} s; ideal 0.2 s, serial 4 s");
        }

        #[test]
        fn http_tasks_overlap_far_below_serial_time() {
            let outcome = $crate::run_http(bin(), &[], 200, 100);
            outcome.success();
            let wall = outcome.wall_s();
            assert!(wall < 2.0, "200 x 100 ms requests in {wall} s; serial takes 20 s");
        }
    };
}

/// What the models with a `--workers` pool show (`procs`, `threads`).
#[macro_export]
macro_rules! pool_tests {
    () => {
        #[test]
        fn a_pool_of_two_runs_four_tasks_in_two_rounds() {
            let outcome =
                $crate::run(bin(), &["--tasks", "4", "--ms", "200", "--workers", "2", "--json"]);
            assert_eq!(outcome.success()["workers"], 2);
            let wall = outcome.wall_s();
            assert!((0.4..2.0).contains(&wall), "4 x 200 ms on 2 workers in {wall} s");
        }

        #[test]
        fn cpu_tasks_in_a_pool_yield_the_same_checksum() {
            let args =
                ["--workload", "cpu", "--tasks", "4", "--work", "1000", "--workers", "3", "--json"];
            assert_eq!($crate::run(bin(), &args).success()["checksum"], 11416395711822536050u64);
        }
    };
}

/// What the models that hold every socket at once show (`threads`, `tokio`, `epoll`,
/// `uring`): past RLIMIT_NOFILE, requests fail with the limit named, and the run ends.
#[macro_export]
macro_rules! socket_limit_tests {
    () => {
        #[test]
        fn running_out_of_file_descriptors_exits_1_naming_the_limit() {
            let service = $crate::Service::start();
            let addr = service.addr.to_string();
            let args =
                ["--workload", "http", "--tasks", "200", "--ms", "200", "--addr", &addr, "--json"];
            let outcome = $crate::run_with_nofile_limit(bin(), &args, 64);
            outcome.stopped_at_a_limit(200, "RLIMIT_NOFILE");
            assert!(outcome.elapsed.as_secs() < 30, "took {:?}", outcome.elapsed);
        }
    };
}

/// What the event loops show (`tokio`, `epoll`, `uring`): thousands of waits cost little
/// more than one, and cpu work blocks the loop unless it is offloaded.
#[macro_export]
macro_rules! event_loop_tests {
    () => {
        #[test]
        fn ten_thousand_sleeping_tasks_take_about_one_sleep() {
            let outcome = $crate::run(bin(), &["--tasks", "10000", "--ms", "200", "--json"]);
            outcome.success();
            let wall = outcome.wall_s();
            assert!(wall < 2.0, "10,000 x 200 ms in {wall} s; ideal 0.2 s");
        }

        #[test]
        fn offloaded_cpu_tasks_yield_the_same_checksum() {
            let args =
                ["--workload", "cpu", "--tasks", "4", "--work", "1000", "--offload", "--json"];
            let report = $crate::run(bin(), &args).success();
            assert_eq!(report["checksum"], 11416395711822536050u64);
            assert_eq!(report["offload"], true);
        }

        #[test]
        fn offloading_cpu_work_keeps_the_loop_ticking() {
            // Each task hashes for roughly 0.1 to 0.4 s on this machine kind; on the loop, the
            // loop's 10 ms timer waits for it; handed to a pool, it keeps (generous) time.
            let args = ["--workload", "cpu", "--tasks", "4", "--work", "4000000", "--json"];
            let blocked = $crate::run(bin(), &args).success();
            let offloaded = $crate::run(bin(), &[&args[..], &["--offload"]].concat()).success();
            let max =
                |r: &$crate::Value| r["loop_lag_ms"]["max"].as_f64().expect("loop_lag_ms.max");
            assert!(max(&blocked) > 60.0, "blocked loop lag {}", blocked["loop_lag_ms"]);
            assert!(max(&offloaded) < 60.0, "offloaded loop lag {}", offloaded["loop_lag_ms"]);
        }
    };
}
