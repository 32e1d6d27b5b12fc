//! # monoio — thread-per-core io_uring: a runtime per core, and nothing shared
//!
//! ByteDance's runtime, and what a Rust user picks today where `uring` (tokio-uring) would
//! do: the same completion model — a read is an io_uring entry with a buffer the kernel owns
//! until it completes — on R threads instead of one, each with a runtime, a ring and a timer
//! wheel of its own (`cores.rs`). Task i runs on core i mod R, start to end; no core steals
//! another's work. `--workers R` sets the cores, one per core the process may run on by
//! default.
//!
//! Where it differs from its two neighbours:
//! - from `uring`: more than one thread, and its own timer — monoio's wheel is woken by a
//!   timeout on the ring, where tokio-uring parks in tokio's `epoll_wait`: under `strace -f -c`
//!   a sleep shows `io_uring_enter` and no `epoll_wait` at all. No epoll fallback either: the
//!   legacy driver monoio's FusionDriver falls back to is not compiled in.
//! - from `ring`: a runtime, not a loop by hand: tasks are futures, and monoio decides when
//!   to submit. The price is a future and a task cell per task; the gain is code that reads
//!   like `tokio`'s.
//! - from `tokio`: no work stealing. Two cores share nothing, so a core never waits on
//!   another's lock — and a core with more work than the other is simply behind.
//!
//! What it costs: a thread and a ring per core, a task per task, and owned buffers, as in
//! `uring`. cpu tasks run on their core and hold it: there is no blocking pool to offload to
//! (`--offload` is refused), and the tasks of one core run one after another.
//!
//! Where it stops: sleeping tasks by memory, and a sleeping task here is large: monoio's
//! `Sleep` is 640 bytes (measured with `size_of_val`), twice its timer entry's fields padded
//! to 128 bytes against false sharing between threads — padding copied from tokio, in a
//! runtime whose timer no other thread ever touches. Sockets and pipes stop at RLIMIT_NOFILE
//! (hard limit 20,000 on this machine kind), naming it; and where io_uring cannot be created
//! (`kernel.io_uring_disabled`, a seccomp profile) nothing runs: exit 1, with the reason.
//!
//! Under `strace -f -c`: an `io_uring_setup` and a `clone3` a core, then `io_uring_enter` for
//! every wait and every batch of I/O, a `socket` per connection (monoio makes sockets with the
//! system call, not the ring's IORING_OP_SOCKET), and no `epoll_wait`, and no `read`, `write`,
//! `sendto`, `recvfrom` or `pread64` on the work itself. Two calls are what spreading over
//! cores costs: `futex`, the main thread waiting on the channel that brings it each core's
//! results (a batch of 1,024 at a time: `cores::Finished`), and `mprotect`, each core's glibc arena growing as its tasks are allocated (3,100
//! of them for 10,000 sleeping tasks).
//!
//! Each workload is a file: `tasks.rs` (sleep and cpu, and which file takes the rest),
//! `http.rs`, `disk.rs` (`monoio::fs`), `brigade.rs`, `db.rs` (each core its share of the
//! pool), `crawl.rs` (on one core: the frontier is one) and `serve.rs` (`--serve`: a listener
//! per core, SO_REUSEPORT).

mod brigade;
mod cores;
mod crawl;
mod db;
mod disk;
mod http;
mod serve;
mod tasks;
mod wire;

use std::error::Error;
use std::process::ExitCode;
use std::sync::mpsc;

use cores::Cores;
use workload::limits::{headroom, Worker};
use workload::measure::Pulse;
use workload::{Args, Done, Report, Tally, Width, Workload};

const MODEL: &str = "monoio";

fn main() -> ExitCode {
    workload::main(MODEL, run, serve::run)
}

fn run(args: &'static Args) -> Result<Report, Box<dyn Error>> {
    workload::task::prepare(args, workload::task::Holds::Here)?;
    let width = width(args)?;
    if args.workload == Workload::Crawl {
        return crawl_on_one_core(args, width);
    }
    let cores = match Cores::start(width.workers) {
        Ok(cores) => cores,
        Err(no_ring) => {
            let mut tally = Tally::start(MODEL, args, width);
            tally.fail(args.tasks, no_ring);
            return Ok(tally.finish());
        }
    };
    let mut tally = Tally::start(MODEL, args, width);
    let start = tally.start;
    let (done, results) = mpsc::channel::<Vec<Done>>();
    // cpu: the first core's pulse, which a task holding that core makes late.
    let pulse = (args.workload == Workload::Cpu).then(Pulse::default);
    let running = if args.workload == Workload::Brigade {
        match brigade::links(args, width.workers) {
            Ok(mut links) => cores.run(|core| brigade::job(args, core, &mut links, start, &done)),
            Err(e) => {
                tally.fail(args.tasks, e);
                return Ok(tally.finish());
            }
        }
    } else {
        cores.run(|core| tasks::job(args, core, start, &done, pulse.as_ref()))
    };
    drop(done);
    for finished in results.into_iter().flatten() {
        tally.record(finished);
    }
    running.join();
    if let Some(pulse) = &pulse {
        tally.loop_pulse(pulse);
    }
    Ok(tally.finish())
}

/// The crawl, on this thread's one runtime (`crawl.rs` says why one).
fn crawl_on_one_core(args: &'static Args, width: Width) -> Result<Report, Box<dyn Error>> {
    let mut tally = Tally::start(MODEL, args, width);
    match cores::runtime() {
        Ok(mut runtime) => runtime.block_on(crawl::run(args, &mut tally)),
        Err(no_ring) => tally.fail(args.tasks, no_ring),
    }
    Ok(tally.finish())
}

/// How many cores, and how wide the run is. A core each that the process may run on, or
/// `--workers`; on disk `--workers` is the reads in flight instead, and on db the pool of
/// connections, each shared out among the cores (so never fewer than one a core); the crawl
/// runs on one.
fn width(args: &Args) -> Result<Width, Box<dyn Error>> {
    let cores = std::thread::available_parallelism()?.get() as u32;
    let (runtimes, at_once) = match args.workload {
        Workload::Disk => {
            let depth = args.workers.unwrap_or(args.tasks);
            (cores.min(depth), depth)
        }
        Workload::Db => match args.workers {
            Some(pool) => (cores.min(pool), pool),
            None => (cores, args.tasks),
        },
        Workload::Crawl => (1, workload::crawl::most_in_flight(args)),
        _ => (args.workers.unwrap_or(cores), args.tasks),
    };
    let runtimes = runtimes.min(args.tasks);
    headroom(Worker::Thread).admit(runtimes.into(), "runtimes (--workers)")?;
    Ok(Width { workers: runtimes, at_once })
}
