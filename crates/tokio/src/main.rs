//! # tokio — tasks on tokio's multi-thread runtime
//!
//! The article's `asyncio` row, with one difference that matters: tokio's runtime has a
//! worker thread per core (`--workers` sets how many) and moves tasks between them, where
//! asyncio runs one loop on one thread. Each task is a future; `tokio::spawn` puts it on a
//! run queue, and a worker polls it until it waits on a timer or a socket, then picks up
//! another. Results are gathered in submission order, like `asyncio.gather`.
//!
//! What it costs: a heap allocation per task (its future and header, a few hundred bytes),
//! one timer entry per sleeping task, and no thread or process per task — so a million
//! sleeping tasks fit in a few hundred MiB.
//!
//! cpu tasks run on the workers themselves and block them: while W of them hash, no other
//! task on those workers (a timer, a socket) makes progress. That is fine for a batch job and
//! wrong for a server, whose latency then depends on the longest computation in flight.
//! `--offload` does what a server should: `spawn_blocking` hands each one to tokio's
//! blocking-thread pool, and the workers stay free (the article's `run_in_executor`).
//!
//! Where it stops: sleeping tasks by memory alone — a million fit, at about 460 B a task
//! under glibc (a task cell is 256 bytes aligned to 128, and glibc's `posix_memalign` wastes
//! memory on that alignment; on jemalloc it is about 280 B). Each http task holds a socket,
//! so past RLIMIT_NOFILE (hard limit 20,000 on this machine kind) `connect` fails with
//! EMFILE, those tasks fail naming the limit, and the rest finish.
//!
//! Under `strace -f -c`: `epoll_wait` on the workers (tokio's I/O and timer driver),
//! `futex` as idle workers park and wake, a handful of `clone`s for the workers, and for
//! http a non-blocking `socket`, `connect`, `epoll_ctl`, `sendto` and `recvfrom` per task.
//!
//! Where each workload lives:
//! - sleep, cpu and disk: the task of `tokio_task::one_task` (`crates/tokio-task`). On disk
//!   that is what tokio's documentation tells users to do with files: blocking calls on the
//!   blocking pool (`tokio_task::blocking_disk`, `spawn_blocking`; `tokio::fs` is itself
//!   that, a hop per call, into a buffer of its own that O_DIRECT refuses). The pool grows to
//!   512 threads by default, each read in flight holding one; `--workers W` caps it at W.
//!   Under `strace -f -c`: a `pread64` per task on the pool's threads, `futex` for every
//!   hand-off to and from them, and a `clone3` per pool thread.
//! - http: `http_get` below, a non-blocking socket written and read with `.await`.
//! - db: `db` below, a task per query on a connection of its own, or with `--workers W` on one
//!   of a pool of W (`tokio_task::db`: a semaphore and a stack of idle connections); the
//!   runtime keeps a worker per core. Under `strace -f -c`: a `sendto` and a `recvfrom` a
//!   query, and for each connection opened a `connect` and the login's few round trips.
//! - brigade: `brigade.rs`, a task per link and a channel per pair;
//! - crawl: `crawl.rs`, a task per request, a dispatcher task owning the frontier;
//! - `--serve ADDR`: `serve.rs`, a task per connection on the workers.

use std::error::Error;
use std::process::ExitCode;
use std::sync::OnceLock;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_task::blocking_disk;
use tokio_task::db::Pool;
use workload::error::io_error;
use workload::http::{self, Progress, ResponseParser};
use workload::limits::{headroom, Worker};
use workload::{Args, Report, Tally, TaskError, Width, Workload};

mod brigade;
mod crawl;
mod serve;

const MODEL: &str = "tokio";

fn main() -> ExitCode {
    workload::main(MODEL, run, serve::run)
}

/// The multi-threaded runtime: `--workers` worker threads, or one per core the process may
/// run on; and how wide the run is — its workers, and how many tasks can wait at once. On disk `--workers` sizes the blocking pool instead, tokio's
/// default being 512 threads: every read in flight holds one. The threads are checked
/// against the machine's limits before the first starts: past vm.max_map_count std would
/// abort the process mid-spawn, and tokio panics when the OS refuses it a worker.
fn runtime(args: &Args) -> Result<(tokio::runtime::Runtime, Width), Box<dyn Error>> {
    let cores = std::thread::available_parallelism()?.get() as u32;
    // Serving has no tasks to count (and `Args` holds --workers to --tasks when running).
    let tasks = if args.serve.is_some() { u32::MAX } else { args.tasks };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    let (workers, waiting, threads) = match (args.workload, args.workers) {
        (Workload::Disk, pool) => {
            let pool = pool.unwrap_or(512).min(tasks);
            builder.worker_threads(cores as usize).max_blocking_threads(pool as usize);
            (pool, pool, cores + pool)
        }
        // On db --workers sizes the pool of connections, on crawl the requests in flight, not
        // the runtime.
        (Workload::Db, pool) => {
            builder.worker_threads(cores as usize);
            (cores, pool.unwrap_or(tasks), cores)
        }
        (Workload::Crawl, _) => {
            builder.worker_threads(cores as usize);
            (cores, workload::crawl::most_in_flight(args), cores)
        }
        (_, workers) => {
            let workers = workers.unwrap_or(cores);
            builder.worker_threads(workers as usize);
            (workers, args.tasks, workers)
        }
    };
    // --offload's blocking pool starts its threads as tasks need them: tokio's 512 at most.
    let threads = threads + if args.offload { 512.min(tasks) } else { 0 };
    headroom(Worker::Thread).admit(threads.into(), "runtime threads (--workers)")?;
    Ok((builder.enable_all().build()?, Width { workers, at_once: waiting }))
}

fn run(args: &'static Args) -> Result<Report, Box<dyn Error>> {
    workload::task::prepare(args, workload::task::Holds::Here)?;
    let (runtime, width) = runtime(args)?;
    runtime.block_on(async {
        // Waiting tasks do not hold a worker, so all N can wait at once; reads hold a thread.
        let mut tally = Tally::start(MODEL, args, width);
        if args.workload == Workload::Brigade {
            brigade::run(args, &mut tally).await;
            return Ok(tally.finish());
        }
        if args.workload == Workload::Crawl {
            crawl::run(args, &mut tally).await;
            return Ok(tally.finish());
        }
        let task = |id| tokio::spawn(tokio_task::one_task(args, id, http_get, blocking_disk, db));
        let pulse = |pulse| tokio::spawn(tokio_task::pulse(pulse));
        tokio_task::run_all(args, &mut tally, task, pulse).await?;
        Ok(tally.finish())
    })
}

/// db: a connection per task, or with `--workers W` a pool of W (`tokio_task::db`).
async fn db(args: &'static Args, id: u32) -> Result<u64, TaskError> {
    static POOL: OnceLock<Option<Pool<TcpStream>>> = OnceLock::new();
    let pool = POOL.get_or_init(|| args.workers.map(Pool::new)).as_ref();
    tokio_task::db::query(pool, args, id).await
}

async fn http_get(args: &'static Args, id: u32) -> Result<u64, TaskError> {
    let addr = args.addr;
    let mut stream =
        TcpStream::connect(addr).await.map_err(|e| io_error(addr, "connect to", &e))?;
    let request = http::request(addr, id, args.ms);
    stream.write_all(&request).await.map_err(|e| io_error(addr, "write to", &e))?;
    let mut parser = ResponseParser::new();
    let mut buf = [0u8; 512];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| io_error(addr, "read from", &e))?;
        if n == 0 {
            return Ok(parser.eof()?);
        }
        if let Progress::Done(value) = parser.feed(&buf[..n])? {
            return Ok(value);
        }
    }
}
