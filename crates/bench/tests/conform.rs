//! `bench conform -- CMD…`: the contract checks against any command, one line a check.

const BENCH: &str = env!("CARGO_BIN_EXE_bench");

fn model(name: &str) -> String {
    std::path::Path::new(BENCH).with_file_name(name).display().to_string()
}

#[test]
fn a_model_passes_every_check_of_its_groups() {
    let epoll = model("epoll");
    let ran = testkit::run(BENCH, &["conform", "--groups", "contract,cli,serve", "--", &epoll]);
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    let checks = lines.len() - 1;
    assert!(checks >= 20, "{}", ran.stdout);
    assert!(lines[..checks].iter().all(|l| l.starts_with("ok ")), "{}", ran.stdout);
    assert_eq!(lines[checks], format!("{checks} passed, 0 failed"));
}

#[test]
fn a_program_that_hangs_or_does_not_start_is_told_in_one_line_and_seconds() {
    // Whatever it is asked (the arguments land in $1 …), it sleeps for good.
    let hang = ["sh", "-c", "exec sleep infinity", "hang"];
    for (command, says) in [
        (&hang[..], "did not end within 1 s"),
        (&["/nonexistent/prog"][..], "does not start"),
        (&["sh", "-c", "echo 'Error: nope' >&2; exit 3", "bad"][..], "saying: Error: nope"),
    ] {
        let ran =
            testkit::run(BENCH, &[&["conform", "--timeout", "1", "--"][..], command].concat());
        assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
        let lines: Vec<&str> = ran.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{}", ran.stdout);
        assert!(lines[0].starts_with("FAIL  first") && lines[0].contains(says), "{}", ran.stdout);
        assert!(ran.elapsed.as_secs() < 20, "took {:?}", ran.elapsed);
        assert!(ran.processes_left().is_empty(), "{:?}", ran.processes_left());
    }
}

#[test]
fn a_check_that_hangs_is_timed_out_and_the_same_failures_are_folded() {
    // It runs one task at once, and sleeps for good whatever else it is asked.
    let script = r#"[ "$*" = "--tasks 1 --ms 0" ] && exit 0; exec sleep infinity"#;
    let half = ["sh", "-c", script, "half"];
    let ran = testkit::run(
        BENCH,
        &[&["conform", "--groups", "contract", "--timeout", "1", "--"][..], &half].concat(),
    );
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
    let fails: Vec<&str> = ran.stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(fails.iter().any(|l| l.contains("timed out after 1 s")), "{}", ran.stdout);
    // Every check fails, most of them for one reason, said once with a count.
    assert!(fails.iter().any(|l| l.starts_with("FAIL  ×")), "{}", ran.stdout);
    let said = ran.stdout.trim_end().lines().last().unwrap_or_default();
    let failed: usize = said
        .split(" passed, ")
        .nth(1)
        .and_then(|f| f.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    assert!(fails.len() < failed, "folded: {}", ran.stdout);
    assert!(ran.processes_left().is_empty(), "{:?}", ran.processes_left());
}

#[test]
fn conform_needs_a_command_and_names_its_groups() {
    let ran = testkit::run(BENCH, &["conform"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.starts_with("Error: "), "{}", ran.stderr);
    let ran = testkit::run(BENCH, &["conform", "--groups", "nope", "--", "true"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("contract, cli, serve, disk, brigade, db"), "{}", ran.stderr);
}

#[test]
fn a_roster_program_is_checked_by_its_id() {
    let ran = testkit::run(BENCH, &["conform", "--program", "serial", "--groups", "contract"]);
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.trim_end().ends_with(" passed, 0 failed"), "{}", ran.stdout);
    let unknown = testkit::run(BENCH, &["conform", "--program", "loom"]);
    assert_eq!(unknown.code, Some(2), "{}", unknown.stderr);
    assert!(unknown.stderr.contains("not in the roster"), "{}", unknown.stderr);
}
