//! The loop's state — the tasks and their timers, the sockets, the waker — and one handler
//! for each thing it waits on: a timer falls due, a socket is ready, the pool wakes it.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;
use mio::{Poll, Token, Waker};
use thread_pool::ThreadPool;
use workload::loop_tasks::{LoopTasks, Offloaded};
use workload::{task, Args, Report, Runner, Workload};

use crate::brigade::Brigade;
use crate::connection::Connection;
use crate::db::Db;

/// The waker's token; a socket's token is its task's id.
pub const WAKER: Token = Token(usize::MAX);

/// disk: the threads that read the file for the loop unless `--workers` says otherwise:
/// libuv's default pool, so that this loop and Node's read files alike.
pub const FILE_THREADS: u32 = 4;

/// Everything the loop waits on, and the tasks waiting on it.
pub struct EventLoop {
    /// The epoll instance: every socket and the waker are registered with it.
    pub poll: Poll,
    /// The tally, the timer heap, the cpu tasks waiting for the loop's thread, the pulse:
    /// what `epoll` shares with `ring`.
    pub tasks: LoopTasks,
    /// The http tasks' sockets by task id; `None` once the task is done (dropping it closes
    /// the socket), so a deadline or a late event for it finds nothing to do.
    sockets: Vec<Option<Connection>>,
    /// With `--offload`, or on disk: the pool that runs cpu tasks or file reads, and the
    /// results it sends back.
    offload: Option<(ThreadPool, Receiver<Offloaded>)>,
    /// The brigade: a pipe per task, each registered under its task's token.
    brigade: Option<Brigade>,
    /// db: the connections to PostgreSQL and the tasks waiting for one.
    db: Option<Db>,
    /// An eventfd registered as [`WAKER`]: the pool writes to it after each result. The loop
    /// keeps its own handle, for were the last worker to close the eventfd, epoll would
    /// forget an event it had not yet handed out.
    waker: Arc<Waker>,
}

impl EventLoop {
    /// The loop for `args`; the tasks' clock, in `model`'s name, starts last.
    pub fn new(model: &'static str, args: Args) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let tasks = match args.workload {
            Workload::Disk => {
                let threads = args.workers.unwrap_or(FILE_THREADS);
                LoopTasks::start(model, args, threads, threads)
            }
            Workload::Db => LoopTasks::start(model, args, 1, args.workers.unwrap_or(args.tasks)),
            _ => LoopTasks::start(model, args, 1, args.tasks),
        };
        let (sockets, offload, brigade, db) = (Vec::new(), None, None, None);
        Ok(EventLoop { poll, tasks, sockets, offload, brigade, db, waker })
    }

    /// Start what the tasks cannot start alone: a socket per request, the pool for
    /// `--offload`.
    pub fn start_io(&mut self) -> io::Result<()> {
        let args = self.tasks.args;
        if args.workload == Workload::Http {
            self.sockets.resize_with(args.tasks as usize, || None);
            for id in 0..args.tasks {
                match Connection::open(self.poll.registry(), &args, id) {
                    Ok(conn) => self.sockets[id as usize] = Some(conn),
                    Err(e) => self.tasks.finish(id, Err(e)),
                }
                self.tasks.set_deadline(id);
            }
        }
        if args.workload == Workload::Db {
            self.db = Some(Db::start(self.poll.registry(), &mut self.tasks));
        }
        if args.offload {
            // cpu: a pool of one thread per core, or --workers.
            let threads = match args.workers {
                Some(w) => w as usize,
                None => std::thread::available_parallelism()?.get(),
            };
            self.offload =
                Some(self.start_pool(threads, move |id| Ok(task::sha256_chain(id, args.work)))?);
        }
        if args.workload == Workload::Brigade {
            let ring = workload::brigade::Ring::of(&args);
            match Brigade::start(self.poll.registry(), ring) {
                Ok(brigade) => self.brigade = Some(brigade),
                Err(e) => (0..args.tasks).for_each(|id| self.tasks.finish(id, Err(e.clone()))),
            }
        }
        if args.workload == Workload::Disk {
            // A file cannot be registered with epoll (EPERM: it is always "ready"), so its
            // reads block a thread: `--workers` threads, libuv's 4 by default.
            let threads = args.workers.unwrap_or(FILE_THREADS) as usize;
            self.offload = Some(self.start_pool(threads, move |id| task::run_blocking(&args, id))?);
        }
        Ok(())
    }

    /// Every task to a pool of `threads` — the ThreadPoolExecutor analog that `threads
    /// --workers` runs on; each result wakes the loop through the waker. For cpu with
    /// `--offload` and for every disk task: what libuv does with files, and asyncio's
    /// `run_in_executor`.
    fn start_pool(
        &self,
        threads: usize,
        job: impl Fn(u32) -> Result<u64, workload::TaskError> + Send + Sync + 'static,
    ) -> io::Result<(ThreadPool, Receiver<Offloaded>)> {
        let pool = ThreadPool::new(threads)?;
        let (args, waker) = (self.tasks.args, self.waker.clone());
        let timed = move |id| {
            let started = std::time::Instant::now();
            let result = job(id);
            (id, result, started, std::time::Instant::now(), Runner::cached())
        };
        let results = pool.map_unordered(0..args.tasks, timed, move || {
            let _ = waker.wake();
        });
        Ok((pool, results))
    }

    /// How long `epoll_wait` may sleep: until the tasks' next timer (not at all while cpu
    /// tasks wait), or until a socket or the waker wakes it.
    pub fn timeout(&self) -> Option<Duration> {
        self.tasks.wait_at_most()
    }

    /// Every timer that is due: sleeps end and the pulse ticks in the tasks; a request still
    /// open at its deadline has timed out, and closing its socket is all it takes.
    pub fn fire_due_timers(&mut self) {
        while let Some(id) = self.tasks.next_deadline() {
            if let Some(db) = &mut self.db {
                db.on_deadline(self.poll.registry(), &mut self.tasks, id);
            } else if self.sockets[id as usize].take().is_some() {
                self.tasks.time_out(id);
            }
        }
    }

    pub fn on_socket_ready(&mut self, id: u32) {
        if let Some(brigade) = &mut self.brigade {
            for (task, result) in brigade.on_ready(id) {
                self.tasks.finish(task, result);
            }
            return;
        }
        if let Some(db) = &mut self.db {
            return db.on_ready(self.poll.registry(), &mut self.tasks, id as usize);
        }
        let Some(conn) = self.sockets[id as usize].as_mut() else {
            return; // finished, or timed out, before this event was handed out
        };
        if let Some(result) = conn.advance() {
            self.sockets[id as usize] = None;
            self.tasks.finish(id, result);
        }
    }

    /// The pool has results: take every one that has arrived.
    pub fn on_wake(&mut self) {
        let Some((_, results)) = &self.offload else { return };
        results.try_iter().for_each(|done| self.tasks.finish_offloaded(done));
    }

    /// Stop the clock and report; then join the pool's threads, if there was one.
    pub fn finish(self) -> Report {
        let report = self.tasks.report();
        if let Some((pool, _)) = self.offload {
            pool.join();
        }
        report
    }
}
