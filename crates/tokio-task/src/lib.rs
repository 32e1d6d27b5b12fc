//! # tokio-task — what one task does on tokio's timer and blocking pool
//!
//! Shared by `tokio` and `uring`: the two differ in their runtime and in how a socket moves
//! bytes, not in this. Each passes its own `http_get`, and its [`wire::Wire`]; everything else a task does is here
//! once: [`one_task`], [`gather`] (asyncio's `gather`), and the loop's [`pulse`].
//!
//! The db task and the crawl (`db`, `crawl`) are shared with `monoio` too: they wait on a
//! [`Timer`], which is tokio's wheel here and monoio's own there.
//!
//! It is its own crate, not a module of `workload`, so that the models that block
//! (`serial`, `procs`, `threads`) do not link tokio.

pub mod brigade;
pub mod crawl;
pub mod db;
pub mod serving;
pub mod wire;

use std::future::Future;
use std::time::Instant;

use workload::measure::Pulse;
use workload::{task, Args, Done, Runner, Tally, TaskError, Workload};

/// The timer a runtime waits on: tokio's wheel for `tokio` and `uring`, monoio's own for
/// `monoio`. The shared db task and crawl wait on it, and on nothing else of a runtime.
pub trait Timer {
    fn sleep_until(at: Instant) -> impl Future<Output = ()>;
    /// `work`'s output, or `None` if `after` passed first.
    fn timeout<F: Future>(
        after: std::time::Duration,
        work: F,
    ) -> impl Future<Output = Option<F::Output>>;
}

/// tokio's timer wheel.
pub struct TokioTimer;

impl Timer for TokioTimer {
    fn sleep_until(at: Instant) -> impl Future<Output = ()> {
        tokio::time::sleep_until(at.into())
    }

    async fn timeout<F: Future>(after: std::time::Duration, work: F) -> Option<F::Output> {
        tokio::time::timeout(after, work).await.ok()
    }
}

/// A task's end as its tokio task returns it: a [`workload::Done`] but for its id, which
/// `gather` knows, and with `started: None` for a task that started with the run — so that
/// no `Instant` is held across a sleep's or a request's awaits (at a million tasks, 16 MB).
pub struct Outcome {
    pub result: Result<u64, TaskError>,
    pub started: Option<Instant>,
    pub ended: Instant,
    pub runner: Runner,
}

impl Outcome {
    /// `result`, now, on this thread, from `started`.
    pub fn now(result: Result<u64, TaskError>, started: Option<Instant>) -> Outcome {
        Outcome { result, started, ended: Instant::now(), runner: Runner::cached() }
    }
}

/// Task `id`: sleep on tokio's timer, one request through the model's `http_get` or one
/// query through its `db` (each bounded by `--timeout-ms`), one block of the data file through the model's `disk`, or a SHA-256
/// chain — on the loop's own thread, or with `--offload` on tokio's blocking pool
/// (`spawn_blocking`, the article's `run_in_executor`).
///
/// The three are taken as types of their own, not `fn` pointers: a function item has no size,
/// where three pointers are 24 bytes in every task's future — a sleeping one's too — and that
/// was enough to grow tokio's task cell, which is aligned to 128 bytes, from 256 to 384 bytes.
pub async fn one_task<F, D, Q>(
    args: &'static Args,
    id: u32,
    http_get: impl FnOnce(&'static Args, u32) -> F,
    disk: impl FnOnce(&'static Args, u32) -> D,
    db: impl FnOnce(&'static Args, u32) -> Q,
) -> Outcome
where
    F: Future<Output = Result<u64, TaskError>> + 'static,
    D: Future<Output = Outcome> + 'static,
    Q: Future<Output = Result<u64, TaskError>> + 'static,
{
    // When the task started: with the run for a sleep or a request (so that no `Instant`
    // is held across their awaits: at a million tasks it would be 16 MB), when the hashing
    // began for cpu.
    let (result, started) = match args.workload {
        Workload::Sleep => {
            tokio::time::sleep(args.sleep()).await;
            (Ok(task::sleep_value(id)), None)
        }
        // Boxed: a task's future is as large as its largest branch, and a sleeping task
        // should not carry the room for a socket, a buffer and a parser.
        Workload::Http => {
            let result = Box::pin(async move {
                match tokio::time::timeout(args.timeout(), http_get(args, id)).await {
                    Ok(result) => result,
                    Err(_) => Err(TaskError::timed_out("the request", args.timeout())),
                }
            })
            .await;
            (result, None)
        }
        // A query through the model's `db`, which bounds it by `--timeout-ms` once it holds
        // a connection: the wait for one of the pool's is not the query's.
        Workload::Db => (Box::pin(db(args, id)).await, None),
        // The model times the operation itself: it may wait for a slot before it starts.
        Workload::Disk => return Box::pin(disk(args, id)).await,
        // The brigade's links and the crawl's URLs are the model's own tasks, not one_task's.
        Workload::Brigade => (Err(TaskError::new("a brigade task runs only in its circle")), None),
        Workload::Crawl => (Err(TaskError::new("a crawl task runs only in its crawl")), None),
        Workload::Cpu if args.offload => {
            return on_blocking_pool(move || Ok(task::sha256_chain(id, args.work))).await
        }
        Workload::Cpu => {
            let started = Instant::now();
            (Ok(task::sha256_chain(id, args.work)), Some(started))
        }
    };
    Outcome::now(result, started)
}

/// disk on tokio: the blocking `pread` (or `pwrite`) on tokio's blocking pool, which is what
/// tokio's documentation tells a user to do with files — `tokio::fs` is `spawn_blocking`
/// itself, one hop per call, and its reads go through a buffer of its own that O_DIRECT would
/// refuse. Timed and named on the pool's thread, where the read blocks.
pub async fn blocking_disk(args: &'static Args, id: u32) -> Outcome {
    on_blocking_pool(move || task::run_blocking(args, id)).await
}

/// Run `job` on tokio's blocking pool, timed and named on the pool's thread, where it runs.
async fn on_blocking_pool(
    job: impl FnOnce() -> Result<u64, TaskError> + Send + 'static,
) -> Outcome {
    let timed = move || {
        let started = Instant::now();
        Outcome::now(job(), Some(started))
    };
    tokio::task::spawn_blocking(timed).await.unwrap_or_else(|e| {
        let lost = TaskError::new(format!("the blocking pool lost the task: {e}"));
        Outcome::now(Err(lost), None)
    })
}

/// Every task of the run, each started by `spawn_task` on the model's runtime, and on cpu
/// the loop's pulse beside them, started first by `spawn_pulse` so that it is waiting on its
/// timer before any task can block the loop; then gathered.
pub async fn run_all(
    args: &Args,
    tally: &mut Tally,
    spawn_task: impl FnMut(u32) -> tokio::task::JoinHandle<Outcome>,
    spawn_pulse: impl FnOnce(Pulse) -> tokio::task::JoinHandle<()>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut handles = workload::limits::room_for(args.tasks as usize, "tasks' join handles")?;
    let pulse = Pulse::default();
    let ticker = (args.workload == Workload::Cpu).then(|| (spawn_pulse(pulse.clone()), pulse));
    handles.extend((0..args.tasks).map(spawn_task));
    Ok(gather(tally, handles, ticker).await?)
}

/// `asyncio.gather`: wait for every task in submission order, whatever order they finish
/// in, then stop the loop's pulse (if it ran) and note how late it ticked.
pub async fn gather(
    tally: &mut Tally,
    handles: Vec<tokio::task::JoinHandle<Outcome>>,
    pulse: Option<(tokio::task::JoinHandle<()>, Pulse)>,
) -> Result<(), tokio::task::JoinError> {
    for (id, handle) in (0..).zip(handles) {
        let Outcome { result, started, ended, runner } = handle.await?;
        let started = started.unwrap_or(tally.start);
        tally.record(Done { id, result, started, ended, runner });
    }
    if let Some((ticker, pulse)) = pulse {
        ticker.abort();
        tally.loop_pulse(&pulse);
    }
    Ok(())
}

/// Tick `pulse` every [`Pulse::PERIOD`] on the current tokio runtime, forever; abort the task
/// to stop it. A tick that wakes late was held up by whatever else ran on the loop.
pub async fn pulse(pulse: Pulse) {
    loop {
        let due = tokio::time::Instant::now() + Pulse::PERIOD;
        pulse.expect(due.into_std());
        tokio::time::sleep_until(due).await;
        pulse.tick();
    }
}

/// `--serve`: a stop asked by SIGINT or SIGTERM, which every connection of `tokio` and
/// `uring` watches: `true` once asked.
pub fn stop_on_signals() -> std::io::Result<tokio::sync::watch::Receiver<bool>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _ = stop.send(true);
    });
    Ok(stopping)
}

/// A `/cpu` request's hash: on the loop's thread, blocking it, or with `--offload` on
/// tokio's blocking pool — `run_in_executor`, server side.
pub async fn hash(offload: bool, id: u32, work: u32) -> u64 {
    if offload {
        let hashed = tokio::task::spawn_blocking(move || task::sha256_chain(id, work)).await;
        hashed.unwrap_or_else(|_| task::sha256_chain(id, work))
    } else {
        task::sha256_chain(id, work)
    }
}

/// `--serve` in `tokio` and `uring`: accept with `accept` until SIGINT or SIGTERM, and hand
/// each connection to `spawn` with the stop to watch and a token to drop when it is done;
/// then wait until every token is dropped. At EMFILE a connection is refused through
/// `listener` (the spare descriptor's trick), and with none queued the loop waits 10 ms:
/// accept fails at EMFILE even when no client is waiting, and would spin.
pub async fn accept_until_stopped<S, Fut>(
    listener: std::os::fd::BorrowedFd<'_>,
    mut accept: impl FnMut() -> Fut,
    counters: &workload::serve::Counters,
    mut spawn: impl FnMut(S, tokio::sync::watch::Receiver<bool>, Alive),
) -> std::io::Result<()>
where
    Fut: Future<Output = std::io::Result<(S, std::net::SocketAddr)>>,
{
    use workload::serve::listen::{out_of_descriptors, Spare};
    let mut stopping = stop_on_signals()?;
    let mut spare = Spare::new()?;
    let (alive, mut all_done) = tokio::sync::mpsc::channel::<()>(1);
    loop {
        tokio::select! {
            _ = stopping.changed() => break,
            accepted = accept() => match accepted {
                Ok((stream, _)) => {
                    counters.accepted();
                    spawn(stream, stopping.clone(), Alive { _held: alive.clone() });
                }
                Err(e) if out_of_descriptors(&e) => {
                    if !spare.refuse(&e, counters, listener) {
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
                Err(_) => {} // a connection reset while in the accept queue
            },
        }
    }
    drop(alive);
    let _ = all_done.recv().await; // None once every connection has dropped its token
    Ok(())
}

/// Held by a connection's task while it serves; dropped, it says the task is done.
pub struct Alive {
    _held: tokio::sync::mpsc::Sender<()>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request and a read whose futures hold 4 KiB across an await.
    async fn request(_: &'static Args, _: u32) -> Result<u64, TaskError> {
        let room = [0u8; 4096];
        tokio::task::yield_now().await;
        Ok(std::hint::black_box(&room)[0].into())
    }

    async fn read(args: &'static Args, id: u32) -> Outcome {
        Outcome::now(request(args, id).await, None)
    }

    static ARGS: std::sync::LazyLock<Args> =
        std::sync::LazyLock::new(|| clap::Parser::parse_from(["tokio-task"]));

    /// A sleeping task carries its timer, not the room of the other workloads' futures: they
    /// are boxed, and the functions that make them take no space. Past 152 bytes, tokio's
    /// task cell (aligned to 128) grows from 256 bytes to 384: a million tasks, 128 MB more.
    #[test]
    fn a_sleeping_task_is_its_timer_and_little_else() {
        let task = one_task(&ARGS, 0, request, read, request);
        let size = std::mem::size_of_val(&task);
        let timer = std::mem::size_of::<tokio::time::Sleep>();
        assert!(size <= timer + 32, "one_task's future is {size} bytes, its timer {timer}");
    }
}
