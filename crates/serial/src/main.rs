//! # serial — one task after another, on one thread
//!
//! The baseline every other model is measured against, and the article's first row
//! (10 × 1 s = 10.08 s). Each task blocks the only thread until it is done: a sleeping task
//! sleeps in `clock_nanosleep`, an http task waits in `connect`/`read` on a blocking socket,
//! a cpu task runs on this one core. N tasks take N times one task, whatever the machine.
//!
//! What it costs: nothing beyond the work itself — no threads, no processes, no event loop.
//!
//! Where it stops: never for want of a resource — it holds one socket at a time and starts
//! nothing — only for want of time: a million one-second tasks take eleven and a half days.
//!
//! Under `strace -f -c`: one `clock_nanosleep` per sleeping task; per http task a `socket`,
//! a `connect` bounded by `poll` (std's `connect_timeout`, with two `ioctl`s to switch the
//! socket to non-blocking and back), two `setsockopt`s for the read and write timeouts, a
//! `sendto`, a `recvfrom` or two and a `close`; no `clone`, no `futex`.
//!
//! Where each workload lives:
//! - sleep, http, cpu, disk and db: the blocking task of `crates/workload`
//!   (`task::run_blocking`), run here one after another. On disk that is one `pread` after
//!   another on the file opened once (O_DIRECT unless `--buffered`): one read in flight, the
//!   device's speed at depth 1; under `strace -f -c`, a `pread64` per task and nothing else.
//!   On db (`workload::db::blocking`), one query at a time on a blocking socket, on a
//!   connection of its own or with `--workers` on the one it keeps: N queries that each wait
//!   in the server take N waits; under `strace -f -c`, a `sendto` and a `recvfrom` a query,
//!   and a `connect` and the login's round trips a connection.
//! - brigade: `brigade.rs`, the baseline with the pipes and no switch;
//! - crawl: `crawl.rs`, one page after another;
//! - `--serve ADDR`: `serve.rs`, the iterative server.

use std::error::Error;
use std::process::ExitCode;

use workload::{task, Args, Done, Report, Tally, Width};

const MODEL: &str = "serial";

mod brigade;
mod crawl;
mod serve;

fn main() -> ExitCode {
    workload::main(MODEL, run, serve::run)
}

fn run(args: &'static Args) -> Result<Report, Box<dyn Error>> {
    task::prepare(args, task::Holds::Here)?;
    // Every task runs on this one thread, one at a time.
    let mut tally = Tally::start(MODEL, args, Width::one_each(1));
    if args.workload == workload::Workload::Brigade {
        brigade::run(args, &mut tally);
        return Ok(tally.finish());
    }
    if args.workload == workload::Workload::Crawl {
        crawl::run(args, &mut tally);
        return Ok(tally.finish());
    }
    for id in 0..args.tasks {
        tally.record(Done::timed(id, || task::run_blocking(args, id)));
    }
    Ok(tally.finish())
}
