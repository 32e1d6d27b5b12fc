//! The 20-second soak of `make test`: every Rust model's server (and nginx, where it is
//! installed) at once under the hostile mix. It asserts what must hold on any machine —
//! no wrong answer, no crash, the server answered, descriptors back to their count before
//! the load, memory back near it — and never a speed.

const BENCH: &str = env!("CARGO_BIN_EXE_bench");

/// A generous bound on memory that stays after the load: the page's target is 1 MiB over 10
/// minutes; 20 s on a loaded machine gets eight times that.
const DRIFT_KIB: i64 = 8 * 1024;

#[test]
fn twenty_seconds_of_hostile_clients_leave_every_server_correct_and_at_rest() {
    let out = std::env::temp_dir().join(format!("conclab-soak-test-{}", std::process::id()));
    // Keep the descriptors the soak needs within this machine's hard limit, whatever it is.
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit")
        .1;
    let nofile = (hard.saturating_sub(200) / 8).saturating_sub(320).clamp(64, 1024);
    let need = 8 * (nofile + 320) + 64;
    if hard < need {
        println!(
            "SKIPPED: the soak needs {need} descriptors; RLIMIT_NOFILE's hard limit is {hard}"
        );
        return;
    }
    let nofile = nofile.to_string();
    let ran = testkit::run(
        BENCH,
        &["soak", "--seconds", "20", "--nofile", &nofile, "--out", out.to_str().unwrap()],
    );
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("soak.json")).unwrap()).unwrap();
    let servers = report["servers"].as_array().unwrap();
    let models = roster::Roster::load().unwrap().models().len();
    assert_eq!(servers.len(), models + 1, "every model and nginx");
    for s in servers.iter().filter(|s| s["missing"].is_null()) {
        let name = s["name"].as_str().unwrap();
        assert!(s["crashed"].is_null(), "{name} crashed: {}", s["crashed"]);
        assert_eq!(s["wrong"], 0, "{name} answered wrong: {}", s["wrong_examples"]);
        assert!(s["answered"].as_u64().unwrap() > 0, "{name} answered nothing");
        assert!(s["refused"].as_u64().unwrap() > 0, "{name}: no hostile request was refused");
        assert!(s["flood_peak"].as_u64().unwrap() > 0, "{name}: no flood");
        assert!(
            !s["fds_back_ms"].is_null(),
            "{name}: descriptors {} → {}",
            s["fds_before"],
            s["fds_after"]
        );
        let drift = s["rss_drift_kib"].as_i64().unwrap();
        assert!(drift <= DRIFT_KIB, "{name}: memory grew {drift} KiB after the warm-up");
    }
    assert!(out.join("README.md").exists() && out.join("soak-epoll.svg").exists());
    std::fs::remove_dir_all(&out).unwrap();
}
