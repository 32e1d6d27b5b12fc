//! The test suites, as macros: `contract_tests!("tokio")` expands to the tests that drive the
//! `tokio` binary, `BIN`. [`suite!`](crate::suite!) puts one in a module of its name beside
//! `BIN`, and [`suites!`](crate::suites!), in `crates/tokio/tests/tokio.rs`, several.

/// In a test of a workload's suite: return at once unless the model `bin`'s roster.toml
/// entry runs `workload`.
#[macro_export]
#[doc(hidden)]
macro_rules! unless_it_runs {
    ($bin:literal, $workload:ident) => {
        if !$crate::suites::declares($bin, |p| p.runs($crate::roster::Workload::$workload)) {
            return;
        }
    };
}

/// One `#[test]` a check of testkit's `$module` (`db_checks`, `cli_checks`, …), named as the
/// check and run on `BIN` with no leading arguments — and `$extra`, if given — where the
/// model's roster.toml entry runs `$workload` (`always`: whatever it runs): the wrappers each
/// suite would otherwise spell out one by one.
#[macro_export]
#[doc(hidden)]
macro_rules! checks_as_tests {
    ($bin:literal, always, $module:ident: [$($check:ident),+ $(,)?]) => {
        $(
            #[test]
            fn $check() {
                $crate::$module::$check(BIN, &[]);
            }
        )+
    };
    ($bin:literal, $workload:ident, $module:ident: [$($check:ident),+ $(,)?]) => {
        $(
            #[test]
            fn $check() {
                $crate::unless_it_runs!($bin, $workload);
                $crate::$module::$check(BIN, &[]);
            }
        )+
    };
    ($bin:literal, $workload:ident, $module:ident: [$($check:ident),+ $(,)?], extra: $extra:expr) => {
        $(
            #[test]
            fn $check() {
                $crate::unless_it_runs!($bin, $workload);
                $crate::$module::$check(BIN, &[], $extra);
            }
        )+
    };
}

/// A list of checks called in turn on a program and its leading arguments, where a test
/// holds a variant of a program to them all: `every_serve_check!([testkit::run_checks]
/// "env", leading,)`.
#[macro_export]
macro_rules! run_checks {
    ($program:expr, $leading:expr, $module:ident: [$($check:ident),+ $(,)?]) => {
        $($crate::$module::$check($program, $leading);)+
    };
}

/// Whether the model `bin`'s roster.toml entry (as built into the binaries) says `what`.
pub fn declares(bin: &str, what: impl Fn(&roster::Program) -> bool) -> bool {
    roster::Roster::embedded().program(bin).is_some_and(what)
}

/// The tests every model passes: the contract's tasks, checksum, report and exit statuses,
/// and the http task against the service and against servers that misbehave.
#[macro_export]
macro_rules! contract_tests {
    ($bin:literal) => {
        use $crate::contract_checks as check;

        $crate::checks_as_tests!($bin, Sleep, contract_checks: [
            json_report_holds_every_contract_field,
            verbose_names_every_task_on_stderr,
            bad_input_exits_2_with_a_reason_and_nothing_on_stdout,
            cpu_tasks_yield_the_known_checksum,
            http_tasks_get_their_values_from_the_service,
            chunked_responses_streamed_in_pieces_are_read_whole,
            refused_connection_fails_fast_with_exit_1,
            truncated_response_is_an_error_not_a_hang,
            silent_service_is_bounded_by_the_timeout,
        ]);
        $crate::checks_as_tests!($bin, Sleep, cli_checks: [
            a_rejected_command_leaves_the_timeline_file_untouched,
            a_flag_that_does_not_apply_to_serving_is_refused_saying_why,
            a_host_no_resolver_knows_exits_1_naming_it,
            version_is_one_line_and_exit_0,
            a_password_is_never_printed,
        ]);
        $crate::checks_as_tests!($bin, Sleep, pool_checks: [a_pool_no_machine_can_hold_is_bad_input]);
        $crate::checks_as_tests!($bin, Sleep, signal_checks: [a_signal_ends_a_run_at_once], extra: &[]);

        #[test]
        fn twenty_sleeping_tasks_yield_every_value() {
            check::twenty_sleeping_tasks_yield_every_value(BIN, &[]);
            let report = $crate::run(BIN, &["--tasks", "2", "--ms", "1", "--json"]).success();
            assert_eq!(report["model"], $bin);
        }

        #[test]
        fn human_report_is_one_line_with_the_checksum() {
            check::human_report_is_one_line_with_the_checksum(BIN, &[]);
            let outcome = $crate::run(BIN, &["--tasks", "3", "--ms", "10"]);
            assert!(
                outcome.stdout.starts_with(concat!($bin, " · sleep · 3 tasks")),
                "{}",
                outcome.stdout
            );
        }

        #[test]
        fn timeline_has_a_span_per_task_on_the_runner_verbose_names() {
            check::timeline_has_a_span_per_task(BIN, &[]);
            check::cpu_timeline_has_a_span_per_task(BIN, &[]);
        }

        #[test]
        fn a_flag_that_does_not_apply_is_refused_saying_why() {
            $crate::cli_checks::a_flag_that_does_not_apply_is_refused_saying_why(BIN, &[]);
            $crate::cli_checks::a_flag_that_does_not_apply_to_cpu_is_refused_saying_why(
                BIN,
                &[],
            );
        }

        #[test]
        fn clap_s_suggestions_reach_the_user() {
            $crate::cli_checks::clap_s_suggestions_reach_the_user(BIN);
        }

    };
}

/// A test that `$tasks` sleeps of 200 ms overlap: the run takes under `$most` seconds.
#[macro_export]
#[doc(hidden)]
macro_rules! sleeps_overlap_test {
    ($name:ident, $tasks:literal, $most:literal, $ideal:literal) => {
        #[test]
        fn $name() {
            let args = ["--tasks", stringify!($tasks), "--ms", "200", "--json"];
            let ran = concat!(stringify!($tasks), " x 200 ms (", $ideal, ")");
            $crate::run(BIN, &args).overlapped_within($most, ran);
        }
    };
}

/// What every concurrent model shows: the sleeps and the requests overlap.
#[macro_export]
macro_rules! concurrent_tests {
    ($bin:literal) => {
        $crate::sleeps_overlap_test!(
            twenty_sleeping_tasks_overlap,
            20,
            1.0,
            "ideal 0.2 s, serial 4 s"
        );

        #[test]
        fn http_tasks_overlap_far_below_serial_time() {
            let outcome = $crate::run_http(BIN, &[], 200, 100);
            outcome.overlapped_within(2.0, "200 x 100 ms requests (serial takes 20 s)");
        }
    };
}

/// What the models with a `--workers` pool show (`procs`, `threads`).
#[macro_export]
macro_rules! pool_tests {
    ($bin:literal) => {
        /// A pool whose tasks hold their worker while they wait: a pool, and no event
        /// loop (whose waiting tasks hold nothing, as tokio's do).
        fn has_pool() -> bool {
            use $crate::roster::{Flag, Program};
            $crate::suites::declares($bin, |p: &Program| p.has_pool() && !p.takes(Flag::Offload))
        }

        #[test]
        fn a_pool_of_two_runs_four_tasks_in_two_rounds() {
            if !has_pool() {
                return;
            }
            let args = ["--tasks", "4", "--ms", "200", "--workers", "2", "--json"];
            let outcome = $crate::run(BIN, &args);
            assert_eq!(outcome.success()["workers"], 2);
            let wall = outcome.wall_s();
            assert!((0.4..2.0).contains(&wall), "4 x 200 ms on 2 workers in {wall} s");
        }

        #[test]
        fn a_pool_past_a_limit_is_refused_before_it_starts() {
            if !has_pool() {
                return;
            }
            $crate::pool_checks::a_pool_past_a_limit_is_refused_before_it_starts(
                BIN,
                &[],
                &["--ms", "100"],
            );
        }

        #[test]
        fn a_signal_ends_a_pooled_run_at_once() {
            if !has_pool() {
                return;
            }
            $crate::signal_checks::a_signal_ends_a_run_at_once(BIN, &[], &["--workers", "4"]);
        }

        #[test]
        fn cpu_tasks_in_a_pool_yield_the_same_checksum() {
            if !has_pool() {
                return;
            }
            let args = ["--workload", "cpu", "--tasks", "4", "--work", "1000"];
            let report =
                $crate::run(BIN, &[&args[..], &["--workers", "3", "--json"]].concat()).success();
            assert_eq!(report["checksum"], $crate::CPU_CHECKSUM_4_X_1000);
        }
    };
}

/// What the models that hold every socket at once show (`threads`, `tokio`, `epoll`,
/// `uring`): past RLIMIT_NOFILE, requests fail with the limit named, and the run ends.
#[macro_export]
macro_rules! socket_limit_tests {
    ($bin:literal) => {
        #[test]
        fn running_out_of_file_descriptors_exits_1_naming_the_limit() {
            let service = $crate::Service::start();
            let addr = service.addr.to_string();
            let args = ["--workload", "http", "--tasks", "200", "--ms", "200", "--addr", &addr];
            let args = [&args[..], &["--json"]].concat();
            let outcome = $crate::run_with_nofile_limit(BIN, &args, 64);
            outcome.stopped_at_a_limit(200, "RLIMIT_NOFILE");
            assert!(outcome.elapsed.as_secs() < 30, "took {:?}", outcome.elapsed);
        }
    };
}

/// What the event loops show (`tokio`, `epoll`, `uring`): thousands of waits cost little
/// more than one, and cpu work blocks the loop unless it is offloaded.
#[macro_export]
macro_rules! event_loop_tests {
    ($bin:literal) => {
        $crate::sleeps_overlap_test!(
            ten_thousand_sleeping_tasks_take_about_one_sleep,
            10000,
            2.0,
            "ideal 0.2 s"
        );
    };
}

/// The tests of `--offload`, run where the model's roster.toml entry takes it: the same
/// checksum, and a loop that keeps ticking while a pool hashes; elsewhere, the flag refused.
#[macro_export]
macro_rules! offload_tests {
    ($bin:literal) => {
        fn can_offload() -> bool {
            $crate::suites::declares($bin, |p| p.takes($crate::roster::Flag::Offload))
        }

        #[test]
        fn offloaded_cpu_tasks_yield_the_same_checksum() {
            let args =
                ["--workload", "cpu", "--tasks", "4", "--work", "1000", "--offload", "--json"];
            let outcome = $crate::run(BIN, &args);
            if !can_offload() {
                assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
                return;
            }
            let report = outcome.success();
            assert_eq!(report["checksum"], $crate::CPU_CHECKSUM_4_X_1000);
            assert_eq!(report["offload"], true);
        }

        #[test]
        fn an_offload_pool_past_a_limit_is_refused_before_it_starts() {
            if !$crate::suites::declares($bin, |p| p.sizes($crate::roster::Sizes::Offload)) {
                return;
            }
            $crate::pool_checks::a_pool_past_a_limit_is_refused_before_it_starts(
                BIN,
                &[],
                &["--workload", "cpu", "--offload", "--work", "1"],
            );
        }

        #[test]
        fn offloading_cpu_work_keeps_the_loop_ticking() {
            if !can_offload() {
                return;
            }
            // Each task hashes for roughly 0.1 to 0.4 s on this machine kind; on the loop,
            // the loop's 10 ms timer waits for it; handed to a pool, it keeps (generous) time.
            let args = ["--workload", "cpu", "--tasks", "4", "--work", "4000000", "--json"];
            let blocked = $crate::run(BIN, &args).success();
            let offloaded = $crate::run(BIN, &[&args[..], &["--offload"]].concat()).success();
            let lag = |r: &$crate::Value, q: &str| {
                r["loop_lag_ms"][q].as_f64().expect("loop_lag_ms has p50 and max")
            };
            let shown = format!(
                "blocked loop lag {}, offloaded {}",
                blocked["loop_lag_ms"], offloaded["loop_lag_ms"]
            );
            // On the loop, a tick waits for a whole task. Handed to a pool, the median tick
            // is on time; a loaded 2-core machine may still deschedule the loop once for
            // tens of ms, so its worst tick is only bounded by half the blocked one.
            assert!(lag(&blocked, "max") > 60.0, "{shown}");
            assert!(lag(&offloaded, "p50") < 20.0, "{shown}");
            assert!(lag(&offloaded, "max") < lag(&blocked, "max") / 2.0, "{shown}");
        }
    };
}

/// The server every model is with `--serve` (`CONTRACT.md`, "Serving"): routes and
/// keep-alive, pipelining, 431 and 400, slow and resetting clients, a clean stop.
#[macro_export]
macro_rules! serve_tests {
    ($bin:literal) => {
        $crate::every_serve_check!([$crate::checks_as_tests] $bin, always,);
        $crate::checks_as_tests!($bin, always, cli_checks: [a_bind_error_gets_a_bind_error_s_advice]);
    };
}
/// A concurrent server serves many clients at once.
#[macro_export]
macro_rules! concurrent_serve_tests {
    ($bin:literal) => {
        $crate::checks_as_tests!($bin, always, serve_checks: [fifty_clients_are_served_at_once]);
    };
}

/// A server that holds a descriptor per connection, out of descriptors: it refuses the rest,
/// names RLIMIT_NOFILE and goes on serving the connections it has.
#[macro_export]
macro_rules! serve_nofile_tests {
    ($bin:literal) => {
        $crate::serve_limit_test!($crate::serving::Limit::Nofile(48), 80, "RLIMIT_NOFILE");
    };
}

/// A server that starts a thread or a process per connection, out of them: it refuses the
/// rest, names the limit and goes on serving the connections it has.
#[macro_export]
macro_rules! serve_nproc_tests {
    ($bin:literal) => {
        $crate::serve_limit_test!($crate::serving::Limit::Nproc(12), 40, "ulimit -u");
    };
}

/// One server out of one `limit`, met by `clients` connections, names `named`.
#[macro_export]
#[doc(hidden)]
macro_rules! serve_limit_test {
    ($limit:expr, $clients:literal, $named:literal) => {
        #[test]
        fn at_the_limit_it_refuses_names_it_and_keeps_serving() {
            $crate::serve_checks::at_a_limit_it_refuses_names_it_and_keeps_serving(
                BIN,
                &[],
                $limit,
                $clients,
                $named,
            );
        }
    };
}
