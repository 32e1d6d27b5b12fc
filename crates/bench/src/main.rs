//! `bench`: the benchmark driver behind `make bench`, `bench-quick`, `bench-http`,
//! `bench-cpu`, `bench-scale`, `bench-serve`, `bench-disk`, `bench-brigade`, `bench-pools`,
//! `bench-db`, `bench-crawl`, `soak`, `timelines`, `plots`, `strace`, `perf`, `syscalls` and `readme`.
//!
//! It times the model binaries and the Python peers with hyperfine — one hyperfine run per
//! group, so that their figures compare as ratios on a noisy machine — runs each once more
//! with `--json` for the figures only the process itself knows (peak RSS, children's RSS,
//! context switches, lateness), and writes the JSON, a Markdown page and the machine facts
//! to `results/…`. Every table is produced here from that JSON, never by hand.
//!
//! # Layout
//!
//! - [`cli`]: the subcommands and their options.
//! - [`programs`]: the roster (`roster.toml`) — every model and peer, a row of any of them
//!   by its label, whether each can run here; [`list`]: `bench list` prints it.
//! - [`run`]: running commands — each command once for its own report, then hyperfine for
//!   the timings — through the `child` crate, the harness's one way to start a program.
//! - [`timed`]: what `seed`, `http` and `cpu` run, in which groups; [`reading`]: what their
//!   figures say, computed from them; `templates/*.md`: the fixed prose around them.
//! - [`suite`]: the shape every sweep below shares — run or `--redraw`, one JSON, a page,
//!   a README section — and [`stats`], the one median and quantile their figures use.
//! - The sweeps: [`scale`], ten tasks to a million; [`serve`], every model and peer as a
//!   server under wrk, oha and the `epoll` client, beside nginx; [`disk`], blocks of one
//!   file at 1 … 1,024 in flight, beside fio; [`brigade`], what a hand-off between tasks
//!   costs; [`loom`], what a virtual thread cannot do; [`pools`], "CPU × 2" tested; [`db`], PostgreSQL, beside pgbench; [`crawl`],
//!   the web crawler, beside Scrapy; [`soak`],
//!   every server at once under a hostile mix.
//! - [`trace`]: one binary under strace or perf, and the syscall counts of every model;
//!   [`flame`]: one binary's flame graph; [`flames`], every model's, as a client and a server.
//! - [`timelines`]: the cases that teach, run with `--timeline`.
//! - [`svg`]: every picture — log-log plots, panels over time, the timelines.
//! - [`conform`]: every contract check against any command, one line a check.
//! - [`compare`]: your run's pages beside the reference's, figure by figure.
//! - [`readme`]: the result sections of the README and the book (the [`documents`]), from
//!   `results/`, and [`drift`]: `--check`, every figure of the prose found in `results/`,
//!   and [`stale`], which results are older than the code they measure (through [`git`],
//!   every git command bench runs); [`loops`]: its side-by-side of `epoll` and `ring`;
//!   [`claim`]: uvloop's claim about Node and Go, measured.
//! - [`table`], [`template`], [`facts`], [`service`]: Markdown tables, filling a template, the
//!   machine facts beside every result, and the service the http benchmarks start.

mod brigade;
mod claim;
mod cli;
mod client_ladder;
mod compare;
mod conform;
mod crawl;
mod db;
mod disk;
mod documents;
mod drift;
mod facts;
mod flame;
mod flames;
mod git;
mod ladder;
mod list;
mod loom;
mod loops;
mod pools;
mod programs;
mod reading;
mod readme;
mod run;
mod scale;
mod serve;
mod service;
mod soak;
mod stale;
mod stats;
mod suite;
mod svg;
mod table;
mod template;
mod timed;
mod timelines;
mod trace;

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run the benchmarks and write results/ (the Makefile's bench targets call this).
#[derive(Parser)]
#[command(name = "bench", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Every model and peer in the roster (roster.toml): runtime, workloads, flags, whether
    /// it runs here and how to install it
    List(cli::List),
    /// The article's table: 10 tasks, each waits 1 s (or 100 ms with --quick), every model and peer
    Seed(cli::Seed),
    /// The http workload at N = 100, 1,000 and 10,000 against the local service
    Http(cli::Timed),
    /// The cpu workload: 8 SHA-256 chains through every model and peer
    Cpu(cli::Timed),
    /// Sleeping tasks from 10 to 1,000,000 per model, until each stops; tables and plots
    Scale(cli::Scale),
    /// Draw the scale plots again from scale.json, running nothing
    Plots(cli::Out),
    /// One model under `strace -f -c` or `perf stat`
    Trace(cli::Trace),
    /// Every model and the Go and Node peers under `strace -f -c`, sleep and http: the top
    /// syscalls, to a Markdown file and JSON beside it
    Syscalls(cli::Syscalls),
    /// Every model under perf record, as the http client and as a server, one flame graph
    /// each and where its time goes: results/flames/
    Flames(cli::Flames),
    /// Every model and peer as a server, beside nginx, under wrk, oha and the epoll client:
    /// results/serve/
    Serve(cli::Serve),
    /// Run the cases that teach with --timeline and draw one SVG each: results/timelines/
    Timelines(cli::Timelines),
    /// Every model and peer reading 4 KiB blocks at 1 … 1,024 in flight, beside fio on the
    /// same file: results/disk/
    Disk(cli::Disk),
    /// The bucket brigade: what a hand-off costs in every model and peer, N = 2 … 100,000,
    /// unpinned and pinned: results/brigade/
    Brigade(cli::Sweep),
    /// What a virtual thread cannot do: blocking calls that unmount, pin or capture a
    /// carrier, on JDK 25 and JDK 21: results/loom/
    Loom(cli::Loom),
    /// "CPU × 2", tested: every pool model on each workload at --workers 1 … N:
    /// results/pools/
    Pools(cli::Sweep),
    /// Every model and peer querying PostgreSQL, beside pgbench, the server pinned to one
    /// core: results/db/
    Db(cli::Sweep),
    /// Every model and peer crawling the project's web, beside Scrapy, W = 1 … 10,000 at a
    /// latency of 0 … 50 ms, the web pinned to one core: results/crawl/
    Crawl(cli::Sweep),
    /// Every Rust model's server and nginx at once under a hostile mix for a while: wrong
    /// answers, crashes, memory and descriptors over time: results/soak/
    Soak(cli::Soak),
    /// Every contract check against any command (`bench conform -- python3 my_peer.py`):
    /// one line a check, then `N passed, N failed`; exit 1 if any failed
    Conform(cli::Conform),
    /// Rewrite the result sections of the README and the book's chapters from the JSON in
    /// results/
    Readme(cli::Readme),
    /// Every folder of results/: when and at which commit it was measured, and whether the
    /// code it measures has changed since (a list; it fails nothing)
    Results(cli::Results),
    /// Your run beside the reference: for every page of results/ that differs from REV's (the
    /// last commit by default), each figure then and now with its ratio, and the verdicts,
    /// rankings and findings that changed
    Compare(cli::Compare),
}

/// What writes a README section from results/.
type Section = fn(&Path) -> anyhow::Result<String>;

/// The README's result sections, in its order: each section's name (its markers, `<!--
/// NAME:start -->`) and what writes it from results/.
pub const SECTIONS: [(&str, Section); 18] = [
    ("peers", list::peers_section),
    ("seed", timed::seed_section),
    ("http", timed::http_section),
    ("http-ladder", client_ladder::section),
    ("cpu", timed::cpu_section),
    ("scale", |results| scale::SUITE.section(results)),
    ("loops", loops::section),
    ("claim", claim::section),
    ("serve", |results| serve::SUITE.section(results)),
    ("disk", |results| disk::SUITE.section(results)),
    ("brigade", |results| brigade::SUITE.section(results)),
    ("loom", |results| loom::SUITE.section(results)),
    ("pools", |results| pools::SUITE.section(results)),
    ("db", |results| db::SUITE.section(results)),
    ("crawl", |results| crawl::SUITE.section(results)),
    ("reliability", soak::tables::reliability),
    ("flames", |results| flames::SUITE.section(results)),
    ("db-flames", flames::db_section),
];

fn main() -> ExitCode {
    // `bench list | head`: a reader that has seen enough ends bench as it ends `ls`, by
    // SIGPIPE, not as a panic over a failed print. (bench's own sockets send with
    // MSG_NOSIGNAL, as std's do, so a client that resets one cannot kill it.)
    // SAFETY: setting a signal's disposition to its default installs no handler; nothing
    // else runs yet.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // The roster first: a mistake in it is one error before anything runs.
    if let Err(e) = programs::check() {
        eprintln!("Error: {e}");
        return ExitCode::from(2);
    }
    let cli: Cli = workload::cli::parse_or_exit();
    let outcome = match cli.command {
        Command::List(o) => list::list(&o),
        Command::Seed(o) => timed::seed(&o),
        Command::Http(o) => timed::http(&o),
        Command::Cpu(o) => timed::cpu(&o),
        Command::Scale(o) => scale::SUITE.main(&o),
        Command::Plots(o) => scale::plots(&o),
        Command::Trace(o) => trace::one(&o),
        Command::Syscalls(o) => trace::syscalls(&o),
        Command::Serve(o) => serve::SUITE.main(&o),
        Command::Flames(o) => flames::SUITE.main(&o),
        Command::Timelines(o) => timelines::timelines(&o),
        Command::Disk(o) => disk::SUITE.main(&o),
        Command::Db(o) => db::SUITE.main(&o),
        Command::Crawl(o) => crawl::SUITE.main(&o),
        Command::Brigade(o) => brigade::SUITE.main(&o),
        Command::Loom(o) => loom::SUITE.main(&o),
        Command::Pools(o) => pools::SUITE.main(&o),
        Command::Soak(o) => soak::soak(&o),
        Command::Conform(o) => conform::conform(&o),
        Command::Readme(o) => readme::readme(&o),
        Command::Compare(o) => compare::compare(&o),
        Command::Results(o) => {
            stale::list(Path::new("."), &o.results);
            Ok(())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and, after colons, what it happened in.
            eprintln!("Error: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_misspelled_option_is_an_error_not_ignored() {
        let bad = [
            &["bench", "seed", "--bogus"][..],
            &["bench", "seed", "--hyperfine", "h", "--python", "p", "--out", "o", "--qiuck"],
            &["bench", "trace", "--tool", "strace", "--model", "nosuch"],
            &["bench", "frobnicate"],
        ];
        for argv in bad {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
        }
        let ok = ["bench", "scale", "--smoke", "--python", "p", "--out", "o"];
        assert!(Cli::try_parse_from(ok).is_ok());
    }

    /// "Adding a workload" (book/src/adding.md), held: every workload is measured by a suite
    /// of its name, its subcommand and its section (sleep's is the article's table: `seed`).
    #[test]
    fn every_workload_has_a_subcommand_and_a_section_of_its_name() {
        for w in roster::Workload::ALL.into_iter().filter(|&w| w != roster::Workload::Sleep) {
            let name = w.name();
            assert!(Cli::command().find_subcommand(name).is_some(), "no `bench {name}`");
            let section = SECTIONS.iter().any(|(s, _)| *s == name);
            assert!(section, "no section <!-- {name}:start --> in SECTIONS");
        }
    }
}
