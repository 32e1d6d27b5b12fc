//! `uring --serve`: a task per connection on tokio-uring's one thread, each read and write a
//! completion on the ring.
//!
//! The pair of `tokio/src/serve.rs`, differing where the models differ: the runtime is one
//! thread, and a read hands its buffer to the kernel and gets it back with the result, so
//! the buffer is owned (a `Vec` moved in and out), not borrowed — the connection's loop is
//! `tokio_task::serving`, which `monoio` shares. The wait for a `/query`
//! delay is tokio's timer — tokio-uring 0.5 has no timeout operation — and `--offload` is
//! tokio's blocking pool, as in `tokio`.
//!
//! Under `strace -f -c`: `io_uring_enter` and `epoll_wait` (tokio's timers and wake-ups),
//! and no `recvfrom` or `sendto`.

use std::error::Error;
use std::os::fd::AsFd;
use std::rc::Rc;

use tokio_uring::net::TcpListener;
use workload::serve::{self, Counters, ServeReport};
use workload::Args;

use crate::wire::Uring;

pub fn run(args: &'static Args, model: &'static str) -> Result<ServeReport, Box<dyn Error>> {
    tokio_uring::builder().entries(4096).start(async {
        let std_listener = serve::open(args)?;
        let fd = std_listener.as_fd().try_clone_to_owned()?; // for refusing at EMFILE
        let listener = TcpListener::from_std(std_listener);
        let counters = Rc::new(Counters::default());
        // Each connection: the shared loop of `tokio_task::serving`, on tokio-uring's socket,
        // a `/cpu` hash on tokio's blocking pool with `--offload`.
        let spawn = |stream, stopping, alive| {
            let counters = counters.clone();
            let hash = move |id, work| tokio_task::hash(args.offload, id, work);
            let wire = Uring::accepted(stream);
            tokio_uring::spawn(async move {
                counters.closed(tokio_task::serving::connection(wire, args, stopping, hash).await);
                drop(alive);
            });
        };
        tokio_task::accept_until_stopped(fd.as_fd(), || listener.accept(), &counters, spawn)
            .await?;
        Ok(counters.report(model, args, 1))
    })
}
