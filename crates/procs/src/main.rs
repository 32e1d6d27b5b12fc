//! # procs — one forked process per task, or a pre-forked pool
//!
//! The article's `multiprocessing` row and its `ProcessPoolExecutor`. The parent `fork`s
//! a child per task; the child does its task, writes one record (id, value or error,
//! finish time) to a shared pipe and `_exit`s; the parent reads the pipe until every
//! writer is gone and reaps each child with `wait4`, which also gives the child's peak
//! RSS. With `--workers W`, W children are forked up front and take task ids from a
//! second pipe until it closes.
//!
//! What it costs: a `fork` per process — copying the page tables, and later a copy of
//! every page either side writes — a kernel task and a pid each, and the pipe traffic.
//! Each child has its own memory, so nothing is shared by accident, and cpu tasks run in
//! parallel (as in Python, where this is how one escapes the GIL).
//!
//! Where it stops: `fork` fails with EAGAIN at kernel.pid_max (32768 here),
//! kernel.threads-max or RLIMIT_NPROC (`ulimit -u`; not applied to root). Then the parent
//! starts no more, waits for and reaps the children it has, and counts the rest as failed
//! with the limit named. No orphan or zombie is left.
//!
//! Under `strace -f -c`: one `clone` (fork) and `wait4` per child, each child's `write`
//! and `exit_group`, the parent's `read`s of the pipe, and each task's own syscalls.
//!
//! Where each workload lives:
//! - sleep, http, cpu, disk and db: the blocking task of `crates/workload`
//!   (`task::run_blocking`), in a child each here in `run`, or in the pool's. On disk each
//!   child `pread`s its block from the descriptor it inherited across `fork` (`pread` takes its
//!   own offset); `--workers W` is W children reading at once; under `strace -f -c`, the
//!   `clone`s and `wait4`s, and a `pread64` per task. On db a child connects for its one
//!   query, paying a fork and a login, or with `--workers W` each of W children keeps one
//!   connection across the tasks it takes; under `strace -f -c`, a `clone` per child, and a
//!   `sendto` and a `recvfrom` a query in the children.
//! - brigade: `brigade.rs`, a child per task and a pipe per pair;
//! - crawl: `crawl.rs`, W children fetching and parsing, the parent holding the frontier;
//! - `--serve ADDR`: `serve.rs`, a forked child per connection, or W pre-forked.

use std::error::Error;
use std::fs::File;
use std::io::{self, BufReader};
use std::process::ExitCode;

use nix::unistd::pipe;
use process_pool::{read_record, start_child, write_record, ProcessPool};
use workload::limits::{headroom, Worker};
use workload::measure::{wait4, Reaped};
use workload::{task, Args, Report, Tally, TaskError, Width};

const MODEL: &str = "procs";

mod brigade;
mod crawl;
mod serve;

fn main() -> ExitCode {
    workload::main(MODEL, run, serve::run)
}

fn run(args: &'static Args) -> Result<Report, Box<dyn Error>> {
    task::prepare(args, task::Holds::InChildren)?;
    let processes = args.workers.unwrap_or(args.tasks);
    let mut tally = Tally::start(MODEL, args, Width::one_each(processes));
    if args.workload == workload::Workload::Brigade {
        brigade::run(args, &mut tally)?;
        return Ok(tally.finish());
    }
    if args.workload == workload::Workload::Crawl {
        crawl::run(args, &mut tally)?;
        return Ok(tally.finish());
    }
    match args.workers {
        None => one_child_per_task(args, &mut tally)?,
        Some(_) => pool(args, processes, &mut tally)?,
    }
    Ok(tally.finish())
}

/// Fork one child per task, stopping at the first fork the kernel refuses; every child
/// writes its record to one shared pipe, read here until the last child has closed it.
fn one_child_per_task(args: &Args, tally: &mut Tally) -> io::Result<()> {
    let (results_rx, results_tx) = pipe()?;
    // Room for the children that can start, not for every task asked for.
    let room = headroom(Worker::Process).threads.min(args.tasks.into()) as usize;
    let (mut children, start) = (Vec::with_capacity(room), tally.start);
    for id in 0..args.tasks {
        let child = || {
            let started = std::time::Instant::now();
            write_record(&results_tx, id, started, task::run_blocking(args, id), start)
        };
        match start_child(child) {
            Ok(pid) => children.push(pid),
            Err(e) => {
                let error = TaskError::starting(&format!("fork after {id} children"), &e);
                tally.fail(args.tasks - id, error);
                break;
            }
        }
    }
    // Our copy of the write end must go, or the pipe never reaches end-of-file.
    drop(results_tx);
    let mut results = BufReader::new(File::from(results_rx));
    while let Some(done) = read_record(&mut results, start)? {
        tally.record(done);
    }
    for pid in children {
        reaped(tally, &wait4(pid.as_raw())?);
    }
    Ok(())
}

/// `workers` pre-forked children (never more than there are tasks) taking task ids from a
/// pipe: the ProcessPoolExecutor analog ([`process_pool::ProcessPool`]). A pool that would
/// cross a limit is refused before the first fork; if it still cannot be started whole, no
/// task runs.
fn pool(args: &Args, workers: u32, tally: &mut Tally) -> Result<(), Box<dyn Error>> {
    headroom(Worker::Process).admit(workers.into(), "worker processes (--workers)")?;
    let job = |id| task::run_blocking(args, id);
    let mut pool = match ProcessPool::start(workers, tally.start, job) {
        Ok(pool) => pool,
        Err(e) => {
            let what = format!("fork after {} workers", e.started);
            tally.fail(args.tasks, TaskError::starting(&what, &e.error));
            return Ok(());
        }
    };
    for done in pool.map(0..args.tasks)? {
        tally.record(done);
    }
    for child in pool.shutdown()? {
        reaped(tally, &child);
    }
    Ok(())
}

/// A reaped child adds its peak RSS; one that died (say, killed) is a failure of its own.
fn reaped(tally: &mut Tally, child: &Reaped) {
    tally.add_child(child);
    if let Some(why) = child.failure() {
        tally.fail(0, TaskError::new(why));
    }
}
