//! The roster (roster.toml): `bench list` prints it, a mistake in it is bad input, and a
//! program added to it alone is run by the benchmarks — even one that hangs, which gets a
//! row that says so instead of hanging the run.

use std::path::PathBuf;

const BENCH: &str = env!("CARGO_BIN_EXE_bench");

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("conclab-roster-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bench_list_shows_every_model_and_peer() {
    let roster = roster::Roster::load().unwrap();
    let ran = testkit::run(BENCH, &["list"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    for p in &roster.program {
        let row = format!("| {} | {} |", p.id, p.runtime);
        assert!(ran.stdout.contains(&row), "{row} not in\n{}", ran.stdout);
    }
    let ids = testkit::run(BENCH, &["list", "--ids", "--runtime", "rust"]);
    assert_eq!(ids.stdout.lines().collect::<Vec<_>>(), roster.models());
    let json = testkit::run(BENCH, &["list", "--json"]);
    let lines: Vec<serde_json::Value> =
        json.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), roster.program.len());
    assert!(lines.iter().all(|l| l["run"].as_array().is_some_and(|a| !a.is_empty())));
}

#[test]
fn a_mistake_in_the_roster_is_bad_input_naming_its_entry() {
    let dir = scratch("broken");
    let text = std::fs::read_to_string(roster::Roster::path()).unwrap();
    let broken = text.replacen("runtime = \"go\"", "runtime = \"no-such-runtime\"", 1);
    assert_ne!(broken, text);
    std::fs::write(dir.join("roster.toml"), broken).unwrap();
    let ran = testkit::run_with_env(
        BENCH,
        &["list"],
        &[("CONCLAB_ROSTER", dir.join("roster.toml").display().to_string())],
    );
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("program 'go-goroutines': runtime 'no-such-runtime' is not one of"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stderr.trim().lines().count(), 1, "{}", ran.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_program_added_to_the_roster_that_hangs_gets_a_timed_out_row_and_the_run_ends() {
    // One runtime, one program: it answers the check that it runs (`--tasks 1`), then sleeps
    // for good when it is given real work. Nothing of it is in the repository's code.
    let dir = scratch("hang");
    let roster = r#"
        [runtime.sh]
        one_at_a_time = "hang"

        [[program]]
        id = "hang"
        runtime = "sh"
        run = ["sh", "-c", 'case "$*" in *"--tasks 1 "*) exit 0;; *) exec sleep infinity;; esac', "hang"]
        workloads = ["sleep"]
        flags = []
        install = "nothing"
        doc = "a program that hangs"
    "#;
    std::fs::write(dir.join("roster.toml"), roster).unwrap();
    let out = dir.join("out");
    let env = [
        ("CONCLAB_ROSTER", dir.join("roster.toml").display().to_string()),
        ("CONCLAB_KILL_AFTER_S", "2".to_string()),
    ];
    let args = ["seed", "--quick", "--hyperfine", "hyperfine", "--python", "python3", "--out"];
    let mut argv: Vec<&str> = args.to_vec();
    let out_text = out.display().to_string();
    argv.push(&out_text);
    let ran = testkit::run_with_env(BENCH, &argv, &env);
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    let page = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(page.contains("| hang |") || page.contains("| `hang` |"), "{page}");
    assert!(page.contains("timed out after 2 s"), "{page}");
    assert!(ran.processes_left().is_empty(), "{:?}", ran.processes_left());
    std::fs::remove_dir_all(&dir).unwrap();
}
