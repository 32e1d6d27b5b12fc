//! Work handed off a hand-written loop (`epoll`, `ring`) to a pool of threads, each result
//! waking the loop: how a loop runs what would block it (cpu tasks with `--offload`,
//! `epoll`'s file reads).

use crossbeam_channel::Receiver;
use thread_pool::ThreadPool;

use crate::loop_tasks::LoopTasks;
use crate::{Args, Done, TaskError};

/// Work handed off the loop: every task's `job` on a pool of threads, and after each
/// result a `wake` that the loop waits for (an eventfd it polls or reads on its ring). The
/// ThreadPoolExecutor analog that `threads --workers` runs on, used the way asyncio's
/// `run_in_executor` and libuv's file pool use theirs.
pub struct Offload {
    /// Dropped with the part, after the report: its threads are joined then.
    _pool: ThreadPool,
    results: Receiver<Done>,
}

impl Offload {
    /// `threads` threads (never more than there are tasks), each task's `job` timed and named
    /// on the thread that runs it. A pool that would cross a limit is refused before its
    /// first thread starts.
    pub fn start(
        threads: usize,
        tasks: u32,
        job: impl Fn(u32) -> Result<u64, TaskError> + Send + Sync + 'static,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<Offload> {
        let threads = threads.min(tasks as usize);
        let headroom = crate::limits::headroom(crate::limits::Worker::Thread);
        headroom.admit(threads as u64, "worker threads (--workers)")?;
        let pool = ThreadPool::new(threads)?;
        let results = pool.map_unordered(0..tasks, move |id| Done::timed(id, || job(id)), wake);
        Ok(Offload { _pool: pool, results })
    }

    /// The pool for cpu tasks with `--offload`: `--workers` threads, or one per core.
    pub fn threads_for_cpu(args: &Args) -> std::io::Result<usize> {
        match args.workers {
            Some(w) => Ok(w as usize),
            None => Ok(std::thread::available_parallelism()?.get()),
        }
    }

    /// Every result that has arrived, into the tally.
    pub fn take_results(&self, tasks: &mut LoopTasks) {
        self.results.try_iter().for_each(|done| tasks.record(done));
    }
}
