//! disk on the readiness loop: epoll has nothing to wait for. `epoll_ctl` refuses a regular
//! file (EPERM — a file is always "ready", and its `pread` blocks in the kernel until the
//! device answers; the tests show it). So the loop does what libuv, and so Node, does: it
//! hands each read to a pool of threads (4 by default, libuv's number; `--workers W` for W),
//! and each result wakes the loop through the waker.
//!
//! Under `strace -f -c`: `pread64` on the pool's threads, `futex` and the eventfd's `write`
//! per result, and the loop's `epoll_wait`.

use std::io;

use mio::Token;
use workload::offload::Offload;
use workload::{task, Width};

use crate::event_loop::{Cx, Part, WAKER};

/// The threads that read the file for the loop unless `--workers` says otherwise: libuv's
/// default pool, so that this loop and Node's read files alike.
pub const FILE_THREADS: u32 = 4;

pub struct Disk {
    threads: Offload,
}

impl Disk {
    pub fn start(cx: &mut Cx) -> io::Result<Disk> {
        let args = cx.tasks.args;
        let threads = args.workers.unwrap_or(FILE_THREADS).min(args.tasks);
        // As many reads in flight as threads, each holding its thread until the device answers.
        cx.tasks.set_width(Width::one_each(threads));
        let waker = cx.waker.clone();
        let read = move |id| task::run_blocking(&args, id);
        let threads = Offload::start(threads as usize, args.tasks, read, move || {
            let _ = waker.wake();
        })?;
        Ok(Disk { threads })
    }
}

impl Part for Disk {
    fn on_ready(&mut self, token: Token, cx: &mut Cx) {
        if token == WAKER {
            self.threads.take_results(cx.tasks);
        }
    }
}
