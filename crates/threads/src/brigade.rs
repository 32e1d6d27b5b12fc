//! The brigade on threads: a thread per task, each blocked until its token comes, then
//! handing it to the next thread and blocking again — every hand-off a wake-up of another
//! thread by the kernel. The token goes through a `crossbeam` channel per pair (a futex
//! wake when the receiver sleeps), or with `--pipes` through a pipe per pair, as the anchor
//! does (a `write` that wakes the reader in its `read`).
//!
//! Under `strace -f -c`: a `clone3` per thread, and per hand-off a `futex` wake and wait on
//! the channel, or with `--pipes` a `write` and a `read`.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use workload::brigade::{self, Circle};
use workload::{Args, Done, Runner, Tally, TaskError};

/// What stops a thread whose circle could not be completed: no counter is this large.
const STOP: u64 = u64::MAX;

/// One task's two ends: where its token comes from, and where it passes it.
enum Link {
    Channel(Receiver<u64>, Sender<u64>),
    Pipe(OwnedFd, Arc<OwnedFd>),
}

impl Link {
    fn receive(&self) -> std::io::Result<u64> {
        match self {
            Link::Channel(rx, _) => rx.recv().map_err(|_| std::io::ErrorKind::BrokenPipe.into()),
            Link::Pipe(read, _) => brigade::receive(read),
        }
    }

    fn send(&self, c: u64) -> std::io::Result<()> {
        match self {
            Link::Channel(_, tx) => tx.send(c).map_err(|_| std::io::ErrorKind::BrokenPipe.into()),
            Link::Pipe(_, write) => brigade::send(write, c),
        }
    }
}

pub fn run(
    args: &Args,
    tally: &mut Tally,
    start: impl Fn(u64, Box<dyn FnOnce() + Send>) -> Result<JoinHandle<()>, TaskError>,
) {
    let circle = Circle::of(args);
    // The ends of every pair; `inbox[i]` hands task i its token, and starts the circle at 0.
    let (mut links, inbox) = match links(circle, args.pipes) {
        Ok(made) => made,
        Err(e) => return tally.fail(circle.tasks, e),
    };
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<Done>();
    let started = tally.start; // every task of the circle starts with the run
    let mut threads = Vec::with_capacity(circle.tasks as usize);
    for (i, link) in (0..).zip(links.drain(..)) {
        let done = done_tx.clone();
        let job = Box::new(move || {
            let result = one_task(circle, &link);
            let (ended, runner) = (Instant::now(), Runner::here());
            let _ = done.send(Done { id: i, result, started, ended, runner });
        });
        match start(threads.len() as u64, job) {
            Ok(handle) => threads.push(handle),
            Err(e) => {
                // The circle is broken: tell every thread started to stop, then fail them all.
                (0..threads.len()).for_each(|t| drop(inbox.send(t as u32, STOP)));
                threads.into_iter().for_each(|t| drop(t.join()));
                return tally.fail(circle.tasks, e);
            }
        }
    }
    tally.sample_threads(); // every thread of the circle is up
    drop(done_tx);
    if let Err(e) = inbox.send(0, 0) {
        return tally.fail(circle.tasks, TaskError::starting("starting the circle", &e));
    }
    for done in done_rx {
        tally.record(done);
    }
    threads.into_iter().for_each(|t| drop(t.join()));
}

/// Task `i`: receive `--laps` tokens, each passed on plus one but the very last.
fn one_task(circle: Circle, link: &Link) -> Result<u64, TaskError> {
    let mut value = 0u64;
    for _ in 0..circle.laps {
        let c = link.receive().map_err(|e| TaskError::starting("receiving the token", &e))?;
        if c == STOP {
            return Err(TaskError::new("the circle was stopped"));
        }
        value = value.wrapping_add(c);
        if let Some(next) = circle.pass_on(c) {
            link.send(next).map_err(|e| TaskError::starting("passing the token", &e))?;
        }
    }
    Ok(value)
}

/// Where the driver can hand any task a token: the sending end of its channel or pipe.
enum Inbox {
    Channels(Vec<Sender<u64>>),
    Pipes(Vec<Arc<OwnedFd>>),
}

impl Inbox {
    fn send(&self, i: u32, c: u64) -> std::io::Result<()> {
        match self {
            Inbox::Channels(tx) => {
                tx[i as usize].send(c).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
            }
            Inbox::Pipes(write) => brigade::send(&write[i as usize], c),
        }
    }
}

/// Each task's link — its own receiving end, and the sending end of the next task's — and
/// the driver's inbox.
fn links(circle: Circle, pipes: bool) -> Result<(Vec<Link>, Inbox), TaskError> {
    let n = circle.tasks as usize;
    if pipes {
        let (reads, writes): (Vec<_>, Vec<_>) =
            brigade::pipes(circle.tasks, false)?.into_iter().map(|(r, w)| (r, Arc::new(w))).unzip();
        let links =
            reads.into_iter().enumerate().map(|(i, r)| Link::Pipe(r, writes[(i + 1) % n].clone()));
        return Ok((links.collect(), Inbox::Pipes(writes)));
    }
    let (tx, rx): (Vec<_>, Vec<_>) = (0..n).map(|_| crossbeam_channel::bounded(1)).unzip();
    let links =
        rx.into_iter().enumerate().map(|(i, rx)| Link::Channel(rx, tx[(i + 1) % n].clone()));
    Ok((links.collect(), Inbox::Channels(tx)))
}
