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
//! On disk, one `pread` after another on the file opened once (O_DIRECT unless `--buffered`):
//! one read in flight, so it runs at the device's speed at depth 1. Under `strace -f -c`: a
//! `pread64` per task, nothing else.
//!
//! On the brigade (`brigade.rs`) it is the baseline: the token goes through a pipe per task,
//! written and read back by the one thread, so every hand-off costs its two system calls and
//! no switch. Under `strace -f -c`: a `write` and a `read` per hand-off, nothing else.
//!
//! On db: one query at a time on a blocking socket (`workload::db::blocking`), on a connection
//! of its own or with `--workers` on the one connection it keeps; N queries that each wait in
//! the server take N waits. Under `strace -f -c`: a `sendto` and a `recvfrom` a query, and a
//! `connect` and the login's round trips for each connection.
//!
//! On the crawl (`crawl.rs`): one page after another, on a kept-alive connection to its
//! origin; a web of P pages at L ms each takes P × L.
//!
//! With `--serve ADDR` (`serve.rs`) it is the iterative server: one connection at a time, from
//! accept to close, so a keep-alive client holds everyone else in the accept queue. Under
//! `strace -f -c`: `poll`, `accept4`, then `poll`/`recvfrom`/`sendto` per request and
//! `clock_nanosleep` for a delay — one thread, no `clone`.

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
