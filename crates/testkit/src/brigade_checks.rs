//! What every model and peer must do with the brigade (`CONTRACT.md`, "Task i"): pass the
//! token round rings of sizes and lap counts nobody tuned for, report what a hand-off cost,
//! refuse what does not apply, and — where the ring runs through pipes — stop at the
//! descriptor limit naming it, never hang.

use workload::brigade::expected_checksum;

fn run(program: &str, lead: &[&str], args: &[&str]) -> crate::Outcome {
    crate::run(program, &[lead, args].concat())
}

/// Rings of 1, 3 and 37 tasks: the checksum (N·L)(N·L − 1)/2, and the hand-off's figures.
pub fn the_token_goes_round_every_ring(program: &str, lead: &[&str], extra: &[&str]) {
    for (tasks, laps) in [(1u32, 7u32), (3, 11), (37, 5)] {
        let (n, l) = (tasks.to_string(), laps.to_string());
        let args = ["--workload", "brigade", "--tasks", &n, "--laps", &l, "--json"];
        let report = run(program, lead, &[&args[..], extra].concat()).success();
        assert_eq!(
            report["checksum"],
            expected_checksum(tasks, laps),
            "{tasks} × {laps}: {report}"
        );
        assert_eq!(report["handoffs"], u64::from(tasks * laps), "{report}");
        for field in ["ns_per_handoff", "voluntary_per_handoff", "involuntary_per_handoff"] {
            assert!(report[field].as_f64().is_some_and(|v| v >= 0.0), "{field}: {report}");
        }
        for field in ["user_ns_per_handoff", "sys_ns_per_handoff"] {
            assert!(report[field].as_f64().is_some_and(|v| v >= 0.0), "{field}: {report}");
        }
    }
}

/// `--laps 0`, `--laps` with another workload, and a pool for the ring: exit 2.
pub fn what_does_not_apply_to_the_ring_is_refused(program: &str, lead: &[&str], pool: bool) {
    let mut cases: Vec<Vec<&str>> = vec![
        vec!["--workload", "brigade", "--laps", "0"],
        vec!["--workload", "sleep", "--laps", "3"],
        vec!["--workload", "brigade", "--laps", "-1"],
    ];
    if pool {
        cases.push(vec!["--workload", "brigade", "--workers", "2"]);
    }
    for case in cases {
        let outcome = run(program, lead, &case);
        assert_eq!(outcome.code, Some(2), "{case:?}: {}", outcome.stderr);
        assert!(outcome.stdout.is_empty() && outcome.stderr.starts_with("Error: "), "{case:?}");
    }
}

/// A ring through pipes needs two descriptors a task: under a low RLIMIT_NOFILE the run
/// stops at once, exit 1, naming the limit, with nothing left behind.
pub fn a_ring_of_pipes_stops_at_the_descriptor_limit(program: &str, extra: &[&str]) {
    let args =
        [&["--workload", "brigade", "--tasks", "200", "--laps", "3", "--json"][..], extra].concat();
    let outcome = crate::run_with_nofile_limit(program, &args, 64);
    outcome.stopped_at_a_limit(200, "RLIMIT_NOFILE");
    assert!(outcome.elapsed.as_secs() < 30, "took {:?}", outcome.elapsed);
}

/// The brigade (`CONTRACT.md`, "Task i"): every ring's checksum and the hand-off's figures;
/// what does not apply refused; and for the models whose ring runs through pipes, the stop
/// at the descriptor limit. `pipes` lists the extra arguments that make the ring pipes (none
/// for a model whose ring never does).
#[macro_export]
macro_rules! brigade_tests {
    ($bin:literal) => {
        $crate::brigade_tests!($bin, pipes: []);
    };
    ($bin:literal, pipes: [$($arg:literal),*]) => {
        use $crate::brigade_checks as check;

        #[test]
        fn the_token_goes_round_every_ring() {
            check::the_token_goes_round_every_ring(BIN, &[], &[]);
        }

        #[test]
        fn what_does_not_apply_to_the_ring_is_refused() {
            let sized = $crate::suites::declares($bin, |p| p.sizes($crate::roster::Sizes::Brigade));
            check::what_does_not_apply_to_the_ring_is_refused(BIN, &[], !sized);
        }

        #[test]
        fn running_out_of_descriptors_for_the_pipes_names_the_limit() {
            check::a_ring_of_pipes_stops_at_the_descriptor_limit(BIN, &[$($arg),*]);
        }
    };
}

/// The brigade's checks, where the program runs it.
pub const GROUP: crate::checks::CheckGroup =
    crate::checks::CheckGroup::new("brigade", "The bucket brigade", || {
        crate::checks!(crate::Needs::BRIGADE, brigade_checks: [
            the_token_goes_round_every_ring(&[]),
            what_does_not_apply_to_the_ring_is_refused(false),
        ])
    });
