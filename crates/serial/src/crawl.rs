//! The crawl, one page after another: the thread asks the frontier for the next URL, fetches
//! it on a blocking socket (a kept-alive connection to its origin if one is open), parses it
//! and queues its links, then the next. One request at a time, whatever the latency: a web
//! of P pages at L ms each takes P × L. A retry's wait is a `sleep`.
//!
//! Under `strace -f -c`: per page a `sendto`, a `recvfrom` or a few, and a `setsockopt` or
//! two for the time limit; a `connect` per origin (and per connection the server closed);
//! `clock_nanosleep` for a retry's wait. One thread, no `clone`.

use std::time::Instant;

use workload::crawl::{blocking, Crawl};
use workload::{Args, Runner, Tally};

pub fn run(args: &Args, tally: &mut Tally) {
    let mut crawl = Crawl::new(args).one_at_a_time();
    let mut idle = blocking::Idle::default();
    let runner = Runner::here();
    loop {
        if let Some(fetch) = crawl.next(Instant::now()) {
            let (at, origin) = (fetch.origin, crawl.origin(fetch.origin));
            let (fetched, kept, churn) =
                blocking::fetch(&fetch.url, origin, idle.take(at), args.timeout());
            crawl.churned(at, churn);
            if let Some(stream) = kept {
                idle.keep(at, stream);
            }
            crawl.finish(fetch, fetched, Instant::now()).record(tally, runner);
        } else if crawl.is_over() {
            break;
        } else if let Some(at) = crawl.next_retry() {
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
        }
    }
    crawl.end(tally);
}
