//! # thread-pool — the ThreadPoolExecutor analog: a fixed set of threads taking jobs from one queue
//!
//! The `threads` binary runs `--workers W` on it, `epoll --offload` hands its cpu tasks to it,
//! and `crates/threads/examples/thread_executor.rs` shows it beside the other pieces the
//! article's threading section uses (a queue, a lock, `submit`, `map`). A job is any closure; `submit` returns a [`Handle`] to wait on (a `Future` in
//! Python's terms), `map` returns results in input order whatever order they finish in.

use std::panic::{self, AssertUnwindSafe};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender};

type Job = Box<dyn FnOnce() + Send>;

/// A pool of worker threads; dropping it lets queued jobs finish, then joins every worker.
pub struct ThreadPool {
    queue: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

/// The body each worker runs: take jobs until the queue closes.
pub struct Worker(Receiver<Job>);

impl Worker {
    pub fn run(self) {
        for job in self.0 {
            job();
        }
    }
}

impl ThreadPool {
    /// `workers` threads from `thread::Builder`.
    pub fn new(workers: usize) -> std::io::Result<ThreadPool> {
        ThreadPool::start(workers, |_, worker| thread::Builder::new().spawn(move || worker.run()))
    }

    /// `workers` threads, each started by `spawn(index, worker)`: the `threads` binary checks
    /// the machine's limits before each one. If one cannot start, the pool stops the ones
    /// that did and returns the error.
    pub fn start<E>(
        workers: usize,
        mut spawn: impl FnMut(usize, Worker) -> Result<JoinHandle<()>, E>,
    ) -> Result<ThreadPool, E> {
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();
        let mut pool = ThreadPool { queue: Some(queue), workers: Vec::with_capacity(workers) };
        for index in 0..workers {
            // On error, dropping `pool` closes the queue and joins the started workers.
            pool.workers.push(spawn(index, Worker(jobs.clone()))?);
        }
        Ok(pool)
    }

    /// Queue `job`; its result comes back through the handle. A panicking job does not take
    /// its worker down: the panic travels to whoever waits on the handle.
    pub fn submit<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Handle<T> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let job: Job = Box::new(move || {
            let _ = tx.send(panic::catch_unwind(AssertUnwindSafe(job)));
        });
        self.queue.as_ref().expect("open until drop").send(job).expect("workers hold the queue");
        Handle(rx)
    }

    /// `f` over `items` on the pool; results in the order of `items`.
    pub fn map<I, T>(
        &self,
        items: impl IntoIterator<Item = I>,
        f: impl Fn(I) -> T + Send + Sync + 'static,
    ) -> Vec<T>
    where
        I: Send + 'static,
        T: Send + 'static,
    {
        let f = std::sync::Arc::new(f);
        let handles: Vec<Handle<T>> = items
            .into_iter()
            .map(|item| {
                let f = f.clone();
                self.submit(move || f(item))
            })
            .collect();
        handles.into_iter().map(Handle::wait).collect()
    }

    /// `f` over `items` on the pool, each result sent on the returned channel as soon as it is
    /// ready, then `notify()` called: how an event loop hears of results without waiting for
    /// them (it watches `notify`'s eventfd or waker, then drains the channel). This is
    /// asyncio's `run_in_executor`, whose executor wakes the loop through its self-pipe.
    pub fn map_unordered<I, T>(
        &self,
        items: impl IntoIterator<Item = I>,
        f: impl Fn(I) -> T + Send + Sync + 'static,
        notify: impl Fn() + Send + Sync + 'static,
    ) -> Receiver<T>
    where
        I: Send + 'static,
        T: Send + 'static,
    {
        let (results, received) = crossbeam_channel::unbounded();
        let job = std::sync::Arc::new((f, notify));
        for item in items {
            let (job, results) = (job.clone(), results.clone());
            // The result travels over the channel, so the handle is not needed.
            drop(self.submit(move || {
                let _ = results.send((job.0)(item));
                (job.1)();
            }));
        }
        received
    }

    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Let the queued jobs finish, then join every worker (what dropping the pool does).
    pub fn join(self) {
        drop(self);
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        drop(self.queue.take());
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// A submitted job's result, to wait for.
pub struct Handle<T>(Receiver<thread::Result<T>>);

impl<T> Handle<T> {
    /// Block until the job has run; re-raise its panic here if it panicked.
    pub fn wait(self) -> T {
        match self.0.recv().expect("the pool runs every queued job before it stops") {
            Ok(value) => value,
            Err(panic) => panic::resume_unwind(panic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn map_unordered_sends_every_result_and_notifies_after_each() {
        let pool = ThreadPool::new(3).unwrap();
        let notified = Arc::new(AtomicUsize::new(0));
        let counter = notified.clone();
        let results = pool.map_unordered(
            0..20u64,
            |i| i * i,
            move || {
                counter.fetch_add(1, Ordering::SeqCst);
            },
        );
        let mut got: Vec<u64> = results.iter().take(20).collect();
        got.sort_unstable();
        assert_eq!(got, (0..20u64).map(|i| i * i).collect::<Vec<_>>());
        pool.join();
        assert_eq!(notified.load(Ordering::SeqCst), 20);
    }
}
