//! # threads — one OS thread per task, or a fixed pool of them
//!
//! The article's `threading` row and its `ThreadPoolExecutor`. Every task runs on its own
//! `std::thread` and blocks it (in `clock_nanosleep`, a socket `read`, or on the CPU); the
//! kernel's scheduler does the interleaving. With `--workers W`, the tasks go to a
//! `thread_pool::ThreadPool` of W threads, which take jobs (boxed closures, each one task)
//! from a `crossbeam` channel, so at most W tasks run at once. Results come back over a
//! channel to the main thread, which tallies them.
//!
//! What it costs: a stack (2 MiB reserved, a few KiB touched), 4 memory mappings and a
//! kernel task per thread, and a `clone` + `mmap` to start each. Rust has no GIL, so cpu
//! tasks really run in parallel, one per core.
//!
//! Where it stops: std aborts the process if a thread's mappings cannot be made
//! (vm.max_map_count), so this model reads the limits first ([`workload::limits`]) and
//! stops starting threads before the first one it would cross; a `clone` that fails
//! anyway (EAGAIN) stops it too. Either way the threads already started finish and are
//! joined, and the rest count as failed with the limit named.
//!
//! Under `strace -f -c`: one `clone3` and a few `mmap`/`mprotect`/`sigaltstack` per
//! thread, `futex` for the channel hand-offs and joins, and each task's own syscalls.
//!
//! Where each workload lives:
//! - sleep, http, cpu, disk and db: the blocking task of `crates/workload`
//!   (`task::run_blocking`), on a thread each here in `run`, or on the pool's. On disk each
//!   thread blocks in `pread` on the one shared descriptor — fio's `psync` with W jobs; under
//!   `strace -f -c`, a `pread64` per task beside the threads' `clone3`s and `futex`es. On db
//!   each thread has a connection of its own, or with `--workers W` keeps one (thread-local)
//!   for every task it takes: the pool of W connections; a connection past `max_connections`
//!   meets the server's refusal (53300), which names the limit; under `strace -f -c`, a
//!   `sendto` and a `recvfrom` a query, and `futex` as the pool's threads take tasks.
//! - brigade: `brigade.rs`, a thread per task, every hand-off a wake-up by the kernel;
//! - crawl: `crawl.rs`, W threads and the frontier behind one lock;
//! - `--serve ADDR`: `serve.rs`, a thread per connection, or W accepting.

use std::error::Error;
use std::process::ExitCode;
use std::thread::{self, JoinHandle};

use thread_pool::ThreadPool;
use workload::limits::{headroom, Headroom, Worker};
use workload::{task, Args, Done, Report, Tally, TaskError, Width};

const MODEL: &str = "threads";

mod brigade;
mod crawl;
mod serve;

fn main() -> ExitCode {
    workload::main(MODEL, run, serve::run)
}

fn run(args: &'static Args) -> Result<Report, Box<dyn Error>> {
    task::prepare(args, task::Holds::Here)?;
    let threads = args.workers.unwrap_or(args.tasks);
    let mut tally = Tally::start(MODEL, args, Width::one_each(threads));
    if args.workload == workload::Workload::Brigade {
        let headroom = headroom(Worker::Thread);
        brigade::run(args, &mut tally, |count, job| start_thread(count, &headroom, job));
        return Ok(tally.finish());
    }
    if args.workload == workload::Workload::Crawl {
        let headroom = headroom(Worker::Thread);
        let workers = workload::crawl::most_in_flight(args);
        headroom.admit(workers.into(), "worker threads (--workers)")?;
        let start = |count, job| start_thread(count, &headroom, job);
        return Ok(crawl::run(args, tally, &start).finish());
    }
    match args.workers {
        None => one_thread_per_task(args, &mut tally)?,
        Some(_) => pool(args, threads, &mut tally)?,
    }
    Ok(tally.finish())
}

/// Start one thread per task, stopping at the first limit; results come back over a channel
/// in the order the tasks finish.
fn one_thread_per_task(args: &Args, tally: &mut Tally) -> Result<(), Box<dyn Error>> {
    let headroom = headroom(Worker::Thread);
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<Done>();
    // Room for the handles of the threads that can start, not of every task asked for.
    let mut started = Vec::with_capacity(headroom.threads.min(args.tasks.into()) as usize);
    for id in 0..args.tasks {
        let job = {
            let (args, done) = (*args, done_tx.clone());
            move || {
                let _ = done.send(Done::timed(id, || task::run_blocking(&args, id)));
            }
        };
        match start_thread(started.len() as u64, &headroom, job) {
            Ok(handle) => started.push(handle),
            Err(e) => {
                tally.fail(args.tasks - id, e);
                break;
            }
        }
    }
    tally.sample_threads(); // every thread started, and most still running
    drop(done_tx); // the channel closes when the last task thread is done
    for done in done_rx {
        tally.record(done);
    }
    for handle in started {
        handle.join().map_err(|_| "a task thread panicked")?;
    }
    Ok(())
}

/// `workers` threads (never more than there are tasks) taking tasks from one queue: the
/// ThreadPoolExecutor analog ([`thread_pool::ThreadPool`]), results waited for in submission
/// order. A pool that would cross a limit is refused before its first thread starts; if one
/// still cannot start, no task runs: the user asked for W workers.
fn pool(args: &Args, workers: u32, tally: &mut Tally) -> Result<(), TaskError> {
    let headroom = headroom(Worker::Thread);
    headroom.admit(workers.into(), "worker threads (--workers)")?;
    let spawn = |count: usize, worker: thread_pool::Worker| {
        start_thread(count as u64, &headroom, move || worker.run())
    };
    let pool = match ThreadPool::start(workers as usize, spawn) {
        Ok(pool) => pool,
        Err(e) => {
            tally.fail(args.tasks, e);
            return Ok(());
        }
    };
    let handles: Vec<_> = (0..args.tasks)
        .map(|id| {
            let args = *args;
            pool.submit(move || Done::timed(id, || task::run_blocking(&args, id)))
        })
        .collect();
    for handle in handles {
        tally.record(handle.wait());
    }
    Ok(())
}

/// Spawn the `count`-th thread, unless it would cross the limit read beforehand.
fn start_thread(
    count: u64,
    headroom: &Headroom,
    job: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, TaskError> {
    if count >= headroom.threads {
        return Err(TaskError {
            message: format!(
                "stopped after starting {count} threads, before the next one would cross a limit"
            ),
            limit: Some(headroom.limit.clone()),
        });
    }
    thread::Builder::new()
        .spawn(job)
        .map_err(|e| TaskError::starting(&format!("thread::spawn after {count} threads"), &e))
}
