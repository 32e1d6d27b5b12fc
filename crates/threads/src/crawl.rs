//! The crawl on W threads (`--workers`, 10 by default): the article's queue and lock, used
//! for real. The frontier, the seen set and the idle connections sit behind one `Mutex`;
//! each thread takes the next URL under the lock, lets go of it to fetch and parse on its
//! blocking socket, and takes the lock again to hand in what it found. A thread with nothing
//! to take waits on a `Condvar` until a thread hands something in (new URLs, a free slot
//! for an origin at its `--per-host` limit) or a retry's time comes.
//!
//! What it costs: a thread per request in flight, each parked in `read` for the whole of
//! the page's latency; fetching P pages at L ms with W threads takes P × L / W.
//!
//! Under `strace -f -c`: a `clone3` per thread; per page a `sendto`, `recvfrom`s and
//! `setsockopt`s; `futex` for every hand-in under the lock and every wake of a waiting
//! thread.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use workload::crawl::{blocking, Crawl};
use workload::{Args, Runner, Tally, TaskError, Width};

/// What the threads share behind the lock.
struct Shared {
    crawl: Crawl,
    idle: blocking::Idle,
    tally: Tally,
}

type Start<'a> = &'a dyn Fn(u64, Box<dyn FnOnce() + Send>) -> Result<JoinHandle<()>, TaskError>;

/// Crawl with `--workers` threads, each started by `start` (which checks the limits first);
/// the tally comes back with the crawl's results in it.
pub fn run(args: &Args, tally: Tally, start: Start) -> Tally {
    let crawl = Crawl::new(args);
    let threads = crawl.most_in_flight();
    let mut tally = tally;
    tally.set_width(Width::one_each(threads));
    let shared =
        Arc::new((Mutex::new(Shared { crawl, idle: Default::default(), tally }), Condvar::new()));
    let mut started = Vec::new();
    for n in 0..threads {
        let (theirs, args) = (shared.clone(), *args);
        match start(u64::from(n), Box::new(move || crawl_on(&theirs, &args))) {
            Ok(handle) => started.push(handle),
            Err(e) => {
                // The threads started crawl on: the crawl is slower, not wrong. None at all
                // is a crawl that cannot run.
                if started.is_empty() {
                    lock(&shared).tally.fail(1, e);
                }
                break;
            }
        }
    }
    lock(&shared).tally.sample_threads();
    started.into_iter().for_each(|t| drop(t.join()));
    let Shared { mut crawl, mut tally, .. } = Arc::into_inner(shared)
        .map(|(m, _)| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .expect("every thread joined");
    crawl.end(&mut tally);
    tally
}

fn lock(shared: &(Mutex<Shared>, Condvar)) -> std::sync::MutexGuard<'_, Shared> {
    shared.0.lock().unwrap_or_else(|e| e.into_inner())
}

/// One thread's crawl: take a URL under the lock, fetch it without, hand it in under it.
fn crawl_on(shared: &(Mutex<Shared>, Condvar), args: &Args) {
    let runner = Runner::here();
    let mut guard = lock(shared);
    loop {
        if let Some(fetch) = guard.crawl.next(Instant::now()) {
            let at = fetch.origin;
            let origin = guard.crawl.origin(at).clone();
            let reused = guard.idle.take(at);
            drop(guard);
            let (fetched, kept, churn) =
                blocking::fetch(&fetch.url, &origin, reused, args.timeout());
            guard = lock(shared);
            let s = &mut *guard;
            s.crawl.churned(at, churn);
            if let Some(stream) = kept {
                s.idle.keep(at, stream);
            }
            s.crawl.finish(fetch, fetched, Instant::now()).record(&mut s.tally, runner);
            shared.1.notify_all();
        } else if guard.crawl.is_over() {
            shared.1.notify_all();
            return;
        } else {
            guard = match guard.crawl.next_retry() {
                Some(at) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    shared.1.wait_timeout(guard, wait).unwrap_or_else(|e| e.into_inner()).0
                }
                None => shared.1.wait(guard).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}
