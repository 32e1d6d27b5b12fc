//! db on monoio: the shared task and pool of `tokio_task::db`, over monoio sockets whose
//! reads and writes are io_uring entries with owned buffers, each query bounded on the core's
//! own timer. With `--workers W` each core keeps its share of the W connections (W mod R of
//! them one more), and its tasks take turns on those alone: no connection crosses a core.

use std::cell::RefCell;
use std::rc::Rc;

use tokio_task::db::Pool;
use workload::{Args, TaskError};

use crate::cores::Core;
use crate::wire::Monoio;

thread_local! {
    /// This core's share of `--workers W`'s connections.
    static POOL: RefCell<Option<Rc<Pool<Monoio>>>> = const { RefCell::new(None) };
}

/// On the core's thread, before its tasks: its share of the pool, if there is one.
pub fn open(args: &Args, core: Core) {
    let share = args.workers.map(|w| w / core.of + u32::from(core.index < w % core.of));
    POOL.set(share.map(|w| Rc::new(Pool::new(w.max(1)))));
}

/// Task `id`'s query: a connection of its own, or one of its core's pool.
pub async fn query(args: &'static Args, id: u32) -> Result<u64, TaskError> {
    let pool = POOL.with_borrow(|p| p.clone());
    tokio_task::db::query(pool.as_deref(), args, id).await
}
