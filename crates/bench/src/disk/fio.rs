//! fio, the device's own ceiling, on the same file in the same run: `io_uring` and `libaio`
//! at iodepth W, and `psync` with W threads, 4 KiB random reads with O_DIRECT.

use std::time::Duration;

use serde::Deserialize;

use super::Point;

/// The engines, as fio names them, and how each reaches depth W.
pub const ENGINES: [&str; 3] = ["io_uring", "libaio", "psync"];

/// The part of fio's `--output-format=json` this reads.
#[derive(Deserialize)]
struct Output {
    jobs: Vec<Job>,
}

#[derive(Deserialize)]
struct Job {
    read: Side,
}

#[derive(Deserialize)]
struct Side {
    iops: f64,
    total_ios: u64,
    clat_ns: Clat,
}

#[derive(Deserialize)]
struct Clat {
    #[serde(default)]
    percentile: std::collections::BTreeMap<String, f64>,
}

/// fio `engine` at depth `depth` for `secs` seconds on `file`, read-only.
pub fn point(fio: &str, engine: &str, depth: u32, file: &str, bytes: u32, secs: u32) -> Point {
    let (iodepth, jobs) = if engine == "psync" { (1, depth) } else { (depth, 1) };
    let argv: Vec<String> = [
        fio,
        "--name=disk",
        &format!("--filename={file}"),
        "--readonly",
        "--rw=randread",
        &format!("--bs={bytes}"),
        "--direct=1",
        &format!("--ioengine={engine}"),
        &format!("--iodepth={iodepth}"),
        &format!("--numjobs={jobs}"),
        "--thread",
        "--group_reporting",
        &format!("--runtime={secs}"),
        "--time_based",
        "--output-format=json",
    ]
    .map(String::from)
    .into();
    let name = format!("fio {engine}");
    let limit = Duration::from_secs(u64::from(secs) + 60);
    let ran = match child::run_argv(&argv, &[], limit) {
        Ok(ran) => ran,
        Err(e) => return Point::missing(&name, depth, format!("{fio}: {e} (make debian-tools)")),
    };
    let outcome = ran.outcome(limit);
    let parsed =
        serde_json::from_str::<Output>(&ran.stdout).ok().and_then(|o| o.jobs.into_iter().next());
    match parsed {
        Some(job) if outcome == "ok" => {
            let pct = |q: &str| job.read.clat_ns.percentile.get(q).map(|ns| ns / 1e6);
            Point {
                program: name,
                depth,
                n: job.read.total_ios as u32,
                status: outcome,
                iops: Some(job.read.iops),
                p50_ms: pct("50.000000"),
                p99_ms: pct("99.000000"),
                // fio's CPU figures are per job and averaged across the group: not comparable.
                cpu_us_per_op: None,
                peak_threads: Some(jobs),
                max_rss_kib: None,
                device_ms: None,
                report: None,
            }
        }
        _ => Point::missing(&name, depth, format!("fio: {outcome}")),
    }
}
