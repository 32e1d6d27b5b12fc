//! The peers speak the same contract as the Rust models: same values, same checksum, same
//! exit statuses — the Python ones, Go's and Node's. `make test` points CONCLAB_PEER_PYTHON at
//! the virtualenv that has uvloop, Go and Node; without it, the project's `.venv`, and then
//! `python3` from PATH for the Python peers.

use std::path::PathBuf;

use roster::{Flag, Workload};
use testkit::Needs;

/// Every peer of the roster (roster.toml, or the file CONCLAB_ROSTER names), as (id,
/// program, leading arguments): a peer added there is tested here with no change to this
/// file. CONCLAB_PEERS_ONLY=ID,… keeps those (the partial peer's test below runs them so).
fn peers() -> Vec<(String, String, Vec<String>)> {
    let roster = roster::Roster::load().expect("roster.toml");
    let python = std::env::var("CONCLAB_PEER_PYTHON").ok().map(PathBuf::from);
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release");
    let places = roster::Places::new(bin, python);
    let only = std::env::var("CONCLAB_PEERS_ONLY").ok();
    roster
        .peers()
        .filter(|p| only.as_ref().is_none_or(|ids| ids.split(',').any(|id| id == p.id)))
        .map(|p| {
            let mut argv = p.argv(&places);
            let program = argv.remove(0);
            (p.id.clone(), program, argv)
        })
        .collect()
}

/// The roster entry of peer `id`: what it runs and takes.
fn entry(id: &str) -> roster::Program {
    let roster = roster::Roster::load().expect("roster.toml");
    roster.program(id).expect("in the roster").clone()
}

/// The peers (of those tested) the roster says have a pool that --workers sizes.
fn pooled() -> Vec<String> {
    peers().into_iter().map(|p| p.0).filter(|id| entry(id).has_pool()).collect()
}

fn run_peer(program: &str, leading: &[String], args: &[&str]) -> testkit::Outcome {
    let mut argv: Vec<&str> = leading.iter().map(String::as_str).collect();
    argv.extend_from_slice(args);
    testkit::run(program, &argv)
}

fn leading(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The README's recipe ("Adding a model or a peer"), followed: a peer of a few lines on
/// contract.py that runs sleep alone (`tests/fixtures/py_sleep_only.py`), added to a copy of
/// the roster, passes `bench conform --program` and every test of this file that applies to
/// it — this binary, run again on that roster and that peer alone.
#[test]
fn a_partial_peer_added_by_the_recipe_passes_conform_and_the_peer_tests() {
    if std::env::var_os("CONCLAB_PEERS_ONLY").is_some() {
        return; // the run below, on the partial peer alone
    }
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/py_sleep_only.py");
    let entry = format!(
        "\n[[program]]\nid = \"py-sleep-only\"\nruntime = \"python\"\n\
         run = [\"{{python}}\", \"{}\"]\nworkloads = [\"sleep\"]\nflags = [\"timeline\"]\n\
         install = \"make peers\"\ndoc = \"a partial peer: sleep alone\"\n",
        fixture.display()
    );
    let scratch = testkit::disk_checks::Scratch::new();
    let roster_path = scratch.path("roster.toml");
    let roster = std::fs::read_to_string(roster::Roster::path()).expect("roster.toml") + &entry;
    std::fs::write(&roster_path, roster).unwrap();
    let env = [("CONCLAB_ROSTER", roster_path.clone())];

    let bench = env!("CARGO_BIN_EXE_bench");
    let conform = testkit::run_with_env(bench, &["conform", "--program", "py-sleep-only"], &env);
    assert_eq!(conform.code, Some(0), "{}\n{}", conform.stdout, conform.stderr);
    assert!(conform.stdout.contains("does not take not run"), "{}", conform.stdout);

    let me = std::env::current_exe().expect("this test binary").display().to_string();
    let only = [&env[..], &[("CONCLAB_PEERS_ONLY", "py-sleep-only".to_string())]].concat();
    let tests = testkit::run_with_env(&me, &["--test-threads", "4"], &only);
    assert_eq!(tests.code, Some(0), "{}\n{}", tests.stdout, tests.stderr);
    assert!(tests.stdout.contains(" 0 failed"), "{}", tests.stdout);
}

/// The checks every model's suites run (and `bench conform`), one test a check so that the
/// first failure hides none of the others, each run against every peer whose roster entry
/// takes what the check needs: `test_name: needs, check;`, or `…, check, with [extra…];` for
/// a check that takes more, and `…, skipping ["peer"…];` for peers it does not apply to. After
/// `crawling:`, each is run
/// against the peers that crawl, with their `--workers` (`every_crawling_peer`).
macro_rules! every_peer_tests {
    ($($test:ident: $needs:expr, $check:path $(, with [$($extra:expr),+])? $(, skipping [$($skip:literal),+])?;)+) => {
        $(
            #[test]
            fn $test() {
                every_peer($needs, &[$($($skip),+)?], |program, lead| {
                    $check(program, lead $($(, $extra)+)?)
                });
            }
        )+
    };
    (crawling: $($test:ident: $check:path;)+) => {
        $(
            #[test]
            fn $test() {
                every_crawling_peer($check);
            }
        )+
    };
}

every_peer_tests! {
    every_peer_passes_twenty_sleeping_tasks_yield_every_value: Needs::SLEEP, testkit::contract_checks::twenty_sleeping_tasks_yield_every_value;
    every_peer_passes_json_report_holds_every_contract_field: Needs::SLEEP, testkit::contract_checks::json_report_holds_every_contract_field;
    every_peer_passes_human_report_is_one_line_with_the_checksum: Needs::SLEEP, testkit::contract_checks::human_report_is_one_line_with_the_checksum;
    every_peer_passes_verbose_names_every_task_on_stderr: Needs::SLEEP, testkit::contract_checks::verbose_names_every_task_on_stderr;
    every_peer_passes_bad_input_exits_2_with_a_reason_and_nothing_on_stdout: Needs::NOTHING, testkit::contract_checks::bad_input_exits_2_with_a_reason_and_nothing_on_stdout;
    every_peer_passes_cpu_tasks_yield_the_known_checksum: Needs::CPU, testkit::contract_checks::cpu_tasks_yield_the_known_checksum;
    every_peer_passes_http_tasks_get_their_values_from_the_service: Needs::HTTP, testkit::contract_checks::http_tasks_get_their_values_from_the_service;
    every_peer_passes_chunked_responses_streamed_in_pieces_are_read_whole: Needs::HTTP, testkit::contract_checks::chunked_responses_streamed_in_pieces_are_read_whole;
    every_peer_passes_refused_connection_fails_fast_with_exit_1: Needs::HTTP, testkit::contract_checks::refused_connection_fails_fast_with_exit_1;
    every_peer_passes_truncated_response_is_an_error_not_a_hang: Needs::HTTP, testkit::contract_checks::truncated_response_is_an_error_not_a_hang;
    every_peer_passes_silent_service_is_bounded_by_the_timeout: Needs::HTTP, testkit::contract_checks::silent_service_is_bounded_by_the_timeout;
    every_peer_serves_its_routes_on_one_keep_alive_connection: Needs::SERVE, testkit::serve_checks::routes_answer_on_one_keep_alive_connection;
    every_peer_answers_pipelined_requests_in_order: Needs::SERVE, testkit::serve_checks::pipelined_requests_are_answered_in_order;
    every_peer_ends_http_1_0_and_connection_close_connections: Needs::SERVE, testkit::serve_checks::http_1_0_and_connection_close_end_the_connection;
    every_peer_answers_an_oversized_head_431_and_garbage_400: Needs::SERVE, testkit::serve_checks::an_oversized_head_gets_431_and_garbage_400;
    every_peer_closes_a_silent_client_after_the_timeout: Needs::SERVE, testkit::serve_checks::a_silent_client_is_closed_after_the_timeout;
    every_peer_survives_a_reset_client: Needs::SERVE, testkit::serve_checks::a_reset_client_leaves_the_server_serving;
    every_peer_finishes_the_request_in_flight_on_sigterm_and_reports: Needs::SERVE, testkit::serve_checks::sigterm_finishes_the_request_in_flight_and_reports;
    every_peer_writes_blocks_that_read_back_as_the_definition: Needs::DISK, testkit::disk_checks::writes_read_back_as_the_definition;
    every_peer_makes_a_missing_file_from_the_definition: Needs::DISK, testkit::disk_checks::a_missing_file_is_made_from_the_definition;
    every_peer_leaves_the_timeline_file_untouched_when_it_refuses_its_arguments: Needs::flag(&[Flag::Timeline]), testkit::cli_checks::a_rejected_command_leaves_the_timeline_file_untouched;
    every_peer_gives_a_bind_error_the_models_advice: Needs::SERVE, testkit::cli_checks::a_bind_error_gets_a_bind_error_s_advice;
    every_peer_fails_a_host_no_resolver_knows_with_exit_1: Needs::DB, testkit::cli_checks::a_host_no_resolver_knows_exits_1_naming_it;
    every_peer_prints_its_version: Needs::NOTHING, testkit::cli_checks::version_is_one_line_and_exit_0;
    no_peer_prints_a_password: Needs::NOTHING, testkit::cli_checks::a_password_is_never_printed;
    every_peer_refuses_a_pool_no_machine_can_hold: Needs::DB, testkit::pool_checks::a_pool_no_machine_can_hold_is_bad_input;
    every_peer_names_a_bad_parameter_in_its_400: Needs::SERVE, testkit::serve_checks::a_bad_parameter_is_named_in_the_answer;
    every_peer_reports_the_port_bound_and_counts_4xx_apart: Needs::SERVE, testkit::serve_checks::the_report_names_the_port_bound_and_counts_4xx_apart;
    every_peer_queries_postgres_with_and_without_a_pool: Needs::DB, testkit::db_checks::queries_yield_the_checksum;
    every_peer_writes_rows_returning_the_same_values: Needs::DB, testkit::db_checks::writes_return_the_same_values;
    every_peer_logs_in_by_scram_and_names_a_refused_login: Needs::DB, testkit::db_checks::logins_by_scram_and_their_refusals;
    every_peer_rejects_a_bad_db_url_with_exit_2: Needs::DB, testkit::db_checks::bad_db_input_exits_2;
    every_peer_fails_a_missing_row_naming_it: Needs::DB, testkit::db_checks::a_missing_row_fails_naming_it;
    every_peer_fails_a_query_past_its_timeout: Needs::DB, testkit::db_checks::a_query_past_its_timeout_fails;
    every_peer_fails_every_task_when_the_server_stops: Needs::DB, testkit::db_checks::a_server_that_stops_fails_every_task;
    every_concurrent_peer_serves_fifty_clients_at_once: Needs::SERVE, testkit::serve_checks::fifty_clients_are_served_at_once, skipping ["py-serial"];
    every_peer_reads_the_right_blocks_direct_and_buffered: Needs::DISK, testkit::disk_checks::reads_yield_the_checksum, with [&[]];
    every_peer_with_a_file_pool_reads_the_right_blocks_with_workers: Needs::DISK, testkit::disk_checks::reads_yield_the_checksum, with [&["--workers", "3"]], skipping ["py-serial"];
    every_peer_passes_the_token_round_every_ring: Needs::BRIGADE, testkit::brigade_checks::the_token_goes_round_every_ring, with [&[]];
}

#[test]
fn every_peer_names_the_runner_of_each_task() {
    for (peer, program, lead) in peers() {
        let outcome = run_peer(&program, &lead, &["--tasks", "3", "--ms", "10", "--verbose"]);
        assert_eq!(outcome.code, Some(0), "{peer}: {}", outcome.stderr);
        let lines: Vec<&str> = outcome.stderr.lines().collect();
        assert_eq!(lines.len(), 3, "{peer}: {}", outcome.stderr);
        assert!(lines.iter().all(|l| l.contains("pid ")), "{peer}: {}", outcome.stderr);
    }
}

#[test]
fn a_pool_of_goroutines_runs_four_tasks_in_two_rounds() {
    let Some((_, program, lead)) = peers().into_iter().find(|p| p.0 == "go-goroutines") else {
        return; // not among the peers tested (CONCLAB_PEERS_ONLY)
    };
    let args = ["--tasks", "4", "--ms", "200", "--workers", "2", "--json"];
    let outcome = run_peer(&program, &lead, &args);
    assert_eq!(outcome.success()["workers"], 2);
    let wall = outcome.wall_s();
    assert!((0.4..2.0).contains(&wall), "4 x 200 ms on 2 goroutine workers in {wall} s");
}

#[test]
fn offloading_keeps_the_python_and_node_loops_ticking() {
    let args = ["--workload", "cpu", "--tasks", "2", "--work", "400000", "--json"];
    for (peer, program, lead) in peers() {
        if peer != "py-asyncio" && peer != "node-promises" {
            continue;
        }
        let blocked = run_peer(&program, &lead, &args).success();
        let offloaded = run_peer(&program, &lead, &[&args[..], &["--offload"]].concat()).success();
        assert_eq!(offloaded["checksum"], blocked["checksum"], "{peer}");
        let max = |r: &serde_json::Value| r["loop_lag_ms"]["max"].as_f64().unwrap_or(0.0);
        // Each task hashes for roughly 0.1 s or more; on the loop, the ticker waits for it.
        // Handed to a pool, the ticker waits at most for a scheduler's hiccup: on a loaded
        // 2-core machine that can reach tens of ms, so the bound is against the blocked run.
        assert!(max(&blocked) > 50.0, "{peer}: blocked loop lag {}", blocked["loop_lag_ms"]);
        assert!(
            max(&offloaded) < max(&blocked) / 2.0,
            "{peer}: offloaded loop lag {} against blocked {}",
            offloaded["loop_lag_ms"],
            blocked["loop_lag_ms"]
        );
    }
}

/// Run a check (`testkit::serve_checks`, `testkit::disk_checks`) against every peer whose
/// roster entry takes what it `needs`, but `skip`; a failure names the peer.
fn every_peer(needs: Needs, skip: &[&str], check: fn(&str, &[&str])) {
    for (peer, program, lead) in peers() {
        if skip.contains(&peer.as_str()) || !needs.met_by(&entry(&peer)) {
            continue;
        }
        let outcome = std::panic::catch_unwind(|| check(&program, &leading(&lead)));
        if let Err(e) = outcome {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{peer}: {why}");
        }
    }
}

#[test]
fn every_peer_writes_a_timeline_on_the_runners_verbose_names() {
    for (peer, program, lead) in peers() {
        let lead = leading(&lead);
        if !Needs::SLEEP_TIMELINE.met_by(&entry(&peer)) {
            continue;
        }
        let sleep = testkit::timeline_of(&program, &lead, &["--tasks", "4", "--ms", "50"], 4);
        if entry(&peer).runs(Workload::Cpu) {
            let cpu = ["--workload", "cpu", "--tasks", "3", "--work", "1000"];
            testkit::timeline_of(&program, &lead, &cpu, 3);
        }
        // Every peer but the serial one runs the four sleeps at once.
        assert_eq!(testkit::any_overlap(&sleep), peer != "py-serial", "{peer}: {sleep:?}");
    }
}

#[test]
fn every_peer_refuses_bad_disk_input_and_unusable_files() {
    every_peer(Needs::DISK, &[], testkit::disk_checks::bad_disk_input_exits_2);
    every_peer(Needs::DISK, &[], testkit::disk_checks::an_unusable_file_exits_1_naming_it);
}

#[test]
fn every_peer_refuses_a_flag_that_does_not_apply_saying_why() {
    every_peer(
        Needs::NOTHING,
        &[],
        testkit::cli_checks::a_flag_that_does_not_apply_is_refused_saying_why,
    );
    every_peer(
        Needs::CPU,
        &[],
        testkit::cli_checks::a_flag_that_does_not_apply_to_cpu_is_refused_saying_why,
    );
    every_peer(
        Needs::SERVE,
        &[],
        testkit::cli_checks::a_flag_that_does_not_apply_to_serving_is_refused_saying_why,
    );
}

#[test]
fn every_peer_ends_a_run_at_once_on_a_signal() {
    every_peer(Needs::SLEEP_TIMELINE, &[], |program, lead| {
        testkit::signal_checks::a_signal_ends_a_run_at_once(program, lead, &[]);
    });
    let pooled = pooled();
    for (peer, program, lead) in peers() {
        if pooled.contains(&peer) {
            let lead = leading(&lead);
            testkit::signal_checks::a_signal_ends_a_run_at_once(
                &program,
                &lead,
                &["--workers", "4"],
            );
        }
    }
}

#[test]
fn every_peer_refuses_a_pool_of_connections_past_rlimit_nofile() {
    // py-processes' connections are its workers', a descriptor table each.
    every_peer(
        Needs::DB,
        &["py-processes"],
        testkit::pool_checks::a_pool_of_connections_past_rlimit_nofile_is_refused,
    );
}

/// The peers whose pool is of threads or processes (a goroutine or a greenlet is neither)
/// refuse one past RLIMIT_NPROC before it starts. Run as a user the limit applies to: as
/// root the interpreter would have to run as `nobody`, and the peer's scripts may be out of
/// its reach (a clone inside `/root`), so there the check is left to the non-root run.
#[test]
fn every_peer_refuses_a_pool_past_a_limit_before_it_starts() {
    if nix::unistd::geteuid().is_root() {
        eprintln!("skipped: RLIMIT_NPROC does not bind root; the non-root run checks this");
        return;
    }
    let not_os_workers = ["py-gevent", "go-goroutines"];
    for peer in pooled().into_iter().filter(|p| !not_os_workers.contains(&p.as_str())) {
        let (_, program, lead) = peers().into_iter().find(|p| p.0 == peer).unwrap();
        testkit::pool_checks::a_pool_past_a_limit_is_refused_before_it_starts(
            &program,
            &leading(&lead),
            &["--ms", "100"],
        );
    }
}

#[test]
fn every_peer_refuses_what_does_not_apply_to_the_ring() {
    every_peer(Needs::BRIGADE, &[], |program, lead| {
        testkit::brigade_checks::what_does_not_apply_to_the_ring_is_refused(program, lead, false)
    });
    for peer in pooled() {
        let (_, program, lead) = peers().into_iter().find(|p| p.0 == peer).unwrap();
        testkit::brigade_checks::what_does_not_apply_to_the_ring_is_refused(
            &program,
            &leading(&lead),
            true,
        );
    }
}

#[test]
fn every_peer_names_max_connections_when_past_it() {
    // The executors' default pools are a few workers; asked for 130, they hold 130
    // connections at once, as the others do with a connection per task.
    every_peer(Needs::DB, &["py-serial"], |program, lead| {
        let pooled =
            lead.iter().any(|a| a.ends_with("py_threads.py") || a.ends_with("py_processes.py"));
        let more: &[&str] = if pooled { &["--workers", "130"] } else { &[] };
        testkit::db_checks::past_max_connections_names_the_limit(program, &[lead, more].concat());
    });
}

/// Each peer the roster says crawls, with `--workers 20` where it sizes its requests in
/// flight: `check(program, lead, workers)`.
fn every_crawling_peer(check: fn(&str, &[&str], &[&str])) {
    let roster = roster::Roster::load().expect("roster.toml");
    for (peer, program, lead) in peers() {
        let p = roster.program(&peer).expect("in the roster");
        if !p.runs(roster::Workload::Crawl) {
            continue;
        }
        let workers: &[&str] =
            if p.sizes(roster::Sizes::Crawl) { &["--workers", "20"] } else { &[] };
        let outcome = std::panic::catch_unwind(|| check(&program, &leading(&lead), workers));
        if let Err(e) = outcome {
            let why = e.downcast_ref::<String>().cloned().unwrap_or_default();
            panic!("{peer}: {why}");
        }
    }
}

every_peer_tests! { crawling:
    every_peer_crawls_every_web_to_its_sheet: testkit::crawl_checks::crawls_every_web_to_its_sheet;
    every_peer_survives_the_fault_profile: testkit::crawl_checks::survives_the_fault_profile;
    every_peer_stops_at_tasks_in_the_trap: testkit::crawl_checks::stops_at_tasks_in_the_trap;
    every_peer_holds_per_host: testkit::crawl_checks::holds_per_host;
}

#[test]
fn every_peer_refuses_bad_crawl_input_and_names_an_unreachable_seed() {
    every_crawling_peer(|program, lead, _| {
        testkit::crawl_checks::bad_crawl_input_exits_2_and_no_seed_exits_1(program, lead)
    });
}
