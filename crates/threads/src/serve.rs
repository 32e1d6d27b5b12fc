//! `threads --serve`: a thread per connection, or with `--workers W` a pool of W threads
//! that each accept on the shared listening socket and serve one connection at a time.
//!
//! Each connection thread blocks — in `poll` then `read`, in `thread::sleep` for a `/query`
//! delay, on the CPU for `/cpu` — and the kernel interleaves them. A thread costs what it
//! costs in the task model (a stack, 4 mappings, a kernel task), held for as long as its
//! client stays connected, idle or not: keep-alive clients are what exhaust a
//! thread-per-connection server. When the next thread would cross vm.max_map_count (read
//! beforehand: std aborts past it) or `clone` fails with EAGAIN (RLIMIT_NPROC, threads-max),
//! that connection is refused, the limit named, and the threads already serving go on.
//!
//! Under `strace -f -c`: a `clone3` per connection, then `poll`/`recvfrom`/`sendto` per
//! request.

use std::error::Error;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use workload::limits::{headroom, mapping_headroom, Headroom, Worker};
use workload::serve::blocking::{accept_each, serve_connection};
use workload::serve::{self, Counters, ServeReport, Stop};
use workload::{Args, TaskError};

pub fn run(args: &Args, model: &'static str) -> Result<ServeReport, Box<dyn Error>> {
    // A pool the machine cannot hold is refused before the port is taken.
    if let Some(w) = args.workers {
        headroom(Worker::Thread).admit(w.into(), "worker threads (--workers)")?;
    }
    let stop = Arc::new(Stop::on_signals()?);
    let listener = Arc::new(serve::open(args)?);
    let counters = Arc::new(Counters::default());
    let workers = match args.workers {
        None => thread_per_connection(args, &listener, &stop, &counters)?,
        Some(workers) => pool(args, workers, &listener, &stop, &counters)?,
    };
    Ok(counters.report(model, args, workers))
}

/// Accept on this thread; serve each connection on a thread of its own. Returns when every
/// connection thread has finished.
fn thread_per_connection(
    args: &Args,
    listener: &std::net::TcpListener,
    stop: &Arc<Stop>,
    counters: &Arc<Counters>,
) -> Result<u32, Box<dyn Error>> {
    // Only the mapping limit is checked beforehand (std aborts past it); for the others,
    // which move with the rest of the machine over a server's life, `clone` says EAGAIN.
    let headroom = mapping_headroom().unwrap_or_else(Headroom::unknown);
    let live = Arc::new(AtomicU64::new(0));
    // Each connection thread holds a sender; when the last one is gone, all have finished.
    let (alive, all_done) = crossbeam_channel::bounded::<()>(0);
    let mut most = 0;
    accept_each(listener, stop, counters, |stream| {
        let Some(stream) = stream else { return Ok(()) };
        let running = live.load(Ordering::Relaxed);
        if running >= headroom.threads {
            return Err(TaskError {
                message: format!("{running} connection threads are running"),
                limit: Some(headroom.limit.clone()),
            });
        }
        let (stop, counters, still_live, alive, timeout) =
            (stop.clone(), counters.clone(), live.clone(), alive.clone(), args.timeout());
        live.fetch_add(1, Ordering::Relaxed);
        most = most.max(running + 1);
        let serve = move || {
            counters.closed(serve_connection(stream, timeout, &stop));
            still_live.fetch_sub(1, Ordering::Relaxed);
            drop(alive);
        };
        thread::Builder::new().spawn(serve).map(drop).map_err(|e| {
            live.fetch_sub(1, Ordering::Relaxed);
            TaskError::starting(&format!("thread::spawn with {running} running"), &e)
        })
    })?;
    drop(alive);
    let _ = all_done.recv(); // Err once every connection thread has dropped its sender
    Ok(most.min(u32::MAX.into()) as u32)
}

/// W threads, each accepting and serving one connection at a time: a connection waits in
/// the accept queue until a worker is free. The pool is started whole or not at all.
fn pool(
    args: &Args,
    workers: u32,
    listener: &Arc<std::net::TcpListener>,
    stop: &Arc<Stop>,
    counters: &Arc<Counters>,
) -> Result<u32, Box<dyn Error>> {
    let mut handles = Vec::with_capacity(workers as usize);
    for n in 0..workers {
        let (listener, stop, counters, timeout) =
            (listener.clone(), stop.clone(), counters.clone(), args.timeout());
        let worker = move || {
            accept_each(&listener, &stop, &counters, |stream| {
                if let Some(stream) = stream {
                    counters.closed(serve_connection(stream, timeout, &stop));
                }
                Ok(())
            })
        };
        let handle = thread::Builder::new()
            .spawn(worker)
            .map_err(|e| TaskError::starting(&format!("thread::spawn after {n} workers"), &e))?;
        handles.push(handle);
    }
    for handle in handles {
        handle.join().map_err(|_| "a worker thread panicked")??;
    }
    Ok(workers)
}
