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
fn a_program_that_hangs_gets_timed_out_lines_and_the_run_ends() {
    // Whatever it is asked (the arguments land in $1 …), it sleeps for good.
    let hang = ["sh", "-c", "exec sleep infinity", "hang"];
    let ran = testkit::run(
        BENCH,
        &[&["conform", "--groups", "contract", "--timeout", "1", "--"][..], &hang].concat(),
    );
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.lines().any(|l| l.starts_with("FAIL") && l.contains("timed out after 1 s")),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.trim_end().ends_with(" failed"), "{}", ran.stdout);
    assert!(!ran.stdout.contains("0 failed"), "{}", ran.stdout);
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
