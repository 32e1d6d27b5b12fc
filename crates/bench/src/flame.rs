//! `make flame`: where one run's time goes, drawn. The run goes under `perf record` on the
//! software clock (this machine kind has no hardware counters), its user and kernel stacks
//! unwound with DWARF; inferno folds the stacks and draws them as one SVG. A frame's width is
//! its share of the samples: the scheduler, futexes, `ep_poll`, io_uring's task work, TCP,
//! or the program's own code.

use std::path::{Path, PathBuf};

/// Samples a second of each CPU: a prime, so that the sampling does not beat with a timer.
const HZ: &str = "997";

/// Where the flame graph of `model` on `workload` goes unless told: target/flame/.
pub fn default_out(model: &str, workload: &str) -> PathBuf {
    PathBuf::from("target").join("flame").join(format!("{model}-{workload}.svg"))
}

/// Run `argv` under `perf record`, then fold and draw its stacks into `out` with the inferno
/// binaries in `inferno`.
pub fn draw(argv: &[String], out: &Path, inferno: &Path, title: &str) -> anyhow::Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    }
    let data = out.with_extension("perf.data");
    let mut record: Vec<String> = ["perf", "record", "-q", "-F", HZ, "-e", "cpu-clock"]
        .into_iter()
        .map(String::from)
        .collect();
    record.extend(["--call-graph", "dwarf", "-o"].map(String::from));
    record.push(data.display().to_string());
    record.push("--".into());
    record.extend(argv.iter().cloned());
    eprintln!("$ {}", record.join(" "));
    match child::run_attached(child::argv(&record), child::limit()) {
        Ok(Some(status)) if status.success() => {}
        Ok(Some(status)) => anyhow::bail!("perf record exited with {status} (is perf installed, and kernel.perf_event_paranoid ≤ 1?)"),
        Ok(None) => anyhow::bail!("perf record timed out"),
        Err(e) => anyhow::bail!("cannot run perf: {e}"),
    }
    let stacks = out.with_extension("perf.txt");
    let script = child::output(
        &["perf".into(), "script".into(), "-i".into(), data.display().to_string()],
        false,
    )
    .map_err(anyhow::Error::msg)?;
    std::fs::write(&stacks, script)?;
    let tool = |name: &str| inferno.join(name).display().to_string();
    let folded =
        child::output(&[tool("inferno-collapse-perf"), stacks.display().to_string()], false)
            .map_err(|e| anyhow::anyhow!("{e} (make flame installs inferno into .tools/)"))?;
    let folded_path = out.with_extension("folded");
    std::fs::write(&folded_path, folded)?;
    let svg = child::output(
        &[
            tool("inferno-flamegraph"),
            "--title".into(),
            title.into(),
            folded_path.display().to_string(),
        ],
        false,
    )
    .map_err(anyhow::Error::msg)?;
    std::fs::write(out, svg)?;
    for scratch in [&data, &stacks] {
        let _ = std::fs::remove_file(scratch);
    }
    eprintln!(
        "written to {} (the folded stacks beside it: {})",
        out.display(),
        folded_path.display()
    );
    Ok(())
}
