//! What Ctrl-C and SIGTERM do to a run (`CONTRACT.md`, "Exit status"): the program ends at
//! once, in-flight and queued work abandoned, without a traceback or a panic, and nothing it
//! started is left behind — even when the signal reaches the parent alone, as `kill PID` or a
//! supervisor sends it, and not the whole process group, as a terminal's Ctrl-C does.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::run::{assert_unbroken, processes_marked, MARK};

/// For SIGINT and SIGTERM: start `lead… --tasks 200 --ms 5000 --timeline FILE` plus `args`
/// (a pool, say), wait until it has made FILE (its arguments accepted, its handlers set),
/// let its workers start, then signal the parent alone. It must be gone within 5 s of a
/// 5-second run — died of the signal, or exited 128 + its number — having printed no
/// traceback, and with no process of its run left.
pub fn a_signal_ends_a_run_at_once(program: &str, lead: &[&str], args: &[&str]) {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let scratch = crate::disk_checks::Scratch::new();
        let timeline = scratch.path("timeline.jsonl");
        let run = ["--tasks", "200", "--ms", "5000", "--timeline", timeline.as_str()];
        let mut command = child::command(program);
        command.args([lead, &run, args].concat());
        let mark = format!("signal-{}-{signal}", std::process::id());
        command.env(MARK, &mark).stdout(std::process::Stdio::null());
        command.stderr(std::process::Stdio::piped());
        // A terminal's Ctrl-C finds SIGINT at its default: a harness started in the
        // background (`make test &`) may have it ignored, which a child inherits.
        // SAFETY: the closure runs in the forked child before exec and only calls signal(2),
        // which is async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut run = child::Group::spawn(command).expect("the program starts");
        let waited = Instant::now();
        while !std::path::Path::new(&timeline).exists() {
            assert!(waited.elapsed() < Duration::from_secs(30), "{program}: no timeline file");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(500)); // its pool and children start
        let sent = Instant::now();
        let status = run.stop(signal, Duration::from_secs(5)).expect("wait for it");
        let took = sent.elapsed();
        let mut stderr = String::new();
        if let Some(mut pipe) = run.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        let case = format!("{program} {lead:?} {args:?} on {signal}");
        let status = status.unwrap_or_else(|| panic!("{case}: still running 5 s on; {stderr}"));
        let by_signal = std::os::unix::process::ExitStatusExt::signal(&status);
        assert!(
            by_signal == Some(signal as i32) || status.code() == Some(128 + signal as i32),
            "{case}: {status:?} after {took:?}; {stderr}"
        );
        assert_unbroken(&stderr, &case);
        // The kernel kills what it left (PR_SET_PDEATHSIG) as the parent dies; give it a
        // moment, then look for any process that still carries the run's mark.
        let deadline = Instant::now() + Duration::from_secs(3);
        while !processes_marked(&mark).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(processes_marked(&mark), Vec::<String>::new(), "{case}");
    }
}
