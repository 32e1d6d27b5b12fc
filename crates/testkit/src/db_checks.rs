//! What every model and peer must do with the db workload (`CONTRACT.md`, "db"), against a
//! real PostgreSQL that the tests start ([`Cluster`]): the checksum the definition gives,
//! with a connection per task and with a pool, reading, waiting in the server and writing;
//! SCRAM and its refusals; bad input with exit 2 and no password shown; and the failures a
//! user meets — a missing row, max_connections, a query past its timeout, a server that
//! stops mid-run — each with exit 1, named, and nothing left behind.

use workload::db::expected_checksum;

pub use crate::postgres::{Cluster, ROWS};

fn run(program: &str, lead: &[&str], args: &[&str]) -> crate::Outcome {
    crate::run(program, &[lead, args].concat())
}

/// `args` on the db workload against `url`, as JSON.
fn db(url: &str, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> =
        ["--workload", "db", "--db-url", url, "--json"].map(String::from).into();
    all.extend(args.iter().map(|a| a.to_string()));
    all
}

fn run_db(program: &str, lead: &[&str], url: &str, args: &[&str]) -> crate::Outcome {
    let all = db(url, args);
    run(program, lead, &all.iter().map(String::as_str).collect::<Vec<_>>())
}

/// 57 point selects and 57 that wait 20 ms in the server, over fewer rows than the table
/// holds (so the rows wrap), with a connection per task and with a pool of 3: the checksum
/// the definition gives, and the db fields of the report.
pub fn queries_yield_the_checksum(program: &str, lead: &[&str]) {
    let url = &Cluster::shared().url;
    for rows in [ROWS, 37] {
        let want = expected_checksum(57, rows);
        let rows = rows.to_string();
        for (ms, pool) in
            [("0", &[][..]), ("20", &[]), ("0", &["--workers", "3"]), ("20", &["--workers", "3"])]
        {
            let args = [&["--tasks", "57", "--ms", ms, "--rows", &rows][..], pool].concat();
            let report = run_db(program, lead, url, &args).success();
            assert_eq!(report["checksum"], want, "{args:?}: {report}");
            assert_eq!(report["workload"], "db", "{report}");
            assert!(report["qps"].as_f64() > Some(0.0), "{report}");
        }
    }
}

/// Updates return the rows' values, so the checksum is the same as the reads'.
pub fn writes_return_the_same_values(program: &str, lead: &[&str]) {
    let url = &Cluster::shared().url;
    for pool in [&[][..], &["--workers", "2"]] {
        let args = [&["--tasks", "23", "--ms", "0", "--write"][..], pool].concat();
        let report = run_db(program, lead, url, &args).success();
        assert_eq!(report["checksum"], expected_checksum(23, ROWS), "{pool:?}: {report}");
    }
}

/// The role that must log in with SCRAM-SHA-256 does, with its password in the URL or in
/// PGPASSWORD; a wrong password and a missing database exit 1, named by the server, and the
/// password is never shown.
pub fn logins_by_scram_and_their_refusals(program: &str, lead: &[&str]) {
    let cluster = Cluster::shared();
    let scram = cluster.url_as("conclab_scram:conclab");
    let report = run_db(program, lead, &scram, &["--tasks", "5", "--ms", "0"]).success();
    assert_eq!(report["checksum"], expected_checksum(5, ROWS), "{report}");

    let mut command = child::command(program);
    command.args(lead).args(db(&cluster.url_as("conclab_scram"), &["--tasks", "3", "--ms", "0"]));
    let outcome = crate::run_command({
        command.env("PGPASSWORD", "conclab");
        command
    });
    assert_eq!(outcome.success()["checksum"], expected_checksum(3, ROWS));

    let wrong = cluster.url_as("conclab_scram:hunter2");
    let outcome = run_db(program, lead, &wrong, &["--tasks", "2", "--ms", "0"]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("password authentication failed"), "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("hunter2") && !outcome.stdout.contains("hunter2"));

    let nowhere = cluster.url_of_database("no_such_db");
    let outcome = run_db(program, lead, &nowhere, &["--tasks", "2", "--ms", "0"]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("\"no_such_db\" does not exist"), "{}", outcome.stderr);
}

/// A malformed --db-url, or a bad --rows, is bad input: exit 2, one line, the password
/// never shown.
pub fn bad_db_input_exits_2(program: &str, lead: &[&str]) {
    for url in [
        "mysql://u@127.0.0.1/db",
        "postgres://u:hunter2@127.0.0.1:notaport/db",
        "postgres://127.0.0.1:5432/db",
        "postgres://u:hunter2@127.0.0.1:5432",
    ] {
        let outcome = run(program, lead, &["--workload", "db", "--db-url", url]);
        assert_eq!(outcome.code, Some(2), "{url}: {}", outcome.stderr);
        assert!(outcome.stderr.starts_with("Error: "), "{url}: {}", outcome.stderr);
        assert!(!outcome.stderr.contains("hunter2"), "{url}: {}", outcome.stderr);
    }
    for args in [&["--rows", "0"][..], &["--rows", "-1"], &["--workers", "0"]] {
        let outcome = run(program, lead, &[&["--workload", "db"][..], args].concat());
        assert_eq!(outcome.code, Some(2), "{args:?}: {}", outcome.stderr);
    }
}

/// Rows past the table's end fail, naming why; the others succeed.
pub fn a_missing_row_fails_naming_it(program: &str, lead: &[&str]) {
    let url = &Cluster::shared().url;
    let tasks = (ROWS + 2).to_string();
    let args = ["--tasks", &tasks, "--ms", "0", "--rows", "5000", "--workers", "4"];
    let outcome = run_db(program, lead, url, &args);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("no such row"), "{}", outcome.stderr);
    assert_eq!(outcome.report()["failed"], 2, "{}", outcome.stdout);
}

/// More connections at once than max_connections (100): the tasks past it fail with the
/// server's 53300, which names the limit and the pool to use; nothing hangs, nothing stays.
pub fn past_max_connections_names_the_limit(program: &str, lead: &[&str]) {
    let cluster = Cluster::start();
    let outcome = run_db(program, lead, &cluster.url, &["--tasks", "130", "--ms", "3000"]);
    outcome.stopped_at_a_limit(130, "max_connections");
    assert!(outcome.stderr.contains("53300") && outcome.stderr.contains("--workers"));
}

/// A query that waits longer than --timeout-ms fails, named, and the run ends.
pub fn a_query_past_its_timeout_fails(program: &str, lead: &[&str]) {
    let url = &Cluster::shared().url;
    let args = ["--tasks", "3", "--ms", "5000", "--timeout-ms", "300"];
    let outcome = run_db(program, lead, url, &args);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("timed out"), "{}", outcome.stderr);
    assert!(outcome.elapsed.as_secs() < 5, "took {:?}", outcome.elapsed);
}

/// The server stops (a fast shutdown) while every connection of a pool waits in a query:
/// each task in flight fails, and so do those that wait for a connection, with exit 1,
/// soon, and no process left.
pub fn a_server_that_stops_fails_every_task(program: &str, lead: &[&str]) {
    let cluster = std::sync::Arc::new(Cluster::start());
    let stopping = cluster.clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        stopping.stop();
    });
    let args = ["--tasks", "12", "--ms", "20000", "--workers", "4"];
    let outcome = run_db(program, lead, &cluster.url, &args);
    stopper.join().expect("the stopper");
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    let report = outcome.report();
    assert_eq!(report["failed"], 12, "{report}");
    assert!(outcome.elapsed.as_secs() < 15, "took {:?}", outcome.elapsed);
    assert_eq!(outcome.processes_left(), Vec::<String>::new());
}

/// The checks of this file that every program running the db workload passes given only
/// its program and leading arguments, by name, once: `every_db_check!([then] before…)`
/// expands to `then! { before… db_checks: [name, …] }`, which the models' `db_tests!` make
/// tests of and `bench conform` a list. (Past max_connections is apart: not for serial.)
#[macro_export]
#[doc(hidden)]
macro_rules! every_db_check {
    ([$($then:tt)+] $($before:tt)*) => {
        $($then)+! { $($before)* db_checks: [
            queries_yield_the_checksum,
            writes_return_the_same_values,
            logins_by_scram_and_their_refusals,
            bad_db_input_exits_2,
            a_missing_row_fails_naming_it,
            a_query_past_its_timeout_fails,
            a_server_that_stops_fails_every_task,
        ] }
    };
}

/// The db workload against a real PostgreSQL that the tests start (`db_checks`): checksums
/// with and without a pool, writes, SCRAM and its refusals, bad input, and the failures a
/// user meets. `serial` runs one query at a time, so it never meets max_connections.
#[macro_export]
macro_rules! db_tests {
    ($bin:literal) => {
        use $crate::db_checks as check;

        $crate::every_db_check!([$crate::checks_as_tests] $bin, Db,);

        #[test]
        fn a_pool_of_connections_past_rlimit_nofile_is_refused() {
            $crate::unless_it_runs!($bin, Db);
            if $bin == "procs" {
                return; // its connections are its children's, a descriptor table each
            }
            $crate::pool_checks::a_pool_of_connections_past_rlimit_nofile_is_refused(BIN, &[]);
        }

        #[test]
        fn past_max_connections_names_the_limit() {
            $crate::unless_it_runs!($bin, Db);
            if $bin != "serial" {
                check::past_max_connections_names_the_limit(BIN, &[]);
            }
        }

    };
}

/// The db workload's checks, where the program runs it; only when asked, since they start a
/// PostgreSQL. Past max_connections is apart: it needs a program that holds 130 connections
/// at once, which serial never does and a roster entry does not say.
pub const GROUP: crate::checks::CheckGroup = crate::checks::CheckGroup::new(
    "db",
    "The db workload, against a PostgreSQL the checks start (needs PostgreSQL installed)",
    || crate::every_db_check!([crate::checks] crate::Needs::DB,),
)
.only_when_named();
