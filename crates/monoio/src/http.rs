//! http on monoio: connect, write the request and read the answer, each an io_uring entry on
//! the task's core, with owned buffers (the kernel holds each while its entry is in flight):
//! the shared task of `tokio_task::wire` over monoio's socket (`wire.rs`), the whole request
//! bounded by `--timeout-ms` on monoio's timer.

use tokio_task::wire::http_get;
use workload::{Args, TaskError};

use crate::wire::Monoio;

pub async fn get(args: &'static Args, id: u32) -> Result<u64, TaskError> {
    match monoio::time::timeout(args.timeout(), http_get::<Monoio>(args, id)).await {
        Ok(result) => result,
        Err(_) => Err(TaskError::timed_out("the request", args.timeout())),
    }
}
