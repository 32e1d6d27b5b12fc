//! `--offload`: cpu tasks run on a pool of one thread per core instead of the loop's thread,
//! and each result wakes the loop — asyncio's `run_in_executor`, written out.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use mio::Waker;
use thread_pool::ThreadPool;
use workload::{task, Args, Runner};

/// A cpu task's result as the pool sends it back.
pub type Done = (u32, u64, Instant, Runner);

/// The offload pool and the channel its results come back on.
pub struct Offload {
    pub pool: ThreadPool,
    pub results: crossbeam_channel::Receiver<Done>,
}

impl Offload {
    /// Hand every cpu task to a pool of one thread per core — the ThreadPoolExecutor analog
    /// that `threads --workers` runs on; each result comes back over a channel and wakes the
    /// loop through the waker.
    pub fn start(args: &Args, waker: &Arc<Waker>) -> io::Result<Offload> {
        let pool = ThreadPool::new(std::thread::available_parallelism()?.get())?;
        let (done, results) = crossbeam_channel::unbounded::<Done>();
        for id in 0..args.tasks {
            let (done, waker, work) = (done.clone(), waker.clone(), args.work);
            // The result travels over `done`, which the loop watches: the handle is not needed.
            drop(pool.submit(move || {
                let value = task::sha256_chain(id, work);
                let _ = done.send((id, value, Instant::now(), Runner::cached()));
                let _ = waker.wake();
            }));
        }
        Ok(Offload { pool, results })
    }
}
