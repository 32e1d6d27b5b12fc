//! The crawl on tokio: a task per request on the runtime's workers, parsing its page where it
//! ran; one dispatcher task owns the frontier (`tokio_task::crawl`). `--workers` is the
//! requests in flight, and the runtime keeps a worker per core.
//!
//! Under `strace -f -c`: per page a `sendto` and `recvfrom`s on a non-blocking socket,
//! `epoll_wait` on the workers, and `futex` as they hand results to the dispatcher and wake
//! each other; a `connect`, a `setsockopt` (TCP_NODELAY) and an `epoll_ctl` per connection.

use tokio::net::TcpStream;
use tokio_task::crawl::{fetch, run as crawl};
use workload::{Args, Tally};

pub async fn run(args: &'static Args, tally: &mut Tally) {
    crawl::<TcpStream>(args, tally, |url, origin, reused, back| {
        tokio::spawn(async move {
            let _ = back.send(fetch(url, origin, reused, args.timeout()).await);
        });
    })
    .await;
}
