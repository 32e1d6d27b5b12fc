//! The scale sweep's machinery on a tiny grid (N = 10, 100 at 50 ms): the points, the
//! breaking-point table and the plots stay working without a 15-minute run.

#[test]
fn the_scale_sweep_writes_its_table_json_and_plots_on_a_tiny_grid() {
    let out = std::env::temp_dir().join(format!("conclab-scale-smoke-{}", std::process::id()));
    let venv = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let python = std::env::var("CONCLAB_PEER_PYTHON").unwrap_or_else(|_| {
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".into()
        }
    });
    let outcome = testkit::run(
        env!("CARGO_BIN_EXE_bench"),
        &["scale", "--smoke", "--python", &python, "--out", out.to_str().unwrap()],
    );
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);

    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("scale.json")).unwrap()).unwrap();
    let sleep = data["sleep"].as_array().unwrap();
    for model in ["serial", "procs", "threads", "tokio", "epoll", "uring", "ring"] {
        let points: Vec<_> = sleep.iter().filter(|p| p["line"] == model).collect();
        assert_eq!(points.len(), 2, "{model}: {points:?}");
        for p in points {
            assert_eq!(p["status"], "ok", "{p}");
            assert_eq!(p["report"]["checksum"], testkit::sum_of_values(p["n"].as_u64().unwrap()));
        }
    }
    for peer in ["py-asyncio", "py-uvloop"] {
        let ok = sleep.iter().filter(|p| p["line"] == peer && p["status"] == "ok").count();
        assert_eq!(ok, 2, "{peer} ran both points: {sleep:?}");
    }
    assert!(data["http"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["line"] == "epoll" && p["status"] == "ok"));
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        readme.contains("## Where each one stops")
            && readme.contains("`epoll` | 100 | did not stop"),
        "{readme}"
    );
    for plot in ["overhead.svg", "memory-per-task.svg", "http-overhead.svg"] {
        let svg = std::fs::read_to_string(out.join(plot)).unwrap();
        assert!(svg.contains("<polyline") && svg.contains("epoll"), "{plot}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
