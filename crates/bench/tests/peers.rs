//! The peers speak the same contract as the Rust models: same values, same checksum, same
//! exit statuses — the Python ones, Go's and Node's. `make test` points CONCLAB_PEER_PYTHON at
//! the virtualenv that has uvloop, Go and Node; without it, the project's `.venv`, and then
//! `python3` from PATH for the Python peers.
//!
//! This file is its own test harness (libtest-mimic, `harness = false`): every check of every
//! group testkit lists (`testkit::check_groups`, what `bench conform` runs) is a test named
//! `GROUP::CHECK`, run on each peer whose roster entry takes what it needs, so a workload's
//! checks reach the peers with no change here. Then come the tests that are the peers' own:
//! their pools, their loops, their limits. `cargo test --test peers -- crawl::` runs a group.

use std::path::PathBuf;

use libtest_mimic::{Arguments, Failed, Trial};
use roster::{Sizes, Workload};
use testkit::Needs;

fn main() {
    let mut trials = Vec::new();
    for group in testkit::check_groups() {
        for check in (group.checks)() {
            let name = format!("{}::{}", group.name, check.name);
            trials
                .push(Trial::test(name, move || every_peer(|p| check.needs.met_by(p), check.run)));
        }
    }
    trials.extend(own_tests());
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

/// A peer of the roster, as the tests run it.
struct Peer {
    id: String,
    program: String,
    /// Its leading arguments: a Python peer's script, say.
    lead: Vec<String>,
    /// What its roster entry says it runs and takes.
    entry: roster::Program,
}

impl Peer {
    fn lead(&self) -> Vec<&str> {
        self.lead.iter().map(String::as_str).collect()
    }

    /// Run it with `args` after its leading arguments.
    fn run(&self, args: &[&str]) -> testkit::Outcome {
        testkit::run(&self.program, &[&self.lead()[..], args].concat())
    }
}

/// Every peer of the roster (roster.toml, or the file CONCLAB_ROSTER names): a peer added
/// there is tested here with no change to this file. CONCLAB_PEERS_ONLY=ID,… keeps those
/// (the partial peer's test below runs them so).
fn peers() -> Vec<Peer> {
    let roster = roster::Roster::load().expect("roster.toml");
    let python = std::env::var("CONCLAB_PEER_PYTHON").ok().map(PathBuf::from);
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release");
    let places = roster::Places::new(bin, python);
    let only = std::env::var("CONCLAB_PEERS_ONLY").ok();
    roster
        .peers()
        .filter(|p| only.as_ref().is_none_or(|ids| ids.split(',').any(|id| id == p.id)))
        .map(|p| {
            let mut lead = p.argv(&places);
            let program = lead.remove(0);
            Peer { id: p.id.clone(), program, lead, entry: p.clone() }
        })
        .collect()
}

/// The README's recipe ("Adding a model or a peer"), followed: a peer of a few lines on
/// contract.py that runs sleep alone (`tests/fixtures/py_sleep_only.py`), added to a copy of
/// the roster, passes `bench conform --program` and every test of this file that applies to
/// it — this binary, run again on that roster and that peer alone.
fn a_partial_peer_added_by_the_recipe_passes_conform_and_the_peer_tests() -> Result<(), Failed> {
    if std::env::var_os("CONCLAB_PEERS_ONLY").is_some() {
        return Ok(()); // the run below, on the partial peer alone
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
    Ok(())
}

fn every_peer_names_the_runner_of_each_task() -> Result<(), Failed> {
    for peer in peers() {
        let (id, outcome) = (&peer.id, peer.run(&["--tasks", "3", "--ms", "10", "--verbose"]));
        assert_eq!(outcome.code, Some(0), "{id}: {}", outcome.stderr);
        let lines: Vec<&str> = outcome.stderr.lines().collect();
        assert_eq!(lines.len(), 3, "{id}: {}", outcome.stderr);
        assert!(lines.iter().all(|l| l.contains("pid ")), "{id}: {}", outcome.stderr);
    }
    Ok(())
}

fn a_pool_of_goroutines_runs_four_tasks_in_two_rounds() -> Result<(), Failed> {
    let Some(go) = peers().into_iter().find(|p| p.id == "go-goroutines") else {
        return Ok(()); // not among the peers tested (CONCLAB_PEERS_ONLY)
    };
    let args = ["--tasks", "4", "--ms", "200", "--workers", "2", "--json"];
    let outcome = go.run(&args);
    assert_eq!(outcome.success()["workers"], 2);
    let wall = outcome.wall_s();
    assert!((0.4..2.0).contains(&wall), "4 x 200 ms on 2 goroutine workers in {wall} s");
    Ok(())
}

fn offloading_keeps_the_python_and_node_loops_ticking() -> Result<(), Failed> {
    let args = ["--workload", "cpu", "--tasks", "2", "--work", "400000", "--json"];
    let loops = ["py-asyncio", "node-promises"];
    for peer in peers().into_iter().filter(|p| loops.contains(&p.id.as_str())) {
        let blocked = peer.run(&args).success();
        let offloaded = peer.run(&[&args[..], &["--offload"]].concat()).success();
        let peer = &peer.id;
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
    Ok(())
}

/// Run `check` on every peer whose roster entry it `fits`; every peer that fails it is named,
/// so that one failure hides none of the others.
fn every_peer(
    fits: impl Fn(&roster::Program) -> bool,
    check: impl Fn(&str, &[&str]),
) -> Result<(), Failed> {
    let mut failed = Vec::new();
    for peer in peers().into_iter().filter(|p| fits(&p.entry)) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check(&peer.program, &peer.lead())
        }));
        if let Err(e) = outcome {
            failed.push(format!("{}: {}", peer.id, testkit::checks::what_it_said(e)));
        }
    }
    match failed.is_empty() {
        true => Ok(()),
        false => Err(failed.join("\n").into()),
    }
}

fn every_peer_writes_a_timeline_on_the_runners_verbose_names() -> Result<(), Failed> {
    for peer in peers().into_iter().filter(|p| Needs::SLEEP_TIMELINE.met_by(&p.entry)) {
        let (program, lead) = (&peer.program, peer.lead());
        let sleep = testkit::timeline_of(program, &lead, &["--tasks", "4", "--ms", "50"], 4);
        if peer.entry.runs(Workload::Cpu) {
            let cpu = ["--workload", "cpu", "--tasks", "3", "--work", "1000"];
            testkit::timeline_of(program, &lead, &cpu, 3);
        }
        // Every peer but the serial one runs the four sleeps at once.
        let at_once = !serial(&peer.entry);
        assert_eq!(testkit::any_overlap(&sleep), at_once, "{}: {sleep:?}", peer.id);
    }
    Ok(())
}

/// Whether the peer runs one task after another: the tests of doing things at once pass it by.
fn serial(p: &roster::Program) -> bool {
    p.id == "py-serial"
}

fn every_concurrent_peer_serves_fifty_clients_at_once() -> Result<(), Failed> {
    every_peer(
        |p| Needs::SERVE.met_by(p) && !serial(p),
        testkit::serve_checks::fifty_clients_are_served_at_once,
    )
}

fn every_peer_with_a_file_pool_reads_the_right_blocks_with_workers() -> Result<(), Failed> {
    every_peer(
        |p| Needs::DISK.met_by(p) && !serial(p),
        |program, lead| {
            testkit::disk_checks::reads_yield_the_checksum(program, lead, &["--workers", "3"])
        },
    )
}

fn every_peer_ends_a_run_at_once_on_a_signal() -> Result<(), Failed> {
    every_peer(
        |p| Needs::SLEEP_TIMELINE.met_by(p),
        |program, lead| testkit::signal_checks::a_signal_ends_a_run_at_once(program, lead, &[]),
    )?;
    every_peer(roster::Program::has_pool, |program, lead| {
        testkit::signal_checks::a_signal_ends_a_run_at_once(program, lead, &["--workers", "4"]);
    })
}

fn every_peer_refuses_a_pool_of_connections_past_rlimit_nofile() -> Result<(), Failed> {
    // py-processes' connections are its workers', a descriptor table each.
    every_peer(
        |p| Needs::DB.met_by(p) && p.id != "py-processes",
        testkit::pool_checks::a_pool_of_connections_past_rlimit_nofile_is_refused,
    )
}

/// The peers whose pool is of threads or processes (a goroutine or a greenlet is neither)
/// refuse one past RLIMIT_NPROC before it starts. Run as a user the limit applies to: as
/// root the interpreter would have to run as `nobody`, and the peer's scripts may be out of
/// its reach (a clone inside `/root`), so there the check is left to the non-root run.
fn every_peer_refuses_a_pool_past_a_limit_before_it_starts() -> Result<(), Failed> {
    if nix::unistd::geteuid().is_root() {
        eprintln!("skipped: RLIMIT_NPROC does not bind root; the non-root run checks this");
        return Ok(());
    }
    let not_os_workers = ["py-gevent", "go-goroutines"];
    every_peer(
        |p| p.has_pool() && !not_os_workers.contains(&p.id.as_str()),
        |program, lead| {
            let args = ["--ms", "100"];
            testkit::pool_checks::a_pool_past_a_limit_is_refused_before_it_starts(
                program, lead, &args,
            );
        },
    )
}

/// With a pool, the ring's knobs that do not apply are refused too (the brigade group checks
/// them without one).
fn every_pooled_peer_refuses_what_does_not_apply_to_the_ring() -> Result<(), Failed> {
    every_peer(roster::Program::has_pool, |program, lead| {
        testkit::brigade_checks::what_does_not_apply_to_the_ring_is_refused(program, lead, true)
    })
}

fn every_peer_names_max_connections_when_past_it() -> Result<(), Failed> {
    // The executors' default pools are a few workers; asked for 130, they hold 130
    // connections at once, as the others do with a connection per task.
    every_peer(
        |p| Needs::DB.met_by(p) && !serial(p),
        |program, lead| {
            let pooled =
                lead.iter().any(|a| a.ends_with("py_threads.py") || a.ends_with("py_processes.py"));
            let more: &[&str] = if pooled { &["--workers", "130"] } else { &[] };
            testkit::db_checks::past_max_connections_names_the_limit(
                program,
                &[lead, more].concat(),
            );
        },
    )
}

/// The crawl group runs each peer at its default requests in flight; a peer whose
/// `--workers` sizes them crawls again with 20, every web to its sheet and `--per-host` held.
fn every_peer_that_sizes_its_crawl_crawls_with_twenty_in_flight() -> Result<(), Failed> {
    every_peer(
        |p| Needs::CRAWL.met_by(p) && p.sizes(Sizes::Crawl),
        |program, lead| {
            let workers = ["--workers", "20"];
            testkit::crawl_checks::crawls_every_web_to_its_sheet(program, lead, &workers);
            testkit::crawl_checks::holds_per_host(program, lead, &workers);
        },
    )
}

/// The tests of this file's own, each named as its function: one fails by panicking or by
/// returning the failures it found.
macro_rules! own {
    ($($test:ident),+ $(,)?) => {
        vec![$(Trial::test(stringify!($test), $test)),+]
    };
}

/// The tests that are the peers' own, beyond the checks of the groups.
fn own_tests() -> Vec<Trial> {
    own![
        a_partial_peer_added_by_the_recipe_passes_conform_and_the_peer_tests,
        every_peer_names_the_runner_of_each_task,
        a_pool_of_goroutines_runs_four_tasks_in_two_rounds,
        offloading_keeps_the_python_and_node_loops_ticking,
        every_peer_writes_a_timeline_on_the_runners_verbose_names,
        every_concurrent_peer_serves_fifty_clients_at_once,
        every_peer_with_a_file_pool_reads_the_right_blocks_with_workers,
        every_peer_ends_a_run_at_once_on_a_signal,
        every_peer_refuses_a_pool_of_connections_past_rlimit_nofile,
        every_peer_refuses_a_pool_past_a_limit_before_it_starts,
        every_pooled_peer_refuses_what_does_not_apply_to_the_ring,
        every_peer_names_max_connections_when_past_it,
        every_peer_that_sizes_its_crawl_crawls_with_twenty_in_flight,
    ]
}
