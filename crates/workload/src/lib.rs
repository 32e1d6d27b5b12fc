//! # workload — everything the conclab models share
//!
//! Each model binary (`serial`, `procs`, `threads`, `tokio`, `epoll`, `uring`, `ring`) is one short
//! `main.rs` holding only its model's mechanism: how it starts tasks and how it waits for
//! them. What the tasks are, how their results are counted and how the run is reported is the
//! same for every model, so it lives here, once — and a model that gets any of it wrong shows
//! up as a wrong checksum, not as a subtly different benchmark.
//!
//! # Layout
//!
//! Read them in this order; each module depends only on the ones above it.
//!
//! - [`values`]: the command line's values — whole numbers, sizes, addresses — parsed and
//!   refused alike in every binary.
//! - [`db_url`]: `--db-url`, a PostgreSQL server's address, role and database, its password
//!   never shown.
//! - [`cli`]: the command line of `CONTRACT.md`, one parser for every model, exit 2 on bad
//!   input, and no flag that does not apply to the mode chosen.
//! - [`measure`]: rusage, a child's peak RSS from `wait4`, lateness percentiles, and the event
//!   loop's [`Pulse`](measure::Pulse).
//! - [`limits`]: the kernel limits on threads and processes, read before a model crosses one.
//! - [`http`]: the http task's request and an incremental response parser (chunked,
//!   Content-Length or close-delimited), sans I/O: each model only moves the bytes.
//! - [`error`]: [`TaskError`], why a task failed, naming the limit to raise when the machine
//!   ran out of something.
//! - [`disk`]: the disk task's data file (created from its definition when missing), the
//!   block task `i` reads or writes and its value, and O_DIRECT's aligned buffers.
//! - [`brigade`]: the brigade's ring — what a task does with the token it is handed, and the
//!   pipes the models that hand off through the kernel use.
//! - [`db`]: the db task's row and value, and PostgreSQL's protocol sans I/O (a
//!   [`Session`](db::Session) per connection), with its blocking form.
//! - [`task`]: what task `i` does and its value, the checksum, and the blocking form of each
//!   task (what `serial`, `procs` and `threads` run).
//! - [`timeline`]: `--timeline FILE`, each task's span and runner, and the pulse's ticks,
//!   kept only when asked for.
//! - [`report`]: the [`Tally`] of results, the [`Report`] (printed as one human line or one
//!   JSON line, and read back by `bench`), and the exit status.
//! - [`timers`]: the heap of deadlines the hand-written loops (`epoll`, `ring`) sleep on.
//! - [`loop_tasks`]: what those two loops share besides, naming no workload: the tally, the
//!   clock and the timers. Beside it, what a part hands such a loop: [`cpu_turns`], cpu tasks
//!   taking turns on the loop's thread; [`offload`], work handed to a pool of threads;
//!   [`sleep`], the sleep workload's timers on them.
//! - [`serve`]: `--serve`: one connection's HTTP sans I/O, the stop signals, the listener,
//!   the server's tally and report, and the blocking models' connection loop.
//!
//! What is not here, and why: the HTTP service the http workload queries is the `service`
//! crate, and the async task body that `tokio` and `uring` share is `tokio-task` — so that a
//! model that blocks (`serial`, `procs`, `threads`) links neither tokio nor hyper.

pub mod brigade;
pub mod cli;
pub mod cpu_turns;
pub mod crawl;
pub mod db;
pub mod db_url;
pub mod disk;
pub mod error;
pub mod http;
pub mod limits;
pub mod loop_tasks;
pub mod measure;
pub mod offload;
pub mod report;
pub mod serve;
pub mod sleep;
pub mod task;
pub mod timeline;
pub mod timers;
pub mod values;

pub use cli::{Args, Model, Workload};
pub use error::TaskError;
pub use report::{exit, Done, Report, Runner, Tally, Width};

use std::error::Error;
use std::process::ExitCode;

/// What a run of tasks is, in a model: its `run`.
pub type RunFn = fn(&'static Args) -> Result<Report, Box<dyn Error>>;
/// What serving is, in a model: its `serve::run`.
pub type ServeFn = fn(&'static Args, &'static str) -> Result<serve::ServeReport, Box<dyn Error>>;

/// Every model's `main`: parse the command line as `model`'s roster.toml entry allows, then
/// serve or run the tasks, print the report and exit with the contract's status.
pub fn main(model: &'static str, run: RunFn, serve: ServeFn) -> ExitCode {
    // Every task may read the arguments: a `'static` reference keeps a copy of them out of
    // each task (at a million of tokio's tasks, most of their memory).
    let args: &'static Args = Box::leak(Box::new(Args::parse_for(model)));
    if args.serve.is_some() {
        return serve::exit(serve(args, model));
    }
    exit(run(args))
}
