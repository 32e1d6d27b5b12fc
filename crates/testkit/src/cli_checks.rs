//! What every binary's command line must do for a newcomer (`CONTRACT.md`, "Arguments"):
//! touch no file until its arguments are accepted, refuse a flag that does not apply to the
//! mode chosen and say where it belongs, keep what clap knew to suggest, and tell a bind
//! error from a connect error, and never print a password. Each check takes the program and its leading arguments, so
//! that the models' suites and the peers' tests share them.

use std::net::TcpListener;

use roster::Flag;

use crate::checks::CheckGroup;
use crate::{checks, Needs};

fn run(program: &str, lead: &[&str], args: &[&str]) -> crate::Outcome {
    crate::run(program, &[lead, args].concat())
}

fn refused(outcome: &crate::Outcome, case: &str) {
    assert_eq!(outcome.code, Some(2), "{case}: {}", outcome.stderr);
    assert!(outcome.stdout.is_empty(), "{case}: stdout {:?}", outcome.stdout);
    assert!(outcome.stderr.starts_with("Error: "), "{case}: {}", outcome.stderr);
    assert!(!outcome.stderr.contains("panicked"), "{case}: {}", outcome.stderr);
}

/// A bad flag beside `--timeline EXISTING` leaves the file as it was: nothing is created,
/// emptied or written until every argument is accepted.
pub fn a_rejected_command_leaves_the_timeline_file_untouched(program: &str, lead: &[&str]) {
    let scratch = crate::disk_checks::Scratch::new();
    let file = scratch.path("timeline.jsonl");
    std::fs::write(&file, "kept\n").unwrap();
    let missing = scratch.path("never-made.jsonl");
    for (path, bad) in [
        (&file, &["--frobnicate"][..]),
        (&file, &["--tasks", "0"]),
        (&file, &["--workload", "cpu", "--ms", "3"]),
        (&file, &["--serve", "127.0.0.1:0"]),
        (&missing, &["--workload", "nope"]),
    ] {
        let outcome = run(program, lead, &[&["--timeline", path.as_str()][..], bad].concat());
        refused(&outcome, &format!("{bad:?}"));
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept\n");
    assert!(!std::path::Path::new(&missing).exists(), "a rejected command made {missing}");
}

/// A flag that would be ignored in the mode chosen is refused, saying where it belongs: on
/// the sleep workload, which every program runs.
pub fn a_flag_that_does_not_apply_is_refused_saying_why(program: &str, lead: &[&str]) {
    flags_refused_saying_why(
        program,
        lead,
        &[
            (&["--work", "5"][..], "--work does not apply to the sleep workload"),
            (&["--addr", "127.0.0.1:1"], "--addr does not apply to the sleep workload"),
            (&["--timeout-ms", "5"], "--timeout-ms does not apply to the sleep workload"),
            (&["--laps", "3"], "--laps does not apply to the sleep workload"),
        ],
    );
}

/// The same on the cpu workload: `--ms` is a sleep's, not a hash's.
pub fn a_flag_that_does_not_apply_to_cpu_is_refused_saying_why(program: &str, lead: &[&str]) {
    flags_refused_saying_why(
        program,
        lead,
        &[
            (&["--workload", "cpu", "--ms", "5"][..], "--ms does not apply to the cpu workload"),
            (&["--workload", "cpu", "--timeout-ms", "5"], "--timeout-ms does not apply to the cpu"),
        ],
    );
}

/// In a program that serves: a flag of running tasks given with `--serve` is refused,
/// saying it belongs to running tasks.
pub fn a_flag_that_does_not_apply_to_serving_is_refused_saying_why(program: &str, lead: &[&str]) {
    flags_refused_saying_why(
        program,
        lead,
        &[
            (&["--serve", "127.0.0.1:0", "--tasks", "5"][..], "--tasks does not apply to --serve"),
            (
                &["--serve", "127.0.0.1:0", "--workload", "cpu"],
                "--workload does not apply to --serve",
            ),
            (&["--serve", "127.0.0.1:0", "--ms", "5"], "--ms does not apply to --serve"),
        ],
    );
}

fn flags_refused_saying_why(program: &str, lead: &[&str], cases: &[(&[&str], &str)]) {
    for &(args, says) in cases {
        let outcome = run(program, lead, args);
        refused(&outcome, &format!("{args:?}"));
        assert!(outcome.stderr.contains(says), "{args:?}: {}", outcome.stderr);
        assert!(outcome.stderr.contains("it belongs to"), "{args:?}: {}", outcome.stderr);
    }
}

/// A password given on the command line never reaches stdout or stderr: not in a refused
/// `--db-url` mistyped any way (no scheme, no `//`, an `@` or `%40` in the password, no `@`
/// at all), nor echoed by an unknown flag or an unexpected argument.
pub fn a_password_is_never_printed(program: &str, lead: &[&str]) {
    const SECRET: &str = "S3cret";
    let urls = [
        "alice:S3cretPW@127.0.0.1/app",
        "postgres//alice:S3cretPW@127.0.0.1/app",
        "postgres:/alice:S3cretPW@127.0.0.1/app",
        "postgres:alice:S3cretPW@127.0.0.1/app",
        "mysql://alice:S3cretPW@127.0.0.1/app",
        "postgres://alice:S3cret@PW@127.0.0.1:99999/app",
        "postgres://alice:S3cret%40PW@127.0.0.1:99999/app",
        "postgres://alice:S3cretPW/127.0.0.1/app",
        "postgres://alice:S3cretPW@127.0.0.1/app?sslmode=verify-full",
    ];
    let mut cases: Vec<Vec<String>> = Vec::new();
    for url in urls {
        cases.push(vec!["--workload".into(), "db".into(), "--db-url".into(), url.into()]);
        cases.push(vec!["--workload".into(), "db".into(), format!("--db-url={url}")]);
    }
    let url = "postgres://alice:S3cretPW@127.0.0.1/app";
    cases.push(vec!["--workload".into(), "db".into(), "--db-urll".into(), url.into()]);
    cases.push(vec!["--workload".into(), "db".into(), url.into()]);
    for case in cases {
        let args: Vec<&str> = case.iter().map(String::as_str).collect();
        let outcome = run(program, lead, &args);
        refused(&outcome, &format!("{args:?}"));
        for (stream, text) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
            assert!(!text.contains(SECRET), "{args:?}: the password on {stream}: {text}");
        }
    }
}

/// A `--db-url` whose host no resolver knows (`.invalid` never resolves, RFC 6761) is a
/// connection failure, exit 1, naming the host, and never bad input.
pub fn a_host_no_resolver_knows_exits_1_naming_it(program: &str, lead: &[&str]) {
    let url = "postgres://alice:S3cretPW@nosuchhost.invalid/app";
    let args = ["--workload", "db", "--db-url", url, "--tasks", "2", "--timeout-ms", "5000"];
    let outcome = run(program, lead, &args);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("nosuchhost.invalid"), "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("S3cret"), "{}", outcome.stderr);
    for crash in ["panicked", "Traceback"] {
        assert!(!outcome.stderr.contains(crash), "{}", outcome.stderr);
    }
}

/// `--version` prints one line, the program and its version or runtime, and exits 0.
pub fn version_is_one_line_and_exit_0(program: &str, lead: &[&str]) {
    let outcome = run(program, lead, &["--version"]);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(outcome.stdout.lines().count(), 1, "{:?}", outcome.stdout);
    assert!(outcome.stderr.is_empty(), "{}", outcome.stderr);
}

/// clap's own help survives: the similar flag, the possible values; and a negative number is
/// read as a number, refused with the same words as any other out of range.
pub fn clap_s_suggestions_reach_the_user(program: &str) {
    let outcome = run(program, &[], &["--task", "10"]);
    refused(&outcome, "--task");
    assert!(outcome.stderr.contains("a similar argument exists: '--tasks'"), "{}", outcome.stderr);
    let outcome = run(program, &[], &["--workload", "HTTP"]);
    refused(&outcome, "--workload HTTP");
    assert!(
        outcome.stderr.contains("possible values: sleep, http, cpu, disk"),
        "{}",
        outcome.stderr
    );
    for (args, says) in [
        (&["--ms", "-1"][..], "-1 is below 0"),
        (&["--tasks", "0"], "0 is below 1"),
        (&["--workload", "http", "--timeout-ms", "0"], "0 is below 1"),
    ] {
        let outcome = run(program, &[], args);
        refused(&outcome, &format!("{args:?}"));
        assert!(outcome.stderr.contains(says), "{args:?}: {}", outcome.stderr);
        assert!(outcome.stderr.contains("Usage: "), "{args:?}: {}", outcome.stderr);
    }
}

/// A bind that fails is told apart from a connect that fails: an address this machine does
/// not have, a port another program holds, and (for a user that may not) a port below 1024.
pub fn a_bind_error_gets_a_bind_error_s_advice(program: &str, lead: &[&str]) {
    // TEST-NET-1 (RFC 5737): never an address of a machine; binding sends nothing.
    let outcome = run(program, lead, &["--serve", "192.0.2.1:8081"]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert_eq!(outcome.stderr.trim_end().lines().count(), 1, "one line: {}", outcome.stderr);
    assert!(outcome.stderr.contains("is not an address of this machine"), "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("ephemeral ports"), "{}", outcome.stderr);
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let outcome = run(program, lead, &["--serve", &addr]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("another program listens on port"), "{}", outcome.stderr);
    let unprivileged = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
        .unwrap_or(1024);
    // SAFETY: geteuid has no preconditions and touches no memory.
    if unsafe { libc::geteuid() } != 0 && unprivileged > 80 {
        let outcome = run(program, lead, &["--serve", "127.0.0.1:80"]);
        assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
        assert!(outcome.stderr.contains("below 1024"), "{}", outcome.stderr);
    } else {
        eprintln!("SKIPPED the port-80 case: this user may bind it");
    }
}

/// What every command line must do, each check where the program takes what it tries.
pub const GROUP: CheckGroup = CheckGroup::new(
    "cli",
    "Flags that do not apply refused saying where they belong, bind errors, --version, secrets",
    || {
        [
            checks!(Needs::NOTHING, cli_checks: [
                a_flag_that_does_not_apply_is_refused_saying_why,
                version_is_one_line_and_exit_0,
                a_password_is_never_printed,
            ]),
            checks!(Needs::CPU, cli_checks: [
                a_flag_that_does_not_apply_to_cpu_is_refused_saying_why
            ]),
            checks!(Needs::SERVE, cli_checks: [
                a_flag_that_does_not_apply_to_serving_is_refused_saying_why,
                a_bind_error_gets_a_bind_error_s_advice,
            ]),
            checks!(Needs::flag(&[Flag::Timeline]), cli_checks: [
                a_rejected_command_leaves_the_timeline_file_untouched
            ]),
            checks!(Needs::DB, cli_checks: [a_host_no_resolver_knows_exits_1_naming_it]),
            checks!(Needs::DB, pool_checks: [a_pool_no_machine_can_hold_is_bad_input]),
        ]
        .concat()
    },
);
