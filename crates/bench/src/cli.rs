//! The command line: one subcommand per benchmark, each with its own `--help`. Bad input is
//! a one-line reason, the usage and exit 2, as for every binary of the project.

use std::path::PathBuf;

use clap::Args;

/// An id of the roster, or bad input that lists them.
fn roster_id(id: &str) -> anyhow::Result<String> {
    let roster = crate::programs::roster();
    match roster.program(id) {
        Some(_) => Ok(id.to_string()),
        None => {
            let ids: Vec<&str> = roster.program.iter().map(|p| p.id.as_str()).collect();
            Err(anyhow::anyhow!("not in the roster: {}", ids.join(", ")))
        }
    }
}

/// A runtime of the roster, or bad input that lists them.
fn roster_runtime(name: &str) -> anyhow::Result<String> {
    let runtimes = &crate::programs::roster().runtime;
    match runtimes.contains_key(name) {
        true => Ok(name.to_string()),
        false => {
            let known: Vec<&str> = runtimes.keys().map(String::as_str).collect();
            Err(anyhow::anyhow!("not one of {}", known.join(", ")))
        }
    }
}

#[derive(Args)]
pub struct List {
    /// The peers' Python (Go and Node are looked for beside it); default .venv/bin/python
    #[arg(long, value_name = "PATH")]
    pub python: Option<String>,
    /// The roster as JSON, one object a program, with `runs_here` (null, or why not)
    #[arg(long)]
    pub json: bool,
    /// Only the ids, one a line, for scripts and the Makefile (`--runtime rust`: the models)
    #[arg(long)]
    pub ids: bool,
    /// Only the programs on this runtime
    #[arg(long, value_name = "NAME", value_parser = roster_runtime)]
    pub runtime: Option<String>,
}

/// The groups of contract checks `conform` can run: testkit's, each with what it checks.
fn check_groups() -> clap::builder::PossibleValuesParser {
    let named =
        testkit::check_groups().map(|g| clap::builder::PossibleValue::new(g.name).help(g.about));
    clap::builder::PossibleValuesParser::new(named)
}

#[derive(Args)]
pub struct Conform {
    /// Which groups of checks, comma-separated [default: every group but db, which starts a
    /// PostgreSQL; with --program, those of them its roster entry takes]
    #[arg(long, value_name = "GROUP", value_delimiter = ',', value_parser = check_groups())]
    pub groups: Option<Vec<String>>,
    /// A program of the roster (`bench list`) instead of a command: its command line, and the
    /// groups its entry says it takes (serve only if it serves)
    #[arg(long, value_name = "ID", value_parser = roster_id, conflicts_with = "command")]
    pub program: Option<String>,
    /// Seconds after which one run of the program is killed, and its check fails "timed out"
    #[arg(long, value_name = "S", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// The program and its leading arguments, after `--`
    #[arg(last = true, required_unless_present = "program", value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Args)]
pub struct Soak {
    /// How long the load lasts, in seconds
    #[arg(long, value_name = "S", default_value_t = 600, value_parser = clap::value_parser!(u64).range(20..))]
    pub seconds: u64,
    /// Which servers, comma-separated (every model and nginx)
    #[arg(long, value_name = "LIST")]
    pub servers: Option<String>,
    /// Each server's descriptor limit during the soak, so that the flood reaches it
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(64..=20000))]
    pub nofile: u64,
    /// The servers' --timeout-ms: how long a slowloris client is kept
    #[arg(long, value_name = "MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=60000))]
    pub timeout_ms: u64,
    /// Where soak.json, the page and the plots go
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Write the page and the plots again from soak.json in --out, running nothing
    #[arg(long)]
    pub redraw: bool,
}

#[derive(Args)]
pub struct Timelines {
    /// The peers' Python (Go and Node are looked for beside it)
    #[arg(long, value_name = "PATH")]
    pub python: String,
    /// Where the JSON lines and the SVGs go (the tracked results/timelines is rewritten)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// What a sweep that writes one results folder needs: `brigade`, `pools`, `db`, and beside
/// their own options `disk` and `serve`.
#[derive(Args)]
pub struct Sweep {
    /// The peers' Python (Go and Node are looked for beside it)
    #[arg(long, value_name = "PATH")]
    pub python: String,
    /// Where the JSON, the tables and the plots go
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A smaller grid and fewer runs, to try the pipeline in a minute or two
    #[arg(long)]
    pub quick: bool,
    /// Write the page and the plots again from the JSON in OUT, running nothing
    #[arg(long)]
    pub redraw: bool,
}

#[derive(Args)]
pub struct Loom {
    #[command(flatten)]
    pub sweep: Sweep,
    /// A JDK 21 `java` to run the same cases on, beside the peers' JDK 25
    #[arg(long, value_name = "PATH")]
    pub java21: Option<String>,
}

#[derive(Args)]
pub struct Disk {
    #[command(flatten)]
    pub sweep: Sweep,
    /// The fio to run beside the models
    #[arg(long, value_name = "PATH", default_value = "fio")]
    pub fio: String,
    /// The data file, made from its definition when missing
    #[arg(long, value_name = "PATH", default_value = "data/disk-1073741824.bin")]
    pub file: PathBuf,
    /// The data file's size when it is made, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
    pub file_size: u64,
}

#[derive(Args)]
pub struct Serve {
    #[command(flatten)]
    pub sweep: Sweep,
    /// The wrk that drives the throughput case
    #[arg(long, value_name = "PATH", default_value = "wrk")]
    pub wrk: String,
    /// The oha that drives the open loop
    #[arg(long, value_name = "PATH", default_value = ".tools/bin/oha")]
    pub oha: String,
    /// Measure the io_uring path's rungs alone (`ring` plain to modern, beside `epoll`)
    #[arg(long)]
    pub only_ladder: bool,
}

/// What a timed table (hyperfine's) needs: `http`, `cpu`.
#[derive(Args)]
pub struct Timed {
    /// The hyperfine to time with
    #[arg(long, value_name = "PATH")]
    pub hyperfine: String,
    /// The Python that runs the peers (the project's .venv has uvloop)
    #[arg(long, value_name = "PATH")]
    pub python: String,
    /// Where the results go
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The article's table: a timed table that also has a quick form.
#[derive(Args)]
pub struct Seed {
    #[command(flatten)]
    pub timed: Timed,
    /// 10 × 100 ms with fewer runs, in under a minute
    #[arg(long)]
    pub quick: bool,
}

#[derive(Args)]
pub struct Scale {
    /// The Python that runs the peers
    #[arg(long, value_name = "PATH")]
    pub python: String,
    /// Where scale.json, the tables and the plots go
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A tiny grid (N = 10, 100 at 50 ms), to check the machinery in seconds
    #[arg(long)]
    pub smoke: bool,
    /// Write the page and the plots again from scale.json in OUT, running nothing
    #[arg(long)]
    pub redraw: bool,
}

#[derive(Args)]
pub struct Out {
    /// The file or directory to write
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct Syscalls {
    /// The Python of the peers' virtualenv, beside which Go and Node are found
    #[arg(long, value_name = "PATH")]
    pub python: String,
    /// The Markdown file to write (the JSON goes beside it)
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Runs of each http case: its counts vary from run to run with how the completions
    /// happen to batch, so the tables give the median and the range
    #[arg(long, value_name = "R", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tool {
    /// `strace -f -c`: every system call, counted
    Strace,
    /// `perf stat` with software events: task clock, context switches, migrations, faults
    Perf,
    /// `perf record` on the software clock, user and kernel stacks, drawn by inferno as a
    /// flame graph (SVG)
    Flame,
}

#[derive(Args)]
pub struct Trace {
    /// What to run the model under
    #[arg(long, value_enum)]
    pub tool: Tool,
    /// The program to run: any id of the roster (`bench list`), a model or a peer
    #[arg(long, value_parser = roster_id)]
    pub model: String,
    /// The workload (http: the service is started and stopped around the run)
    #[arg(long, value_enum, default_value_t = workload::Workload::Sleep)]
    pub workload: workload::Workload,
    /// How many tasks
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub tasks: u32,
    /// Each task's wait (sleep, http, db: the model refuses it elsewhere); the model's default
    /// unless given
    #[arg(long, value_name = "MS")]
    pub ms: Option<u64>,
    /// cpu: SHA-256 rounds per task
    #[arg(long, value_name = "K")]
    pub work: Option<u32>,
    /// The model's pool, or on disk the reads in flight (CONTRACT.md, --workers)
    #[arg(long, value_name = "W")]
    pub workers: Option<u32>,
    /// cpu in the event loops: hand each task to a pool
    #[arg(long)]
    pub offload: bool,
    /// flame: the SVG to write (default target/flame/MODEL-WORKLOAD.svg)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// flame: where inferno-collapse-perf and inferno-flamegraph are
    #[arg(long, value_name = "DIR", default_value = ".tools/bin")]
    pub inferno: PathBuf,
}

/// `bench flames`: every model's flame graphs, as a client and as a server.
#[derive(Args)]
pub struct Flames {
    /// Where the SVGs and the page go (the tracked results/flames is rewritten)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Draw the page again from flames.json without running anything
    #[arg(long)]
    pub redraw: bool,
    /// The wrk that loads the servers
    #[arg(long, value_name = "PATH", default_value = "wrk")]
    pub wrk: String,
    /// Seconds of wrk against each server
    #[arg(long, value_name = "S", default_value_t = 5)]
    pub secs: u32,
    /// Where inferno-collapse-perf and inferno-flamegraph are
    #[arg(long, value_name = "DIR", default_value = ".tools/bin")]
    pub inferno: PathBuf,
}

#[derive(Args)]
pub struct Readme {
    /// The README to rewrite, and beside it the book's chapters (book/src/*.md)
    #[arg(long, default_value = "README.md")]
    pub readme: PathBuf,
    /// The results directory to read
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Rewrite nothing: fail if a generated section is not what results/ gives, or a figure
    /// written by hand (in the README or a crate's doc) is not found in results/
    #[arg(long)]
    pub check: bool,
}

#[derive(Args)]
pub struct Results {
    /// The results directory to list
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

#[derive(Args)]
pub struct Compare {
    /// The commit whose results are the reference
    #[arg(default_value = "HEAD")]
    pub rev: String,
    /// The results directory of your run
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}
