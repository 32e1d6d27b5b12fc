//! # uring — tasks on tokio-uring: one thread, I/O through an io_uring
//!
//! The analog of the article's `asyncio + uvloop` row: the same task-and-await model as
//! `tokio`, on a faster engine underneath. `tokio_uring::start` runs a current-thread tokio
//! runtime whose sockets go through an io_uring: a `connect`, `write` or `read` is a
//! submission queue entry, and its result comes back as a completion, so the program asks
//! the kernel to *do* the I/O rather than (as with epoll) to say when it could be done.
//!
//! Say it plainly: tokio-uring 0.5 has no timeout op, so its timers are tokio's own timer
//! wheel, woken by the epoll_wait the runtime parks in. The sleep workload therefore shows
//! `epoll_wait` under strace, just like `tokio`; only the http workload shows the ring,
//! as `io_uring_enter` with no `read`/`write`/`recvfrom`/`sendto` on sockets.
//!
//! What it costs: one thread for everything, a future per task, the ring's memory, and for
//! each socket an owned buffer the kernel writes into (io_uring needs buffers it can hold
//! while the operation is in flight, so reads take and give back a `Vec`).
//!
//! cpu tasks run on the one thread and block the loop entirely; `--offload` hands each to
//! tokio's blocking pool with `spawn_blocking` (the article's `run_in_executor`).
//!
//! Where it stops: sleeping tasks by memory alone — a million fit, at about 470 B a task
//! under glibc (tokio's 128-byte-aligned task cells; see the README's scale section). Each
//! http task holds a socket, so past RLIMIT_NOFILE (hard limit 20,000 on this machine kind)
//! `socket` fails with EMFILE, those tasks fail naming the limit, and the rest finish. The
//! ring itself must be created: where io_uring is disabled (`kernel.io_uring_disabled`) or
//! blocked by a seccomp profile, the run stops at once with the OS error.
//!
//! Under `strace -f -c`: `io_uring_enter` (and one `io_uring_setup`), `epoll_wait` for the
//! timers, a `socket` per http task; no `clone` unless `--offload` starts the blocking pool.
//!
//! Where each workload lives:
//! - sleep and cpu: the task of `tokio_task::one_task` (`crates/tokio-task`), as in `tokio`;
//! - http: `tokio_task::wire::http_get` over `wire.rs`, the socket's reads and writes ring
//!   entries with owned buffers;
//! - disk: `disk.rs`, the read itself the ring entry, no thread blocking in `pread`;
//! - db: `db.rs`, the shared task and pool of `tokio_task::db` over the ring's sockets;
//! - brigade: `brigade.rs`, a task per link and a pipe per pair read and written on the ring;
//! - crawl: `crawl.rs`, a task per request on the one thread;
//! - `--serve ADDR`: `serve.rs`, a task per connection on the one thread.

use std::error::Error;
use std::process::ExitCode;

use tokio_task::wire::http_get;
use wire::Uring;
use workload::{Args, Report, Tally, Width, Workload};

mod brigade;
mod crawl;
mod db;
mod disk;
mod serve;
mod wire;

const MODEL: &str = "uring";

fn main() -> ExitCode {
    workload::main(MODEL, run, serve::run)
}

fn run(args: &'static Args) -> Result<Report, Box<dyn Error>> {
    workload::task::prepare(args, workload::task::Holds::Here)?;
    tokio_uring::builder().entries(4096).start(async {
        // Waiting tasks cost the one thread nothing, so all N can wait at once; on disk,
        // --workers caps the operations in flight.
        let at_once = args.workers.unwrap_or(args.tasks);
        let mut tally = Tally::start(MODEL, args, Width { workers: 1, at_once });
        if args.workload == Workload::Disk {
            disk::open(args)?;
        }
        if args.workload == Workload::Brigade {
            brigade::run(args, &mut tally).await;
            return Ok(tally.finish());
        }
        if args.workload == Workload::Crawl {
            tally.set_width(workload::Width {
                workers: 1,
                at_once: workload::crawl::most_in_flight(args),
            });
            crawl::run(args, &mut tally).await;
            return Ok(tally.finish());
        }
        let task = |id| {
            tokio_uring::spawn(tokio_task::one_task(
                args,
                id,
                http_get::<Uring>,
                disk::one,
                db::query,
            ))
        };
        let pulse = |pulse| tokio_uring::spawn(tokio_task::pulse(pulse));
        tokio_task::run_all(args, &mut tally, task, pulse).await?;
        disk::close();
        Ok(tally.finish())
    })
}
