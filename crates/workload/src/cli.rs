//! The command line every model shares (`CONTRACT.md`, "Arguments").
//!
//! One parser for all six binaries, so a flag means the same thing everywhere. A model
//! only says which optional knobs it has (`--workers`, `--offload`); asking a model for a
//! knob it lacks is bad input, not something to ignore silently.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{error::ErrorKind, value_parser, CommandFactory, FromArgMatches, Parser, ValueEnum};

/// The alignment O_DIRECT asks for on every device this project meets (4 KiB logical
/// blocks at most), and so the unit of `--bytes` and `--file-size`.
pub const ALIGN: usize = 4096;

/// The disk workload's data file, when created without `--file-size`: 1 GiB, as fio's runs.
pub const DEFAULT_FILE_SIZE: u64 = 1 << 30;

/// What each task does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Wait `--ms` milliseconds without using the CPU.
    Sleep,
    /// One HTTP/1.1 GET to the local service, which answers after `--ms` milliseconds.
    Http,
    /// A chain of `--work` SHA-256 rounds.
    Cpu,
    /// Read (or with `--write` write) one `--bytes` block of the data file `--file`.
    Disk,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Sleep => "sleep",
            Workload::Http => "http",
            Workload::Cpu => "cpu",
            Workload::Disk => "disk",
        }
    }
}

/// The parsed arguments, identical for every model.
#[derive(Clone, Copy, Debug, Parser)]
#[command(
    about = "Run N tasks under one concurrency model and report what it cost.",
    after_help = "The contract all models share: CONTRACT.md at the root of the repository"
)]
pub struct Args {
    /// What each task does
    #[arg(long, value_enum, default_value_t = Workload::Sleep)]
    pub workload: Workload,
    /// How many tasks (N >= 1)
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = value_parser!(u32).range(1..))]
    pub tasks: u32,
    /// sleep: each task waits MS ms; http: the delay each request asks the service for
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub ms: u64,
    /// cpu: SHA-256 rounds per task
    #[arg(long, value_name = "K", default_value_t = 100_000)]
    pub work: u32,
    /// http: where the service listens
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:7878", value_parser = parse_addr)]
    pub addr: SocketAddr,
    /// Pool size (procs, threads, tokio); default: one process/thread per task, tokio one
    /// worker per core. disk: the most reads or writes in flight, in every model but serial
    #[arg(long, value_name = "W", value_parser = value_parser!(u32).range(1..))]
    pub workers: Option<u32>,
    /// disk: the data file [default: data/disk-SIZE.bin], created from the definition when
    /// missing
    #[arg(long, value_name = "PATH", value_parser = leak)]
    pub file: Option<&'static str>,
    /// disk: the data file's size when it is created (K, M, G suffixes: powers of 1024);
    /// an existing file must have this size [default: 1G]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub file_size: Option<u64>,
    /// disk: bytes each task reads or writes, a multiple of 4096
    #[arg(long, value_name = "B", default_value_t = 4096, value_parser = parse_block)]
    pub bytes: u32,
    /// disk: go through the page cache instead of O_DIRECT
    #[arg(long)]
    pub buffered: bool,
    /// disk: write each task's block (computed, durable with O_DSYNC) instead of reading it
    #[arg(long)]
    pub write: bool,
    /// cpu in tokio, epoll, uring, ring: hand each task to a thread pool (asyncio's run_in_executor)
    #[arg(long)]
    pub offload: bool,
    /// http: give up on a request after T ms (the task counts as failed); --serve: close a
    /// connection whose next request has not arrived whole, or whose answer is not taken, in T ms
    #[arg(long, value_name = "T", default_value_t = 30_000, value_parser = value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
    /// Serve HTTP on HOST:PORT with this model instead of running tasks, until SIGINT or
    /// SIGTERM (`CONTRACT.md`, "Serving"); --workers, --offload and --timeout-ms apply
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_addr)]
    pub serve: Option<SocketAddr>,
    /// Write one JSON line per task to FILE — id, start and end in seconds since the run's
    /// start, the pid and tid that ran it — and an event loop's pulse ticks (`CONTRACT.md`,
    /// "Timeline")
    #[arg(long, value_name = "FILE", value_parser = timeline_file)]
    pub timeline: Option<&'static str>,
    /// Print the report as one JSON object on one stdout line
    #[arg(long)]
    pub json: bool,
    /// One line per finished task on stderr: id, value, and the process/thread that ran it
    #[arg(long)]
    pub verbose: bool,
}

/// Which optional knobs a model has; everything else in [`Args`] applies to all.
#[derive(Clone, Copy, Debug)]
pub struct Model {
    pub name: &'static str,
    /// `--workers` sets a pool size (procs, threads, tokio).
    pub has_pool: bool,
    /// `--offload` hands cpu tasks from an event loop to a thread pool (tokio, epoll, uring, ring).
    pub can_offload: bool,
    /// On disk, `--workers` caps the reads in flight though the model has no pool for the
    /// other workloads (epoll's file pool, uring, ring).
    pub caps_disk: bool,
}

/// Parse any other command line of the project (the `service`, say) the same way: a
/// one-line reason and the usage on bad input, exit 2; `--help` prints and exits 0.
pub fn parse_or_exit<T: clap::Parser>() -> T {
    T::try_parse().unwrap_or_else(|e| match e.kind() {
        // --help and --version print and exit 0; a missing subcommand prints the help, exit 2.
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {
            // The usage of the subcommand that was misused, where clap names one.
            let text = e.to_string();
            let usage = text.lines().find(|l| l.starts_with("Usage:")).map(str::to_string);
            reject(&first_line(&text), &usage.unwrap_or(T::command().render_usage().to_string()))
        }
    })
}

/// Bad input, the contract's way: a one-line reason and the usage on stderr, exit 2.
fn reject(reason: &str, usage: &str) -> ! {
    eprintln!("Error: {reason}\n\n{usage}");
    process::exit(2)
}

impl Args {
    /// Parse `std::env::args`, or print a one-line reason and the usage and exit 2.
    pub fn parse_for(model: Model) -> Args {
        match Args::try_parse_for(model, std::env::args_os()) {
            Ok(args) => args,
            Err(Rejected::Help(e)) => e.exit(),
            Err(Rejected::Bad { reason, usage }) => reject(&reason, &usage),
        }
    }

    /// The parser without the exits, for tests.
    pub fn try_parse_for<I, T>(model: Model, argv: I) -> Result<Args, Rejected>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut command = Args::command().name(model.name).bin_name(model.name);
        let usage = command.render_usage().to_string();
        let bad = |reason: String| Rejected::Bad { reason, usage: usage.clone() };
        let matches = command.try_get_matches_from_mut(argv).map_err(|e| match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Rejected::Help(e),
            _ => bad(first_line(&e.to_string())),
        })?;
        let args = Args::from_arg_matches(&matches).map_err(|e| bad(first_line(&e.to_string())))?;
        let disk = args.workload == Workload::Disk && args.serve.is_none();
        for flag in ["file", "file_size", "bytes", "buffered", "write"] {
            if !disk && matches.value_source(flag) == Some(ValueSource::CommandLine) {
                return Err(bad(format!(
                    "--{} applies to the disk workload only",
                    flag.replace('_', "-")
                )));
            }
        }
        if args.workers.is_some() && !model.has_pool && !(disk && model.caps_disk) {
            return Err(bad(format!(
                "{} has no pool: --workers applies to procs, threads and tokio (on disk also to epoll, uring and ring)",
                model.name
            )));
        }
        if args.timeline.is_some() && args.serve.is_some() {
            return Err(bad("--timeline records tasks: it does not apply to --serve".into()));
        }
        if args.offload && !model.can_offload {
            return Err(bad(format!(
                "{} has no event loop to offload from: --offload applies to tokio, epoll, uring and ring",
                model.name
            )));
        }
        if args.offload && args.workload != Workload::Cpu && args.serve.is_none() {
            return Err(bad("--offload applies to the cpu workload and --serve only".into()));
        }
        Ok(args)
    }

    pub fn sleep(&self) -> Duration {
        Duration::from_millis(self.ms)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// disk: `--file`, or the default data file for `--file-size`.
    pub fn data_file(&self) -> std::path::PathBuf {
        match self.file {
            Some(path) => path.into(),
            None => Args::default_data_file(self.file_size.unwrap_or(DEFAULT_FILE_SIZE)),
        }
    }

    /// Where the data file lives unless `--file` names another: a git-ignored folder of the
    /// working directory, one file per size.
    pub fn default_data_file(size: u64) -> std::path::PathBuf {
        format!("data/disk-{size}.bin").into()
    }
}

/// Why parsing stopped: a help/version request (exit 0) or bad input (exit 2).
#[derive(Debug)]
pub enum Rejected {
    Help(clap::Error),
    Bad { reason: String, usage: String },
}

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    line.trim_start_matches("error: ").to_string()
}

/// A timeline file this process can write: created (or emptied) now, so that a path that
/// cannot be written is bad input before any task runs. Kept for the life of the process,
/// so that `Args` stays `Copy`.
fn timeline_file(s: &str) -> Result<&'static str, String> {
    std::fs::File::create(s).map_err(|e| format!("cannot write {s}: {e}"))?;
    Ok(Box::leak(s.to_owned().into_boxed_str()))
}

/// Kept for the life of the process, so that `Args` stays `Copy`.
fn leak(s: &str) -> Result<&'static str, String> {
    Ok(Box::leak(s.to_owned().into_boxed_str()))
}

/// A size in bytes, with an optional K, M or G (powers of 1024; "1G", "1GiB"); a multiple of
/// 4096.
fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("'{s}' is not a size (say 4096, 64M or 1G)");
    let upper = s.to_ascii_uppercase();
    let number = upper.trim_end_matches("IB").trim_end_matches('B');
    let (digits, shift) = match number.as_bytes().last() {
        Some(b'K') => (&number[..number.len() - 1], 10),
        Some(b'M') => (&number[..number.len() - 1], 20),
        Some(b'G') => (&number[..number.len() - 1], 30),
        Some(b'T') => (&number[..number.len() - 1], 40),
        _ => (number, 0),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let size = n.checked_mul(1 << shift).ok_or(format!("'{s}' is too large"))?;
    if size == 0 || size % ALIGN as u64 != 0 {
        return Err(format!("{size} bytes is not a positive multiple of 4096"));
    }
    Ok(size)
}

/// `--bytes`: a positive multiple of 4096, at most 1 GiB.
fn parse_block(s: &str) -> Result<u32, String> {
    let size = parse_size(s)?;
    u32::try_from(size).ok().filter(|&b| b <= 1 << 30).ok_or(format!("{size} is over 1 GiB"))
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.to_socket_addrs()
        .map_err(|e| format!("{e} (expected HOST:PORT)"))?
        .next()
        .ok_or_else(|| format!("{s} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREADS: Model =
        Model { name: "threads", has_pool: true, can_offload: false, caps_disk: false };

    fn parse(argv: &[&str]) -> Result<Args, Rejected> {
        Args::try_parse_for(THREADS, std::iter::once("threads").chain(argv.iter().copied()))
    }

    fn reason(argv: &[&str]) -> String {
        match parse(argv) {
            Err(Rejected::Bad { reason, .. }) => reason,
            other => panic!("{argv:?} should be rejected, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_contract() {
        let a = parse(&[]).unwrap();
        assert_eq!(a.workload, Workload::Sleep);
        assert_eq!((a.tasks, a.ms, a.work, a.timeout_ms), (10, 1000, 100_000, 30_000));
        assert_eq!(a.addr, "127.0.0.1:7878".parse().unwrap());
        assert_eq!(a.workers, None);
        assert!(!a.json && !a.verbose && !a.offload && a.serve.is_none());
    }

    #[test]
    fn bad_numbers_are_rejected_with_a_one_line_reason() {
        for argv in [
            &["--tasks", "0"][..],
            &["--tasks", "abc"],
            &["--tasks", "-3"],
            &["--ms", "-5"],
            &["--workers", "0"],
            &["--workload", "nope"],
            &["--frobnicate"],
            &["--addr", "nohost"],
        ] {
            let r = reason(argv);
            assert!(!r.is_empty() && !r.contains('\n'), "{argv:?}: {r:?}");
        }
    }

    #[test]
    fn a_knob_the_model_lacks_is_bad_input() {
        assert!(
            reason(&["--workload", "cpu", "--offload"]).contains("tokio, epoll, uring and ring")
        );
        let serial =
            Model { name: "serial", has_pool: false, can_offload: false, caps_disk: false };
        let r = Args::try_parse_for(serial, ["serial", "--workers", "2"]);
        assert!(matches!(r, Err(Rejected::Bad { .. })));
    }
}
