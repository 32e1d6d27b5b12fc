//! `bench conform -- CMD…`: every contract check of `CONTRACT.md`, against any program —
//! a model, a peer, or a runtime of your own — one line a check, then `N passed, N failed`.
//!
//! The checks are the ones the models' suites and the peers' tests run, in the groups
//! `testkit::check_groups` lists (contract, cli, serve, then one a workload), each given the
//! command's program and leading arguments.
//! Each runs on a thread of its own, so that one that panics only fails its line; every run
//! of the program inside a check is killed after `--timeout` seconds, so a program that
//! hangs gives "timed out" lines, and the run goes on.
//!
//! Before any of them, one run of `--tasks 1 --ms 0` must end well within seconds: a program
//! that does not start, fails, or hangs there is said on one line, and nothing else runs
//! (thirty checks of a hanging program would take half an hour to say the same). Failures
//! with the same reason are folded: the reason once, then the checks that gave it.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use testkit::checks::CheckGroup;

use crate::cli::Conform;
use roster::Program;

/// The command and the groups: as given, or from the roster entry `--program` names (every
/// group its entry takes of those run unasked; db, which starts a PostgreSQL, only when
/// asked).
fn what_to_check(o: &Conform) -> (Vec<String>, Vec<CheckGroup>, Option<&'static Program>) {
    let entry = o.program.as_deref().and_then(|id| crate::programs::roster().program(id));
    let groups = testkit::check_groups().into_iter().filter(|g| match &o.groups {
        Some(asked) => asked.iter().any(|name| name == g.name),
        None => g.by_default && entry.is_none_or(|p| g.taken_by(p)),
    });
    let command = match entry {
        Some(p) => p.argv(&crate::programs::places(None)),
        None => o.command.clone(),
    };
    (command, groups.collect(), entry)
}

/// The first line of a panic's message: what the check says failed.
fn reason(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = testkit::checks::what_it_said(payload);
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    line.chars().take(200).collect()
}

/// The first check: `--tasks 1 --ms 0` runs and exits 0 within `limit`, or why not, in a line.
fn first_run(program: &str, lead: &[String], limit: Duration) -> Result<(), String> {
    let mut command = child::command(program);
    command.args(lead).args(["--tasks", "1", "--ms", "0"]);
    let shown = format!("`{} --tasks 1 --ms 0`", [&[program.to_string()], lead].concat().join(" "));
    let ran = child::run(command, limit).map_err(|e| format!("{shown} does not start: {e}"))?;
    match ran.status {
        Some(status) if status.success() => Ok(()),
        Some(status) => {
            let said = ran.stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("nothing");
            Err(format!("{shown} failed ({status}), saying: {}", said.trim()))
        }
        None => Err(format!(
            "{shown} did not end within {} s: it hangs, or cannot run one task at once",
            limit.as_secs()
        )),
    }
}

/// Run every check of the groups asked for; exit 1 if any failed.
pub fn conform(o: &Conform) -> anyhow::Result<()> {
    let (command, groups, entry) = what_to_check(o);
    let (program, lead) =
        command.split_first().ok_or_else(|| anyhow::anyhow!("conform needs a command after --"))?;
    let first = Duration::from_secs(o.timeout.clamp(1, 10));
    if let Err(why) = first_run(program, lead, first) {
        println!("FAIL  first    {why}; no other check was run");
        std::process::exit(1);
    }
    // Every run inside a check is killed past the timeout (testkit reads this).
    std::env::set_var("CONCLAB_KILL_AFTER_S", o.timeout.to_string());
    // The checks' panics are their failures: say them once, on their line, not as a dump.
    std::panic::set_hook(Box::new(|_| {}));
    let (mut passed, mut failed, mut not_taken) = (0, 0, 0);
    // Each reason a check failed for, and the checks after the first that gave it again.
    let mut reasons: Vec<(String, Vec<&str>)> = Vec::new();
    let mut stragglers = Vec::new();
    for group in &groups {
        for testkit::checks::Check { name, needs, run: check } in (group.checks)() {
            // A partial program is checked on what its roster entry says it takes.
            if entry.is_some_and(|p| !needs.met_by(p)) {
                not_taken += 1;
                continue;
            }
            let (tx, rx) = mpsc::channel();
            let (program, lead) = (program.clone(), lead.to_vec());
            let started = Instant::now();
            stragglers.push(std::thread::spawn(move || {
                let lead: Vec<&str> = lead.iter().map(String::as_str).collect();
                let outcome = std::panic::catch_unwind(|| check(&program, &lead));
                let _ = tx.send(outcome.map_err(reason));
            }));
            // A check runs the program a few times at most; each run is bounded by the timeout.
            let limit = Duration::from_secs(o.timeout * 4);
            let line = match rx.recv_timeout(limit) {
                Ok(Ok(())) => Ok(()),
                Ok(Err(why)) if started.elapsed() >= Duration::from_secs(o.timeout) => {
                    Err(format!("timed out after {} s: {why}", o.timeout))
                }
                Ok(Err(why)) => Err(why),
                Err(_) => Err(format!("timed out after {} s", limit.as_secs())),
            };
            let took = started.elapsed().as_secs_f64();
            match line {
                Ok(()) => {
                    passed += 1;
                    println!("ok    {:<8} {name} ({took:.1} s)", group.name);
                }
                Err(why) => {
                    failed += 1;
                    match reasons.iter_mut().find(|(seen, _)| *seen == why) {
                        Some((_, again)) => again.push(name),
                        None => {
                            println!("FAIL  {:<8} {name}: {why}", group.name);
                            reasons.push((why, Vec::new()));
                        }
                    }
                }
            }
        }
    }
    for (why, again) in reasons.iter().filter(|(_, again)| !again.is_empty()) {
        println!("FAIL  ×{} more, the same way ({}): {why}", again.len(), again.join(", "));
    }
    // Every program a check started is bounded by the timeout: wait for the last of them, so
    // that nothing is left running.
    stragglers.into_iter().for_each(|t| drop(t.join()));
    match not_taken {
        0 => println!("{passed} passed, {failed} failed"),
        n => println!("{passed} passed, {failed} failed ({n} of what it does not take not run)"),
    }
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
