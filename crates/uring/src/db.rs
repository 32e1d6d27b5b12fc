//! db on tokio-uring: the shared task and pool of `tokio_task::db`, over sockets whose
//! reads and writes are io_uring entries. The ring owns a buffer while its operation is in
//! flight and hands it back with the result (`wire.rs`).
//!
//! Under `strace -f -c`: `io_uring_enter` where `tokio` shows `sendto`, `recvfrom` and
//! `epoll_wait`.

use std::cell::OnceCell;
use std::rc::Rc;

use tokio_task::db::Pool;

use crate::wire::Uring;
use workload::{Args, TaskError};

thread_local! {
    /// `--workers W`'s connections, on the runtime's one thread.
    static POOL: OnceCell<Option<Rc<Pool<Uring>>>> = const { OnceCell::new() };
}

/// Task `id`'s query: a connection of its own, or one of the pool's.
pub async fn query(args: &'static Args, id: u32) -> Result<u64, TaskError> {
    let pool = POOL.with(|p| p.get_or_init(|| args.workers.map(|w| Rc::new(Pool::new(w)))).clone());
    tokio_task::db::query(pool.as_deref(), args, id).await
}
