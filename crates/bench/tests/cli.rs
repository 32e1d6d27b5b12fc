//! `bench`'s command line as a newcomer meets it: the possible values and the usage of the
//! subcommand misused, help for help, and no flag offered that does nothing.

const BENCH: &str = env!("CARGO_BIN_EXE_bench");

#[test]
fn a_wrong_model_lists_the_models_and_the_usage_of_trace() {
    let outcome = testkit::run(BENCH, &["trace", "--tool", "strace", "--model", "foo"]);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
    assert!(outcome.stderr.starts_with("Error: invalid value 'foo'"), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("serial, procs, threads, tokio, epoll, uring, ring"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("Usage: bench trace"), "{}", outcome.stderr);
}

#[test]
fn help_for_help_is_the_help() {
    let outcome = testkit::run(BENCH, &["help", "--help"]);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert!(outcome.stdout.contains("Usage: bench <COMMAND>"), "{}", outcome.stdout);
}

#[test]
fn only_seed_offers_quick_and_every_flag_has_a_line_of_help() {
    let has_quick = |sub: &str| testkit::run(BENCH, &[sub, "--help"]).stdout.contains("--quick");
    assert!(has_quick("seed"));
    assert!(!has_quick("http") && !has_quick("cpu"));
    let outcome = testkit::run(
        BENCH,
        &["http", "--hyperfine", "h", "--python", "p", "--out", "o", "--quick"],
    );
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
    for sub in [
        "seed",
        "http",
        "cpu",
        "scale",
        "plots",
        "trace",
        "syscalls",
        "serve",
        "timelines",
        "disk",
        "readme",
        "results",
        "compare",
    ] {
        let help = testkit::run(BENCH, &[sub, "-h"]).stdout;
        // An option's line holds its help after the flag; a bare line is one with none.
        for line in help.lines().filter(|l| l.trim_start().starts_with("--")) {
            let text = line.trim_start();
            let after = text.split_once("  ").map_or("", |(_, h)| h.trim());
            assert!(!after.is_empty(), "bench {sub}: {text:?} has no help");
        }
    }
}

#[test]
fn trace_sets_the_rounds_and_refuses_ms_where_nothing_waits() {
    let help = testkit::run(BENCH, &["trace", "--help"]).stdout;
    for flag in ["--work", "--workers", "--offload"] {
        assert!(help.contains(flag), "{help}");
    }
    let args = ["trace", "--tool", "strace", "--model", "serial", "--workload", "cpu", "--ms", "5"];
    let outcome = testkit::run(BENCH, &args);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
}
