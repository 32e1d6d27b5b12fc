//! The command line every model shares (`CONTRACT.md`, "Arguments").
//!
//! One parser for all six binaries, so a flag means the same thing everywhere. A model
//! only says which optional knobs it has (`--workers`, `--offload`); asking a model for a
//! knob it lacks is bad input, not something to ignore silently.

use std::io::Write;
use std::net::SocketAddr;
use std::process;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{error::ErrorKind, ArgMatches, CommandFactory, FromArgMatches, Parser};

use crate::db_url::{DbUrl, UrlError};
use crate::values::{addr, at_least, block, leak, millis, rows, size, workers};

pub use crate::values::ALIGN;

/// The disk workload's data file, when created without `--file-size`: 1 GiB, as fio's runs.
pub const DEFAULT_FILE_SIZE: u64 = 1 << 30;

pub use roster::Workload;

/// Where `make service` (the `service` binary) listens unless told otherwise, and so where
/// the http workload sends its requests.
pub const SERVICE_ADDR: &str = "127.0.0.1:7878";

/// The parsed arguments, identical for every model.
#[derive(Clone, Copy, Debug, Parser)]
#[command(
    version,
    about = "Run N tasks under one concurrency model and report what it cost.",
    after_help = "The contract all models share: CONTRACT.md at the root of the repository"
)]
pub struct Args {
    /// What each task does
    #[arg(long, value_enum, default_value_t = Workload::Sleep)]
    pub workload: Workload,
    /// How many tasks (N >= 1)
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = at_least::<u32>(1), allow_negative_numbers = true)]
    pub tasks: u32,
    /// sleep: each task waits MS ms; http: the delay each request asks the service for; db:
    /// the wait in the server (pg_sleep), 0 for a plain point select
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = millis(0), allow_negative_numbers = true)]
    pub ms: u64,
    /// cpu: SHA-256 rounds per task
    #[arg(long, value_name = "K", default_value_t = 100_000, value_parser = at_least::<u32>(0), allow_negative_numbers = true)]
    pub work: u32,
    /// http: where the service listens
    #[arg(long, value_name = "HOST:PORT", default_value = SERVICE_ADDR, value_parser = addr)]
    pub addr: SocketAddr,
    /// Pool size (procs, threads, tokio); default: one process/thread per task, tokio one
    /// worker per core. disk: the most reads or writes in flight, in every model but serial.
    /// db: a pool of W connections, in every model; default: a connection per task
    #[arg(long, value_name = "W", value_parser = workers, allow_negative_numbers = true)]
    pub workers: Option<u32>,
    /// disk: the data file [default: data/disk-SIZE.bin], created from the definition when
    /// missing
    #[arg(long, value_name = "PATH", value_parser = leak)]
    pub file: Option<&'static str>,
    /// disk: the data file's size when it is created (K, M, G suffixes: powers of 1024);
    /// an existing file must have this size [default: 1G]
    #[arg(long, value_name = "SIZE", value_parser = size)]
    pub file_size: Option<u64>,
    /// disk: bytes each task reads or writes, a multiple of 4096
    #[arg(long, value_name = "B", default_value_t = 4096, value_parser = block)]
    pub bytes: u32,
    /// disk: go through the page cache instead of O_DIRECT
    #[arg(long)]
    pub buffered: bool,
    /// disk: write each task's block (computed, durable with O_DSYNC) instead of reading it;
    /// db: update the row (hits + 1, committed durably) and return its value
    #[arg(long)]
    pub write: bool,
    /// db: the server, postgres://user[:password]@host[:port]/dbname; the password may come
    /// from PGPASSWORD [default: the project's cluster (`make db`), else libpq's default,
    /// postgres://$USER@127.0.0.1:5432/$USER]
    // Taken as text and parsed once accepted: clap would quote it, password and all, in its
    // error.
    #[arg(long, value_name = "URL", value_parser = leak)]
    pub db_url: Option<&'static str>,
    /// db: `--db-url` parsed, or the default server.
    #[arg(skip)]
    pub db_server: Option<&'static DbUrl>,
    /// db: rows the table holds; task i reads row (i mod R) + 1
    #[arg(long, value_name = "R", default_value_t = crate::db_url::DEFAULT_ROWS, value_parser = rows, allow_negative_numbers = true)]
    pub rows: u32,
    /// brigade: how many times the token goes round the ring
    #[arg(long, value_name = "L", default_value_t = 100, value_parser = at_least::<u32>(1), allow_negative_numbers = true)]
    pub laps: u32,
    /// brigade in threads: hand the token on through a pipe per pair, as the anchor does,
    /// instead of a channel
    #[arg(long)]
    pub pipes: bool,
    /// crawl: the most connections open to one origin at once (a browser's 6)
    #[arg(long, value_name = "C", default_value_t = 6, value_parser = at_least::<u32>(1), allow_negative_numbers = true)]
    pub per_host: u32,
    /// crawl: `--seed` and `--allow`, checked (`crawl::Scope`).
    #[arg(skip)]
    pub crawl_scope: Option<&'static crate::crawl::Scope>,
    /// cpu in tokio, epoll, uring, ring: hand each task to a thread pool (asyncio's run_in_executor)
    #[arg(long)]
    pub offload: bool,
    /// http and crawl: give up on a request after T ms (the task counts as failed); --serve: close a
    /// connection whose next request has not arrived whole, or whose answer is not taken, in T ms
    #[arg(long, value_name = "T", default_value_t = 30_000, value_parser = millis(1), allow_negative_numbers = true)]
    pub timeout_ms: u64,
    /// Serve HTTP on HOST:PORT with this model instead of running tasks, until SIGINT or
    /// SIGTERM (`CONTRACT.md`, "Serving"); --workers, --offload and --timeout-ms apply
    #[arg(long, value_name = "HOST:PORT", value_parser = addr)]
    pub serve: Option<SocketAddr>,
    /// Write one JSON line per task to FILE — id, start and end in seconds since the run's
    /// start, the pid and tid that ran it — and an event loop's pulse ticks (`CONTRACT.md`,
    /// "Timeline"); made only once the arguments are accepted
    #[arg(long, value_name = "FILE", value_parser = leak)]
    pub timeline: Option<&'static str>,
    /// Print the report as one JSON object on one stdout line
    #[arg(long)]
    pub json: bool,
    /// One line per finished task on stderr: id, value, and the process/thread that ran it
    #[arg(long)]
    pub verbose: bool,
}

/// The flags that belong to one mode only, as (flag, clap's id).
const FLAGS: [(&str, &str); 21] = [
    ("tasks", "tasks"),
    ("workload", "workload"),
    ("timeline", "timeline"),
    ("verbose", "verbose"),
    ("ms", "ms"),
    ("work", "work"),
    ("addr", "addr"),
    ("timeout-ms", "timeout_ms"),
    ("offload", "offload"),
    ("file", "file"),
    ("file-size", "file_size"),
    ("bytes", "bytes"),
    ("buffered", "buffered"),
    ("write", "write"),
    ("laps", "laps"),
    ("pipes", "pipes"),
    ("db-url", "db_url"),
    ("rows", "rows"),
    ("seed", "seed"),
    ("allow", "allow"),
    ("per-host", "per_host"),
];

/// A Rust model: its name, and the optional knobs its roster.toml entry declares — the one
/// place that says what each model can do, which the roster, this parser and the tests read.
#[derive(Clone, Copy, Debug)]
pub struct Model {
    pub name: &'static str,
    program: &'static roster::Program,
}

impl Model {
    /// The model `name` as roster.toml (built into the binary) declares it. Every model is
    /// in the roster: a missing one is a mistake in the build, which its tests catch.
    pub fn named(name: &'static str) -> Model {
        let program = roster::Roster::embedded().program(name);
        Model { name, program: program.unwrap_or_else(|| panic!("{name} is not in roster.toml")) }
    }
}

/// The Rust models whose entry says `which`, as words: "procs, threads and tokio".
fn models_that(which: impl Fn(&roster::Program) -> bool) -> String {
    let names: Vec<&str> = roster::Roster::embedded()
        .program
        .iter()
        .filter(|p| p.is_rust() && which(p))
        .map(|p| p.id.as_str())
        .collect();
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => "no model".into(),
    }
}

/// Parse any other command line of the project (the `service`, `bench`) the same way: the
/// reason and the usage on bad input, exit 2; `--help` prints and exits 0.
pub fn parse_or_exit<T: clap::Parser>() -> T {
    // `bench help --help` asks for the help of help: the program's own.
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.len() == 3 && argv[1] == "help" && (argv[2] == "--help" || argv[2] == "-h") {
        argv.remove(1);
    }
    T::try_parse_from(&argv).unwrap_or_else(|e| match e.kind() {
        // --help and --version print and exit 0; a missing subcommand prints the help, exit 2.
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {
            // The usage of the subcommand that was misused, where there is one.
            let mut command = T::command();
            command.build();
            let named = argv.get(1).and_then(|a| a.to_str()).map(str::to_string);
            let usage = match named.and_then(|n| command.find_subcommand_mut(&n).cloned()) {
                Some(mut sub) => sub.render_usage(),
                None => command.render_usage(),
            };
            reject(&reason_of(&e), &usage.to_string())
        }
    })
}

/// Bad input, the contract's way: `Error: ` and the reason, then the usage, on stderr; exit 2.
/// An argument with an `@` that the reason echoes (clap quotes an unexpected one whole) may
/// hold a password: it is shown masked.
fn reject(reason: &str, usage: &str) -> ! {
    let mut reason = reason.to_string();
    for arg in std::env::args_os().skip(1).filter_map(|a| a.into_string().ok()) {
        if arg.contains('@') {
            reason = reason.replace(&arg, &crate::db_url::mask(&arg));
        }
    }
    let _ = writeln!(std::io::stderr(), "Error: {reason}\n\n{usage}");
    process::exit(2)
}

/// clap's message without its usage and its pointer to `--help`, which the contract prints
/// its own way: the one-line reason, and below it whatever clap knew to add — the possible
/// values, or "a similar argument exists".
fn reason_of(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let kept: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .collect();
    kept.join("\n").trim_end().trim_start_matches("error: ").to_string()
}

impl Args {
    /// Parse `std::env::args` for the model `name`, or print the reason and the usage and
    /// exit 2 (exit 1, without the usage, for a `--db-url` whose host does not resolve).
    pub fn parse_for(name: &'static str) -> Args {
        match Args::try_parse_for(Model::named(name), std::env::args_os()) {
            Ok(args) => args,
            Err(Rejected::Help(e)) => e.exit(),
            Err(Rejected::Bad { reason, usage }) => reject(&reason, &usage),
            Err(Rejected::Unreachable(reason)) => {
                let _ = writeln!(std::io::stderr(), "Error: {reason}");
                process::exit(1)
            }
        }
    }

    /// The parser without the exits, for tests. Nothing is written before every argument is
    /// accepted: the `--timeline` file is made last.
    pub fn try_parse_for<I, T>(model: Model, argv: I) -> Result<Args, Rejected>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut command = with_crawl_flags(Args::command().name(model.name).bin_name(model.name));
        let usage = command.render_usage().to_string();
        let bad = |reason: String| Rejected::Bad { reason, usage: usage.clone() };
        let matches = command.try_get_matches_from_mut(argv).map_err(|e| match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Rejected::Help(e),
            _ => bad(reason_of(&e)),
        })?;
        let mut args = Args::from_arg_matches(&matches).map_err(|e| bad(reason_of(&e)))?;
        args.check(model, &matches).map_err(bad)?;
        if args.workload == Workload::Crawl {
            let list = |id: &str| -> Vec<String> {
                matches.get_many::<String>(id).into_iter().flatten().cloned().collect()
            };
            let scope = crate::crawl::Scope::parse(&list("seed"), &list("allow")).map_err(bad)?;
            args.crawl_scope = Some(Box::leak(Box::new(scope)));
            if matches.value_source("tasks") != Some(ValueSource::CommandLine) {
                args.tasks = CRAWL_TASKS;
            }
        }
        if args.workload == Workload::Db {
            let url = args.db_url.map_or_else(default_db_url, str::to_string);
            let parsed = DbUrl::parse_static(&url).map_err(|e| match e {
                UrlError::Malformed(why) => bad(format!("--db-url: {why}")),
                UrlError::Unresolved(why) => Rejected::Unreachable(why),
            })?;
            args.db_server = Some(parsed);
        }
        // A pool never has more workers than there are tasks to run (serving has no tasks).
        if args.serve.is_none() {
            args.workers = args.workers.map(|w| w.min(args.tasks));
        }
        if let Some(path) = args.timeline {
            std::fs::File::create(path)
                .map_err(|e| bad(format!("--timeline: cannot write {path}: {e}")))?;
        }
        Ok(args)
    }

    /// Every flag given applies to the mode chosen and to this model.
    fn check(&self, model: Model, matches: &ArgMatches) -> Result<(), String> {
        use roster::{Flag, Sizes};
        for (flag, id) in FLAGS {
            let given = matches.value_source(id) == Some(ValueSource::CommandLine);
            if given {
                self.applies(flag)?;
            }
        }
        let p = model.program;
        let serving = self.serve.is_some();
        let disk = self.workload == Workload::Disk && !serving;
        let db = self.workload == Workload::Db && !serving;
        let crawl = self.workload == Workload::Crawl && !serving;
        // A pool the flag can size: the model's own, its file operations on disk, the pool an
        // event loop offloads cpu tasks to, or on db the connections, in every model.
        let sized = ((p.sizes(Sizes::Tasks) || p.sizes(Sizes::Loops)) && !crawl)
            || (disk && p.sizes(Sizes::Disk))
            || (crawl && p.sizes(Sizes::Crawl))
            || (self.offload && p.sizes(Sizes::Offload))
            || db;
        if self.workers.is_some() && !sized {
            return Err(format!(
                "{} has no pool: --workers applies to {} (on disk also to {}; with --offload to {}; on crawl to {}; on db to every model)",
                model.name,
                models_that(|p| p.sizes(Sizes::Tasks) || p.sizes(Sizes::Loops)),
                models_that(|p| p.sizes(Sizes::Disk) && !p.sizes(Sizes::Loops)),
                models_that(|p| p.sizes(Sizes::Offload)),
                models_that(|p| p.sizes(Sizes::Crawl)),
            ));
        }
        if self.workload == Workload::Brigade && !serving {
            // A pool of W < N would leave tasks waiting on a token that never comes.
            if self.workers.is_some() && !p.sizes(Sizes::Brigade) {
                return Err(
                    "--workers does not apply to the brigade: every task of the ring runs at once"
                        .into(),
                );
            }
            if self.pipes && !p.takes(Flag::Pipes) {
                return Err(format!(
                    "--pipes applies to {}: {} hands the token on its own way",
                    models_that(|p| p.takes(Flag::Pipes)),
                    model.name
                ));
            }
        }
        if self.offload && !p.takes(Flag::Offload) {
            return Err(format!(
                "{} has no event loop to offload from: --offload applies to {}",
                model.name,
                models_that(|p| p.takes(Flag::Offload))
            ));
        }
        for (given, flag, what) in [
            (serving, Flag::Serve, "--serve"),
            (self.timeline.is_some(), Flag::Timeline, "--timeline"),
        ] {
            if given && !p.takes(flag) {
                return Err(format!("{} does not take {what} (roster.toml)", model.name));
            }
        }
        Ok(())
    }

    /// Whether `flag` means anything in the mode chosen: running tasks of one workload, or
    /// serving. A flag that would be ignored is refused, and the reason says where it belongs.
    fn applies(&self, flag: &str) -> Result<(), String> {
        use Workload::*;
        let serving = self.serve.is_some();
        let (fits, belongs) = match flag {
            "tasks" | "workload" => (!serving, "to running tasks"),
            "timeline" => (!serving, "to running tasks: it records each task's span"),
            "verbose" => (!serving, "to running tasks: it names each finished task"),
            "ms" => (
                !serving && matches!(self.workload, Sleep | Http | Db),
                "to the sleep, http and db workloads",
            ),
            "work" => (
                !serving && self.workload == Cpu,
                "to the cpu workload (a server's /cpu takes work=K)",
            ),
            "addr" => (!serving && self.workload == Http, "to the http workload"),
            "timeout-ms" => (
                serving || matches!(self.workload, Http | Db | Crawl),
                "to the http, db and crawl workloads and --serve",
            ),
            "offload" => (
                serving || matches!(self.workload, Cpu | Crawl),
                "to the cpu and crawl workloads and --serve",
            ),
            "file" | "file-size" | "bytes" | "buffered" => {
                (!serving && self.workload == Disk, "to the disk workload")
            }
            "write" => {
                (!serving && matches!(self.workload, Disk | Db), "to the disk and db workloads")
            }
            "db-url" | "rows" => (!serving && self.workload == Db, "to the db workload"),
            "laps" | "pipes" => (!serving && self.workload == Brigade, "to the brigade workload"),
            "seed" | "allow" | "per-host" => {
                (!serving && self.workload == Crawl, "to the crawl workload")
            }
            _ => (true, ""),
        };
        if fits {
            return Ok(());
        }
        let mode = if serving {
            "--serve".to_string()
        } else {
            format!("the {} workload", self.workload.name())
        };
        Err(format!("--{flag} does not apply to {mode}: it belongs {belongs}"))
    }

    /// crawl: where it starts and which origins it enters; set once the arguments are
    /// accepted.
    pub fn crawl(&self) -> &'static crate::crawl::Scope {
        self.crawl_scope.expect("the crawl workload has its scope, given or the default")
    }

    pub fn sleep(&self) -> Duration {
        Duration::from_millis(self.ms)
    }

    /// db: the server; set for the db workload once the arguments are accepted.
    pub fn db(&self) -> &'static DbUrl {
        self.db_server.expect("the db workload has a --db-url, given or the default")
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

/// crawl: the most URLs a crawl requests unless `--tasks` says otherwise.
pub const CRAWL_TASKS: u32 = 100_000;

/// `--seed` and `--allow`, repeatable: added to the command by hand, since a list cannot be
/// a field of the `Copy` [`Args`]; read into [`Args::crawl_scope`] once accepted.
fn with_crawl_flags(command: clap::Command) -> clap::Command {
    use clap::{Arg, ArgAction};
    let list = |id: &'static str| {
        Arg::new(id)
            .long(id)
            .value_name(if id == "seed" { "URL" } else { "ORIGIN" })
            .action(ArgAction::Append)
    };
    command
        .arg(list("seed").help(format!(
            "crawl: where the crawl starts, an http:// URL; repeatable [default: {}]",
            crate::crawl::DEFAULT_SEED
        )))
        .arg(list("allow").help("crawl: an origin (http://host[:port]) whose links are followed besides the seeds'; repeatable"))
}

/// The db workload's server when `--db-url` names none: the cluster `make db` started from
/// this directory (it writes its URL to `data/db/url`), or else where libpq would look.
fn default_db_url() -> String {
    if let Ok(url) = std::fs::read_to_string(crate::db_url::MANAGED_URL_FILE) {
        return url.trim().to_string();
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "postgres".into());
    format!("postgres://{user}@127.0.0.1:5432/{user}")
}

/// Why parsing stopped: a help/version request (exit 0) or bad input (exit 2).
#[derive(Debug)]
pub enum Rejected {
    Help(clap::Error),
    Bad {
        reason: String,
        usage: String,
    },
    /// Well-formed, but naming a server no resolver knows: a connection failure, exit 1.
    Unreachable(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Args, Rejected> {
        let threads = Model::named("threads");
        Args::try_parse_for(threads, std::iter::once("threads").chain(argv.iter().copied()))
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
    fn bad_numbers_are_rejected_with_a_reason_on_the_first_line() {
        for argv in [
            &["--tasks", "0"][..],
            &["--tasks", "abc"],
            &["--tasks", "-3"],
            &["--ms", "-5"],
            &["--workers", "0"],
            &["--workload", "nope"],
            &["--frobnicate"],
            &["--addr", "nohost", "--workload", "http"],
        ] {
            let r = reason(argv);
            assert!(!r.lines().next().unwrap_or("").is_empty(), "{argv:?}: {r:?}");
            assert!(!r.contains("Usage:") && !r.contains("--help"), "{argv:?}: {r:?}");
        }
    }

    #[test]
    fn every_range_is_said_alike_and_a_negative_number_is_a_number() {
        assert!(reason(&["--ms", "-1"]).ends_with("-1 is below 0"), "{}", reason(&["--ms", "-1"]));
        assert!(reason(&["--tasks", "0"]).ends_with("0 is below 1"));
        assert!(reason(&["--timeout-ms", "0", "--workload", "http"]).ends_with("0 is below 1"));
        assert!(reason(&["--workload", "db", "--rows", "0"]).ends_with("0 is below 1"));
        let r = reason(&["--workload", "db", "--rows", "3000000000"]);
        assert!(r.ends_with("3000000000 is above 2147483647 (items.id is an int)"), "{r}");
    }

    #[test]
    fn clap_s_suggestions_and_possible_values_are_kept() {
        let r = reason(&["--task", "10"]);
        assert!(
            r.starts_with("unexpected argument '--task' found") && r.contains("'--tasks'"),
            "{r}"
        );
        let r = reason(&["--workload", "HTTP"]);
        assert!(r.contains("possible values: sleep, http, cpu, disk"), "{r}");
    }

    #[test]
    fn a_flag_that_does_not_apply_to_the_mode_is_refused_saying_where_it_belongs() {
        let serve = ["--serve", "127.0.0.1:0"];
        for flag in [&["--tasks", "5"][..], &["--workload", "cpu"], &["--ms", "5"], &["--verbose"]]
        {
            let r = reason(&[&serve[..], flag].concat());
            assert!(r.contains("does not apply to --serve"), "{flag:?}: {r}");
        }
        let r = reason(&["--workload", "cpu", "--ms", "5"]);
        assert_eq!(
            r,
            "--ms does not apply to the cpu workload: it belongs to the sleep, http and db workloads"
        );
        assert!(reason(&["--work", "5"]).contains("the sleep workload"));
        assert!(reason(&["--addr", "127.0.0.1:1"]).contains("to the http workload"));
        assert!(reason(&["--timeout-ms", "5"])
            .contains("to the http, db and crawl workloads and --serve"));
        assert!(reason(&["--seed", "http://a/"]).contains("belongs to the crawl workload"));
        // What does apply is taken.
        assert!(parse(&[&serve[..], &["--timeout-ms", "5", "--workers", "2", "--json"]].concat())
            .is_ok());
        assert!(parse(&["--workload", "http", "--ms", "5", "--addr", "127.0.0.1:1"]).is_ok());
    }

    #[test]
    fn nothing_is_written_until_the_arguments_are_accepted() {
        let path = std::env::temp_dir().join(format!("conclab-cli-{}.jsonl", std::process::id()));
        std::fs::write(&path, "kept\n").unwrap();
        let file = path.to_str().unwrap();
        reason(&["--timeline", file, "--frobnicate"]);
        reason(&["--timeline", file, "--workload", "cpu", "--ms", "3"]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "kept\n");
        parse(&["--timeline", file]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_knob_the_model_lacks_is_bad_input() {
        assert!(
            reason(&["--workload", "cpu", "--offload"]).contains("tokio, epoll, uring and ring")
        );
        let serial = Model::named("serial");
        let r = Args::try_parse_for(serial, ["serial", "--workers", "2"]);
        match r {
            Err(Rejected::Bad { reason, .. }) => assert_eq!(
                reason,
                "serial has no pool: --workers applies to procs, threads, tokio and monoio (on disk also \
                 to epoll, uring and ring; with --offload to epoll and ring; on crawl to procs, threads, \
                 tokio, epoll, uring, ring and monoio; on db to every model)"
            ),
            other => panic!("{other:?}"),
        }
    }
}
