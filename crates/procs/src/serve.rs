//! `procs --serve`: a forked child per connection, as inetd did; with `--workers W`, W
//! children forked up front that each accept on the inherited listening socket and serve one
//! connection at a time, as Apache's prefork and gunicorn's sync workers do.
//!
//! A child shares nothing with its parent but descriptors, so what it counted comes back as
//! bytes: one 40-byte record per child on a shared pipe (an atomic write, under PIPE_BUF).
//! The parent reaps each child as it exits — at least once a second — so none is left a
//! zombie. A `fork` refused with EAGAIN (RLIMIT_NPROC, pid_max) refuses that connection and
//! names the limit; the children already serving go on.
//!
//! Under `strace -f -c`: a `clone` (fork) and a `wait4` per connection, and each child's
//! `poll`/`recvfrom`/`sendto`.

use std::error::Error;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::pipe;
use process_pool::start_child;
use workload::limits::{headroom, Worker};
use workload::serve::blocking::{accept_each, serve_connection};
use workload::serve::stop::Woken;
use workload::serve::{self, Counters, ServeReport, Stop, Totals};
use workload::{Args, TaskError};

pub fn run(args: &Args, model: &'static str) -> Result<ServeReport, Box<dyn Error>> {
    // A pool the machine cannot hold is refused before the port is taken.
    if let Some(w) = args.workers {
        headroom(Worker::Process).admit(w.into(), "worker processes (--workers)")?;
    }
    let stop = Stop::on_signals()?;
    let listener = serve::open(args)?;
    let counters = Counters::default();
    let (results_rx, results_tx) = pipe()?;
    fcntl(&results_rx, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    let mut results = File::from(results_rx);
    let shared = Shared { args, listener: &listener, stop: &stop, counters: &counters };
    let workers = match args.workers {
        None => fork_per_connection(&shared, &results_tx, &mut results)?,
        Some(w) => prefork(&shared, w, &results_tx, &mut results)?,
    };
    // The children finish what they serve and write their counts; the pipe ends when the
    // last one exits. Then every child is reaped.
    drop(results_tx);
    fcntl(&results, FcntlArg::F_SETFL(OFlag::empty()))?;
    read_counts(&mut results, &counters)?;
    reap(None)?;
    Ok(counters.report(model, args, workers))
}

/// What the parent and every child it forks hold: the arguments, the listening socket, the
/// stop, and (the parent's) the counters.
struct Shared<'a> {
    args: &'a Args,
    listener: &'a std::net::TcpListener,
    stop: &'a Stop,
    counters: &'a Counters,
}

/// Accept here; fork a child for each connection, which serves it, writes its counts to
/// `results_tx` and exits.
fn fork_per_connection(
    shared: &Shared,
    results_tx: &OwnedFd,
    results: &mut File,
) -> Result<u32, Box<dyn Error>> {
    let Shared { args, listener, stop, counters } = *shared;
    let (mut live, mut most) = (0u32, 0u32);
    accept_each(listener, stop, counters, |stream| {
        // Housekeeping at every wake: take the children's counts, reap those that exited.
        let _ = read_counts(results, counters);
        live -= reap(Some(WaitPidFlag::WNOHANG)).unwrap_or(0);
        let Some(stream) = stream else { return Ok(()) };
        let child = || {
            let counts = serve_connection(stream, args.timeout(), stop);
            let totals = Totals {
                requests: counts.requests,
                rejected: counts.rejected,
                errors: counts.errors,
                ..Totals::default()
            };
            send(results_tx, totals)
        };
        // The parent's copy of the connection closes when `child` is dropped here.
        start_child(child)
            .map_err(|e| TaskError::starting(&format!("fork with {live} children serving"), &e))?;
        live += 1;
        most = most.max(live);
        Ok(())
    })?;
    Ok(most)
}

/// Fork W workers that accept and serve until the stop; wait here for it.
fn prefork(
    shared: &Shared,
    workers: u32,
    results_tx: &OwnedFd,
    results: &mut File,
) -> Result<u32, Box<dyn Error>> {
    let Shared { args, listener, stop, counters } = *shared;
    let mut started = Vec::with_capacity(workers as usize);
    for n in 0..workers {
        let worker = || {
            let counters = Counters::default();
            accept_each(listener, stop, &counters, |stream| {
                if let Some(stream) = stream {
                    counters.closed(serve_connection(stream, args.timeout(), stop));
                }
                Ok(())
            })?;
            send(results_tx, counters.totals())
        };
        match start_child(worker) {
            Ok(pid) => started.push(pid),
            Err(e) => {
                // The pool starts whole or not at all: the user asked for W workers.
                for pid in started {
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM);
                }
                reap(None)?;
                return Err(TaskError::starting(&format!("fork after {n} workers"), &e).into());
            }
        }
    }
    // Only a worker that ended early writes before the stop: take its counts, wait on.
    while stop.wait(results.as_fd(), false, None) != Woken::Stop {
        read_counts(results, counters)?;
    }
    Ok(workers)
}

/// A child's counts to its parent: one 40-byte write, atomic under PIPE_BUF.
fn send(results_tx: &OwnedFd, totals: Totals) -> io::Result<()> {
    nix::unistd::write(results_tx, &totals.to_bytes()).map(drop).map_err(io::Error::from)
}

/// Read every record the children have written so far.
fn read_counts(results: &mut File, counters: &Counters) -> io::Result<()> {
    let mut record = [0u8; Totals::BYTES];
    loop {
        match results.read_exact(&mut record) {
            Ok(()) => counters.add(Totals::from_bytes(&record)),
            Err(e)
                if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::UnexpectedEof) =>
            {
                return Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reap children that have exited (all of them, blocking, with `flags` None); how many.
fn reap(flags: Option<WaitPidFlag>) -> io::Result<u32> {
    let mut reaped = 0;
    loop {
        match waitpid(None, flags) {
            Ok(WaitStatus::StillAlive) => return Ok(reaped),
            Ok(_) => reaped += 1,
            Err(nix::errno::Errno::ECHILD) => return Ok(reaped),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
