//! `make bench-disk`: every model and peer reading 4 KiB blocks of one 1 GiB file, beside fio
//! on the same file in the same run (`results/disk/`).
//!
//! Three cases (README, "Files"):
//! - **IOPS against depth**: O_DIRECT reads with W = 1 … 1,024 operations in flight
//!   (`--workers W`), N sized from a first short run so that each point lasts about 1.5 s;
//!   fio's `io_uring` and `libaio` at iodepth W and `psync` with W threads beside them. The
//!   file is evicted from the page cache (`posix_fadvise` DONTNEED) before each run.
//! - **Warm cache**: `--buffered` reads of a file the page cache holds whole, so that the
//!   device is out of the picture and each model's own cost per read is what is left.
//! - **At scale**: N = 10,000 and 100,000 reads with each program's defaults, where the
//!   models part ways: a thread per read, Go's thread limit, libuv's 4 threads, the ring's
//!   queues.
//!
//! - `fio.rs`: fio's runs and what they measured.
//! - `submits.rs`: how the programs on an io_uring hand their reads to the kernel.
//! - `node_profile.rs`: where Node's main thread spends a run at W = 4, by `--cpu-prof`.
//! - `device.rs`: the block device under the file, and the time reads spent in it.
//! - `tables.rs`: the tables, the plots, the targets' verdicts and the README section.

mod device;
mod fio;
pub mod node_profile;
pub mod submits;
pub mod tables;

use anyhow::Context;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use workload::Report;

use crate::cli;
use crate::programs::Programs;
use crate::suite::Suite;
use device::Device;
use roster::Workload;

/// The depths of the curve.
pub const DEPTHS: [u32; 6] = [1, 4, 16, 64, 256, 1024];
/// The sizes of the scale case.
pub const SCALE: [u32; 2] = [10_000, 100_000];
/// The block every task reads.
pub const BYTES: u32 = 4096;
/// The depth of the warm-cache case.
pub const WARM_DEPTH: u32 = 16;

#[derive(Serialize, Deserialize)]
pub struct Results {
    pub facts: serde_json::Value,
    pub file: String,
    pub file_size: u64,
    pub bytes: u32,
    pub curve: Vec<Point>,
    pub warm: Vec<Point>,
    pub scale: Vec<Point>,
    /// `ring`'s examples/registered.rs: plain entries against a registered file and buffers.
    #[serde(default)]
    pub registered: Vec<Registered>,
    /// Why `registered` is empty, if it is.
    #[serde(default)]
    pub registered_note: Option<String>,
    /// How the programs on an io_uring submitted their reads at depth 64.
    #[serde(default)]
    pub submits: Vec<submits::Submits>,
    /// Where Node's main thread spent a run at W = 4, or why it was not profiled.
    #[serde(default)]
    pub node_profile: Option<Result<node_profile::Profile, String>>,
}

/// One variant of one round of examples/registered.rs.
#[derive(Clone, Serialize, Deserialize)]
pub struct Registered {
    pub variant: String,
    pub round: u32,
    pub reads: u64,
    pub depth: u32,
    pub iops: f64,
}

/// One run of one program at one depth (or one N).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Point {
    pub program: String,
    pub depth: u32,
    pub n: u32,
    /// "ok", "exit 1: …", "timed out after N s", or why it did not run.
    pub status: String,
    pub iops: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// User and system CPU per operation, the whole process's.
    pub cpu_us_per_op: Option<f64>,
    pub peak_threads: Option<u32>,
    pub max_rss_kib: Option<u64>,
    /// The mean time a read spent in the block layer and the device, by the device's own
    /// counters (`device.rs`): what is left of `p50_ms` is the program's and its queues'.
    #[serde(default)]
    pub device_ms: Option<f64>,
    pub report: Option<Report>,
}

crate::table::sweep_point!(Point);

impl Point {
    pub fn missing(program: &str, depth: u32, why: String) -> Point {
        Point { program: program.into(), depth, status: why, ..Point::default() }
    }
}

/// A program of the benchmark: its name, its command line, and the most operations in
/// flight it can be asked for (1 for the serial ones, which have no `--workers` on disk).
pub struct Program {
    pub name: String,
    pub argv: Vec<String>,
    pub missing: Option<String>,
    pub max_depth: u32,
}

fn programs(programs: &Programs) -> Vec<Program> {
    let max_depth = |id: &str| match id {
        // One read at a time, and no --workers to ask for more.
        _ if crate::programs::is_serial(id) => 1,
        // A process per worker, each with its own interpreter: 64 is already 1 GiB of them.
        "py-processes" => 64,
        _ => 1024,
    };
    let rows = programs.every(Workload::Disk, &[]);
    rows.into_iter()
        .map(|r| Program {
            max_depth: max_depth(&r.name),
            name: r.name,
            argv: r.argv,
            missing: r.missing,
        })
        .collect()
}

/// Drop the file's pages from the page cache (before a direct run), or read it whole into it
/// (before a buffered one).
fn page_cache(file: &Path, warm: bool) -> anyhow::Result<()> {
    use nix::fcntl::{posix_fadvise, PosixFadviseAdvice};
    let f = std::fs::File::open(file).with_context(|| file.display().to_string())?;
    if warm {
        std::io::copy(&mut &f, &mut std::io::sink()).map_err(anyhow::Error::msg)?;
        return Ok(());
    }
    posix_fadvise(&f, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED)
        .map_err(|e| anyhow::anyhow!("posix_fadvise DONTNEED on {}: {e}", file.display()))
}

/// One run of `program` reading `n` blocks with `extra` arguments: its point.
fn run_point(
    p: &Program,
    file: &Path,
    device: &Device,
    depth: u32,
    n: u32,
    extra: &[&str],
) -> Point {
    if let Some(why) = &p.missing {
        return Point::missing(&p.name, depth, why.clone());
    }
    let file_arg = file.display().to_string();
    let mut argv = p.argv.clone();
    let n_text = n.to_string();
    argv.extend(
        ["--workload", "disk", "--tasks", &n_text, "--file", &file_arg, "--json"].map(String::from),
    );
    argv.extend(extra.iter().map(|s| s.to_string()));
    let limit = Duration::from_secs(120);
    let (ran, device_ms) = device.timed(|| child::run_argv(&argv, &[], limit));
    let ran = match ran {
        Ok(ran) => ran,
        Err(e) => return Point::missing(&p.name, depth, format!("cannot run {}: {e}", argv[0])),
    };
    let report = crate::run::report_line(&ran.stdout);
    let mut point = Point::missing(&p.name, depth, ran.outcome(limit));
    point.n = n;
    if let Some(r) = &report {
        point.iops = r.iops;
        point.p50_ms = r.latency_ms.map(|l| l.p50);
        point.p99_ms = r.latency_ms.map(|l| l.p99);
        point.cpu_us_per_op = Some((r.user_s + r.sys_s) / f64::from(n) * 1e6);
        point.peak_threads = Some(r.peak_threads);
        point.max_rss_kib = Some(r.max_rss_kib + r.children_max_rss_kib_sum);
    }
    point.device_ms = device_ms;
    point.report = report;
    point
}

/// A point that lasts about `secs`: a first run of 2,000 reads (at least 4 per slot) sets N.
fn sized_point(
    p: &Program,
    file: &Path,
    device: &Device,
    depth: u32,
    extra: &[&str],
    secs: f64,
    warm: bool,
) -> Point {
    let prepare = || page_cache(file, warm);
    let first_n = 2_000.max(4 * depth);
    if let Err(e) = prepare() {
        return Point::missing(&p.name, depth, format!("{e:#}"));
    }
    let first = run_point(p, file, device, depth, first_n, extra);
    let Some(iops) = first.iops.filter(|_| first.ok()) else { return first };
    let n = ((iops * secs) as u32).clamp(first_n, 2_000_000);
    if let Err(e) = prepare() {
        return Point::missing(&p.name, depth, format!("{e:#}"));
    }
    run_point(p, file, device, depth, n, extra)
}

/// `--workers W`, for the programs that take it (all but the serial ones).
fn depth_args(p: &Program, depth: u32) -> Vec<String> {
    if p.max_depth > 1 {
        vec!["--workers".into(), depth.to_string()]
    } else {
        vec![]
    }
}

fn run(d: &cli::Disk) -> anyhow::Result<Results> {
    let o = &d.sweep;
    let all = Programs::find(&o.python);
    let programs = programs(&all);
    let file = &d.file;
    // The file is made once, from the definition, by the fastest maker: a Rust model.
    let serial = crate::run::model_program("serial");
    let make: Vec<String> = [&serial[0], "--workload", "disk", "--tasks", "1", "--file"]
        .iter()
        .map(|s| s.to_string())
        .chain([file.display().to_string(), "--file-size".into(), d.file_size.to_string()])
        .collect();
    let made = child::run_argv(&make, &[], Duration::from_secs(600)).map_err(anyhow::Error::msg)?;
    if made.status.is_none_or(|s| !s.success()) {
        return Err(anyhow::anyhow!("cannot make {}: {}", file.display(), made.stderr.trim()));
    }
    let secs = if o.quick { 0.3 } else { 1.5 };
    let fio_secs = if o.quick { 1 } else { 2 };
    let depths: &[u32] = if o.quick { &[1, 16, 64] } else { &DEPTHS };
    let mut more = all.versions();
    more.push(("fio", crate::facts::first_line(&d.fio, &["--version"])));
    let device = Device::of(file);
    more.push(("device", device.describe()));
    let mut r = Results {
        facts: crate::facts::json(&crate::facts::collect(None, more)),
        file: file.display().to_string(),
        file_size: d.file_size,
        bytes: BYTES,
        curve: vec![],
        warm: vec![],
        scale: vec![],
        registered: vec![],
        registered_note: None,
        submits: vec![],
        node_profile: None,
    };
    let file_text = file.display().to_string();
    for &depth in depths {
        eprintln!("bench disk: depth {depth}");
        for engine in fio::ENGINES {
            if page_cache(file, false).is_ok() {
                let run = || fio::point(&d.fio, engine, depth, &file_text, BYTES, fio_secs);
                let (point, device_ms) = device.timed(run);
                r.curve.push(Point { device_ms, ..point });
            }
        }
        for p in programs.iter().filter(|p| depth <= p.max_depth) {
            let extra = depth_args(p, depth);
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            r.curve.push(sized_point(p, file, &device, depth, &extra, secs, false));
        }
    }
    eprintln!("bench disk: ring's registered file and buffers");
    match registered(file, if o.quick { 50_000 } else { 300_000 }) {
        Ok(rounds) => r.registered = rounds,
        Err(why) => r.registered_note = Some(format!("{why:#}")),
    }
    eprintln!("bench disk: how the rings submit, under strace");
    r.submits = submits::measure(&programs, file);
    eprintln!("bench disk: Node under its own profiler");
    r.node_profile = Some(node_profile::measure(&programs, file));
    eprintln!("bench disk: warm cache");
    for p in &programs {
        let depth = WARM_DEPTH.min(p.max_depth);
        let mut extra = depth_args(p, depth);
        extra.push("--buffered".into());
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        r.warm.push(sized_point(p, file, &device, depth, &extra, secs, true));
    }
    let sizes: &[u32] = if o.quick { &[10_000] } else { &SCALE };
    for &n in sizes {
        eprintln!("bench disk: N = {n}, each program's defaults");
        for p in &programs {
            let _ = page_cache(file, false);
            r.scale.push(run_point(p, file, &device, n, n, &[]));
        }
    }
    Ok(r)
}

/// `ring`'s examples/registered.rs at depth 64, three rounds (built by `make bench-disk`).
fn registered(file: &Path, reads: u32) -> anyhow::Result<Vec<Registered>> {
    let example = crate::run::bin_dir().join("examples").join("registered");
    let argv: Vec<String> = [
        example.display().to_string(),
        file.display().to_string(),
        reads.to_string(),
        "64".into(),
        "3".into(),
    ]
    .into();
    let _ = page_cache(file, false);
    let limit = Duration::from_secs(300);
    let ran =
        child::run_argv(&argv, &[], limit).map_err(|e| anyhow::anyhow!("{}: {e}", argv[0]))?;
    if ran.status.is_none_or(|s| !s.success()) {
        anyhow::bail!(ran.outcome(limit));
    }
    ran.stdout
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| anyhow::anyhow!("{l}: {e}")))
        .collect()
}

/// `make bench-disk` → results/disk/.
pub const SUITE: Suite<cli::Disk, Results> = Suite::new("disk", run, tables::TEMPLATES);
