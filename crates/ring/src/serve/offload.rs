//! `--offload` for the ring's server: `/cpu` hashed on a pool of one thread per core; each
//! result is sent back with its connection's slot, and a write to an eventfd — whose READ
//! the loop keeps posted on the ring — wakes the loop for it.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use thread_pool::ThreadPool;

pub struct Offload {
    pub pool: ThreadPool,
    done: Sender<(usize, u64)>,
    /// (slot, value) for each `/cpu` hashed.
    pub results: Receiver<(usize, u64)>,
    pub eventfd: Arc<OwnedFd>,
    /// Where the eventfd READ puts the count: the loop's while the read is in flight.
    pub count: Box<u64>,
}

impl Offload {
    pub fn start() -> std::io::Result<Offload> {
        let eventfd = crate::queues::eventfd()?;
        let pool = ThreadPool::new(std::thread::available_parallelism()?.get())?;
        let (done, results) = crossbeam_channel::unbounded();
        Ok(Offload { pool, done, results, eventfd, count: Box::new(0) })
    }

    /// Hash `/cpu` of connection `slot` on the pool; the eventfd wakes the loop for it.
    pub(super) fn hash(&self, slot: usize, id: u32, work: u32) {
        let (done, wake) = (self.done.clone(), self.eventfd.clone());
        self.pool.submit(move || {
            let _ = done.send((slot, workload::task::sha256_chain(id, work)));
            let _ = nix::unistd::write(&*wake, &1u64.to_ne_bytes());
        });
    }
}
