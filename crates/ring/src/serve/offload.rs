//! `--offload` for the ring's server: `/cpu` hashed on a pool of one thread per core; each
//! result is sent back with its connection's slot, and a write to an eventfd — whose READ
//! the loop keeps posted on the ring (`wake.rs`) — wakes the loop for it.

use crossbeam_channel::{Receiver, Sender};
use thread_pool::ThreadPool;

use crate::wake::Wake;

pub struct Offload {
    pub pool: ThreadPool,
    done: Sender<(usize, u64)>,
    /// (slot, value) for each `/cpu` hashed.
    pub results: Receiver<(usize, u64)>,
    pub wake: Wake,
}

impl Offload {
    pub fn start() -> std::io::Result<Offload> {
        let pool = ThreadPool::new(std::thread::available_parallelism()?.get())?;
        let (done, results) = crossbeam_channel::unbounded();
        Ok(Offload { pool, done, results, wake: Wake::new()? })
    }

    /// Hash `/cpu` of connection `slot` on the pool; the eventfd wakes the loop for it.
    pub(super) fn hash(&self, slot: usize, id: u32, work: u32) {
        let (done, wake) = (self.done.clone(), self.wake.notifier());
        self.pool.submit(move || {
            let _ = done.send((slot, workload::task::sha256_chain(id, work)));
            wake();
        });
    }
}
