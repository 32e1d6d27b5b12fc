//! The Python peers speak the same contract as the Rust models: same values, same checksum,
//! same exit statuses. `make test` points CONCLAB_PEER_PYTHON at the virtualenv that has
//! uvloop; without it, `python3` from PATH runs them.

use std::path::PathBuf;

const PEERS: [&str; 5] =
    ["py_serial.py", "py_processes.py", "py_threads.py", "py_asyncio.py", "py_uvloop.py"];

/// CONCLAB_PEER_PYTHON, else the project's virtualenv (`make peers`), else `python3`.
fn python() -> String {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    std::env::var("CONCLAB_PEER_PYTHON")
        .ok()
        .or_else(|| venv.exists().then(|| venv.display().to_string()))
        .unwrap_or_else(|| "python3".into())
}

fn script(name: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/peers");
    root.join(name).display().to_string()
}

fn run_peer(peer: &str, args: &[&str]) -> testkit::Outcome {
    let script = script(peer);
    let mut argv = vec![script.as_str()];
    argv.extend_from_slice(args);
    testkit::run(&python(), &argv)
}

#[test]
fn every_peer_yields_the_rust_checksum_for_sleeping_tasks() {
    for peer in PEERS {
        let report = run_peer(peer, &["--tasks", "4", "--ms", "10", "--json"]).success();
        assert_eq!(report["checksum"], testkit::sum_of_values(4), "{peer}");
        for field in testkit::CONTRACT_FIELDS {
            assert!(report.get(field).is_some(), "{peer}: missing {field} in {report}");
        }
    }
}

#[test]
fn every_peer_yields_the_rust_checksum_for_cpu_tasks() {
    for peer in PEERS {
        let report =
            run_peer(peer, &["--workload", "cpu", "--tasks", "4", "--work", "1000", "--json"])
                .success();
        assert_eq!(report["checksum"], testkit::CPU_CHECKSUM_4_X_1000, "{peer}");
    }
}

#[test]
fn every_peer_gets_its_values_from_the_service() {
    for peer in PEERS {
        let report = testkit::run_http(&python(), &[&script(peer)], 20, 10).success();
        assert_eq!(report["checksum"], testkit::sum_of_values(20), "{peer}");
    }
}

#[test]
fn every_peer_reads_a_chunked_response_streamed_in_pieces() {
    let addr = testkit::chunked_server().to_string();
    for peer in PEERS {
        let args = ["--workload", "http", "--tasks", "5", "--addr", &addr, "--json"];
        assert_eq!(
            run_peer(peer, &args).success()["checksum"],
            testkit::sum_of_values(5),
            "{peer}"
        );
    }
}

#[test]
fn every_peer_fails_a_refused_connection_with_exit_1() {
    for peer in PEERS {
        testkit::assert_http_fails(
            &python(),
            &[&script(peer)],
            testkit::refusing_addr(),
            &[],
            "connection refused",
        );
    }
}

#[test]
fn every_peer_rejects_bad_input_with_exit_2() {
    for peer in PEERS {
        for case in [&["--tasks", "0"][..], &["--workload", "nope"], &["--frobnicate"]] {
            let outcome = run_peer(peer, case);
            assert_eq!(outcome.code, Some(2), "{peer} {case:?}: {}", outcome.stderr);
            assert!(
                outcome.stdout.is_empty() && outcome.stderr.starts_with("Error: "),
                "{peer} {case:?}: {}",
                outcome.stderr
            );
        }
    }
}

#[test]
fn offloading_to_a_process_pool_keeps_the_python_loop_ticking() {
    let args = ["--workload", "cpu", "--tasks", "2", "--work", "400000", "--json"];
    let blocked = run_peer("py_asyncio.py", &args).success();
    let offloaded = run_peer("py_asyncio.py", &[&args[..], &["--offload"]].concat()).success();
    let max = |r: &serde_json::Value| r["loop_lag_ms"]["max"].as_f64().unwrap_or(0.0);
    // Each task hashes for roughly 0.1 s; on the loop, the ticker waits for it.
    assert!(max(&blocked) > 50.0, "blocked loop lag {}", blocked["loop_lag_ms"]);
    assert!(max(&offloaded) < 50.0, "offloaded loop lag {}", offloaded["loop_lag_ms"]);
}
