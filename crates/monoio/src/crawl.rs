//! The crawl on monoio: on one core. The frontier is one thing — which URLs are known, which
//! are due, which origin has a connection free — and a crawl spread over cores would have to
//! share it, which is what thread-per-core does not do. So one runtime runs the dispatcher
//! (`tokio_task::crawl`) and a task per request, each socket's writes and reads io_uring
//! entries with owned buffers, each page parsed in its task, on that one thread: `uring`'s
//! crawl, on monoio.
//!
//! Under `strace -f -c`: `io_uring_enter`, a `socket` per connection, and no `epoll_wait`.

use tokio_task::crawl::{fetch, run as crawl};
use workload::{Args, Tally};

use crate::wire::Monoio;

pub async fn run(args: &'static Args, tally: &mut Tally) {
    crawl::<Monoio>(args, tally, |url, origin, reused, back| {
        monoio::spawn(async move {
            let _ = back.send(fetch(url, origin, reused, args.timeout()).await);
        });
    })
    .await;
}
