//! `bench`: the benchmark driver behind `make bench`, `bench-quick`, `bench-http`,
//! `bench-cpu`, `bench-scale`, `bench-serve`, `bench-disk`, `bench-brigade`, `bench-pools`,
//! `bench-db`, `soak`, `timelines`, `plots`, `strace`, `perf`, `syscalls` and `readme`.
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
//!   costs; [`pools`], "CPU × 2" tested; [`db`], PostgreSQL, beside pgbench; [`soak`],
//!   every server at once under a hostile mix.
//! - [`trace`]: one binary under strace or perf, and the syscall counts of every model.
//! - [`timelines`]: the cases that teach, run with `--timeline`.
//! - [`svg`]: every picture — log-log plots, panels over time, the timelines.
//! - [`conform`]: every contract check against any command, one line a check.
//! - [`readme`]: the README's result sections, from `results/`, and [`drift`]: `--check`,
//!   every figure of the prose found in `results/`; [`loops`]: its side-by-side
//!   of `epoll` and `ring`; [`claim`]: uvloop's claim about Node and Go, measured.
//! - [`table`], [`template`], [`facts`], [`service`]: Markdown tables, filling a template, the
//!   machine facts beside every result, and the service the http benchmarks start.

mod brigade;
mod claim;
mod cli;
mod conform;
mod db;
mod disk;
mod drift;
mod facts;
mod list;
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
mod stats;
mod suite;
mod svg;
mod table;
mod template;
mod timed;
mod timelines;
mod trace;

use std::process::ExitCode;

use cli::Command;

fn main() -> ExitCode {
    // The roster first: a mistake in it is one error before anything runs.
    if let Err(e) = programs::check() {
        eprintln!("Error: {e}");
        return ExitCode::from(2);
    }
    let cli: cli::Cli = workload::cli::parse_or_exit();
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
        Command::Timelines(o) => timelines::timelines(&o),
        Command::Disk(o) => disk::SUITE.main(&o),
        Command::Db(o) => db::SUITE.main(&o),
        Command::Brigade(o) => brigade::SUITE.main(&o),
        Command::Pools(o) => pools::SUITE.main(&o),
        Command::Soak(o) => soak::soak(&o),
        Command::Conform(o) => conform::conform(&o),
        Command::Readme(o) => readme::readme(&o),
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
