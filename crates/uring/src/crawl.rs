//! The crawl on tokio-uring: a task per request on the one thread, each socket's writes and
//! reads io_uring entries with owned buffers, the page parsed in its task — on the one
//! thread, so a page being parsed holds up every other request. A dispatcher task owns the
//! frontier (`tokio_task::crawl`), as in `tokio`.
//!
//! Under `strace -f -c`: `io_uring_enter` where `tokio` shows `sendto` and `recvfrom`, a
//! `socket` per connection, and `epoll_wait` for tokio's timers; no `clone`.

use tokio_task::crawl::{fetch, run as crawl};
use workload::{Args, Tally};

use crate::wire::Uring;

pub async fn run(args: &'static Args, tally: &mut Tally) {
    crawl::<Uring>(args, tally, |url, origin, reused, back| {
        tokio_uring::spawn(async move {
            let _ = back.send(fetch(url, origin, reused, args.timeout()).await);
        });
    })
    .await;
}
