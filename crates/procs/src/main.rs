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

use std::error::Error;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::unistd::{fork, pipe, ForkResult, Pid};
use workload::measure::wait4;
use workload::{task, Args, Model, Report, Runner, Tally, TaskError};

const MODEL: Model = Model {
    name: "procs",
    has_pool: true,
    can_offload: false,
};

fn main() -> ExitCode {
    let args = Args::parse_for(MODEL);
    workload::exit(run(&args))
}

fn run(args: &Args) -> Result<Report, Box<dyn Error>> {
    workload::measure::raise_nofile_limit()?;
    let processes = args.workers.unwrap_or(args.tasks);
    let (results_rx, results_tx) = pipe()?;
    let mut tally = Tally::start(MODEL.name, args, processes, processes);
    let children = match args.workers {
        None => one_child_per_task(args, &results_tx, &mut tally)?,
        Some(workers) => pool(args, workers, &results_tx, &mut tally)?,
    };
    // Our copy of the write end must go, or the pipe never reaches end-of-file.
    drop(results_tx);
    let mut results = BufReader::new(File::from(results_rx));
    while let Some((id, result, finished, runner)) = read_record(&mut results, tally.start)? {
        tally.record(id, result, finished, runner);
    }
    for pid in children {
        let child = wait4(pid.as_raw())?;
        tally.add_child(&child);
        if let Some(why) = child.failure() {
            tally.fail(0, TaskError::new(why));
        }
    }
    Ok(tally.finish())
}

/// Fork one child per task; stop at the first fork the kernel refuses.
fn one_child_per_task(args: &Args, results: &OwnedFd, tally: &mut Tally) -> io::Result<Vec<Pid>> {
    let (mut children, start) = (Vec::with_capacity(args.tasks as usize), tally.start);
    for id in 0..args.tasks {
        match start_child(|| write_record(results, id, task::run_blocking(args, id), start)) {
            Ok(pid) => children.push(pid),
            Err(e) => {
                tally.fail(
                    args.tasks - id,
                    TaskError::starting(&format!("fork after {id} children"), &e),
                );
                break;
            }
        }
    }
    Ok(children)
}

/// Fork `workers` children that read task ids from a pipe: the ProcessPoolExecutor analog.
/// If the pool cannot be started whole, no task runs: the user asked for W workers.
fn pool(args: &Args, workers: u32, results: &OwnedFd, tally: &mut Tally) -> io::Result<Vec<Pid>> {
    let (ids_rx, ids_tx) = pipe()?;
    let (mut children, start) = (Vec::with_capacity(workers as usize), tally.start);
    for n in 0..workers {
        let worker = || {
            // The child's copy of the write end must close, or the ids pipe never ends.
            // (The child never drops `ids_tx`: it leaves through `_exit`.)
            nix::unistd::close(ids_tx.as_raw_fd())?;
            let mut ids = File::from(ids_rx.try_clone()?);
            let mut id = [0u8; 4];
            // Each id is one 4-byte write, and pipe writes under PIPE_BUF are atomic, so
            // every read of 4 bytes takes exactly one whole id.
            while ids.read_exact(&mut id).is_ok() {
                let id = u32::from_ne_bytes(id);
                write_record(results, id, task::run_blocking(args, id), start)?;
            }
            Ok(())
        };
        match start_child(worker) {
            Ok(pid) => children.push(pid),
            Err(e) => {
                tally.fail(
                    args.tasks,
                    TaskError::starting(&format!("fork after {n} workers"), &e),
                );
                return Ok(children); // dropping ids_tx lets the started workers exit
            }
        }
    }
    // Feed the ids from a thread: the parent must read results at the same time, or a full
    // results pipe and a full ids pipe would wait on each other. The thread starts only
    // after the last fork, so no child inherits a half-running parent.
    let tasks = args.tasks;
    std::thread::spawn(move || {
        let mut ids = File::from(ids_tx);
        for id in 0..tasks {
            if ids.write_all(&id.to_ne_bytes()).is_err() {
                break; // every worker died; their exit status tells why
            }
        }
    });
    Ok(children)
}

/// Fork a child that runs `work` and `_exit`s: 0 if it succeeded, 1 if it could not report.
fn start_child(work: impl FnOnce() -> io::Result<()>) -> io::Result<Pid> {
    // SAFETY: the parent is single-threaded whenever it forks (the pool's feeder thread
    // starts after the last fork), so the child's copy of the heap and of every lock is
    // consistent and it may allocate and run ordinary code.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            let status = if work().is_ok() { 0 } else { 1 };
            // SAFETY: `_exit` ends the child at once, without running the parent's atexit
            // handlers or flushing stdio buffers that belong to the parent.
            unsafe { nix::libc::_exit(status) }
        }
    }
}

// A record on the results pipe: id u32, finish time u64 ns since start, pid u32, then
// either tag 0 + value u64, or tag 1 + message length u16 + message bytes. One `write`,
// under PIPE_BUF (4096) bytes, so records from many children never interleave.
const MAX_MESSAGE: usize = 2048;

fn write_record(
    pipe: &OwnedFd,
    id: u32,
    result: Result<u64, TaskError>,
    start: Instant,
) -> io::Result<()> {
    let mut record = Vec::with_capacity(64);
    record.extend(id.to_ne_bytes());
    record.extend((start.elapsed().as_nanos() as u64).to_ne_bytes());
    record.extend(std::process::id().to_ne_bytes());
    match result {
        Ok(value) => {
            record.push(0);
            record.extend(value.to_ne_bytes());
        }
        Err(e) => {
            let message = e.to_string();
            let message = &message.as_bytes()[..message.len().min(MAX_MESSAGE)];
            record.push(1);
            record.extend((message.len() as u16).to_ne_bytes());
            record.extend(message);
        }
    }
    nix::unistd::write(pipe, &record)
        .map(drop)
        .map_err(io::Error::from)
}

type Record = (u32, Result<u64, TaskError>, Instant, Runner);

fn read_record(pipe: &mut impl Read, start: Instant) -> io::Result<Option<Record>> {
    let mut head = [0u8; 17];
    match pipe.read_exact(&mut head) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let id = u32::from_ne_bytes(head[0..4].try_into().unwrap());
    let finished =
        start + Duration::from_nanos(u64::from_ne_bytes(head[4..12].try_into().unwrap()));
    let pid = u32::from_ne_bytes(head[12..16].try_into().unwrap());
    let result = if head[16] == 0 {
        let mut value = [0u8; 8];
        pipe.read_exact(&mut value)?;
        Ok(u64::from_ne_bytes(value))
    } else {
        let mut len = [0u8; 2];
        pipe.read_exact(&mut len)?;
        let mut message = vec![0u8; u16::from_ne_bytes(len) as usize];
        pipe.read_exact(&mut message)?;
        Err(TaskError::new(String::from_utf8_lossy(&message)))
    };
    Ok(Some((id, result, finished, Runner { pid, tid: pid })))
}
