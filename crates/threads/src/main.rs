//! # threads — one OS thread per task, or a fixed pool of them
//!
//! The article's `threading` row and its `ThreadPoolExecutor`. Every task runs on its own
//! `std::thread` and blocks it (in `clock_nanosleep`, a socket `read`, or on the CPU); the
//! kernel's scheduler does the interleaving. With `--workers W`, W threads take task ids
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

use std::error::Error;
use std::process::ExitCode;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use workload::limits::thread_headroom;
use workload::{task, Args, Model, Report, Runner, Tally, TaskError};

const MODEL: Model = Model {
    name: "threads",
    has_pool: true,
    can_offload: false,
};

/// std's stack, its guard page, the alternate signal stack and its guard.
const MAPPINGS_PER_THREAD: u64 = 4;

/// What a task sends back to the main thread.
type Done = (u32, Result<u64, TaskError>, Instant, Runner);

fn main() -> ExitCode {
    let args = Args::parse_for(MODEL);
    workload::exit(run(&args))
}

fn run(args: &Args) -> Result<Report, Box<dyn Error>> {
    workload::measure::raise_nofile_limit()?;
    let threads = args.workers.unwrap_or(args.tasks);
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<Done>();
    let mut tally = Tally::start(MODEL.name, args, threads, threads);
    let started = match args.workers {
        None => one_thread_per_task(args, &done_tx, &mut tally),
        Some(workers) => pool(args, workers, &done_tx, &mut tally),
    };
    drop(done_tx);
    for (id, result, finished, runner) in done_rx {
        tally.record(id, result, finished, runner);
    }
    for handle in started {
        handle.join().map_err(|_| "a task thread panicked")?;
    }
    Ok(tally.finish())
}

/// Start one thread per task, stopping at the first limit.
fn one_thread_per_task(args: &Args, done: &Sender<Done>, tally: &mut Tally) -> Vec<JoinHandle<()>> {
    let headroom = thread_headroom(MAPPINGS_PER_THREAD);
    let mut started = Vec::with_capacity(args.tasks as usize);
    for id in 0..args.tasks {
        let job = {
            let (args, done) = (*args, done.clone());
            move || {
                let result = task::run_blocking(&args, id);
                let _ = done.send((id, result, Instant::now(), Runner::here()));
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
    started
}

/// Start `workers` threads that take task ids from a channel: the ThreadPoolExecutor analog.
/// If the pool cannot be started whole, no task runs: the user asked for W workers.
fn pool(args: &Args, workers: u32, done: &Sender<Done>, tally: &mut Tally) -> Vec<JoinHandle<()>> {
    let headroom = thread_headroom(MAPPINGS_PER_THREAD);
    let (ids_tx, ids_rx) = crossbeam_channel::unbounded::<u32>();
    let mut started = Vec::with_capacity(workers as usize);
    for _ in 0..workers {
        let job = {
            let (args, done, ids): (Args, Sender<Done>, Receiver<u32>) =
                (*args, done.clone(), ids_rx.clone());
            move || {
                for id in ids {
                    let result = task::run_blocking(&args, id);
                    let _ = done.send((id, result, Instant::now(), Runner::here()));
                }
            }
        };
        match start_thread(started.len() as u64, &headroom, job) {
            Ok(handle) => started.push(handle),
            Err(e) => {
                tally.fail(args.tasks, e);
                return started; // dropping ids_tx lets the started workers exit
            }
        }
    }
    for id in 0..args.tasks {
        ids_tx
            .send(id)
            .expect("the workers hold the receiver until the sender is dropped");
    }
    started
}

/// Spawn the `count`-th thread, unless it would cross the limit read beforehand.
fn start_thread(
    count: u64,
    headroom: &workload::limits::Headroom,
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
