//! # epoll — a hand-written event loop on `mio`: what asyncio and tokio hide
//!
//! One thread, one `epoll` instance (`mio::Poll`), and a loop that asks the kernel "which of
//! my sockets can make progress, or how long until my next timer?". Every sleeping task is
//! a deadline in a binary heap; the loop sleeps in `epoll_wait` exactly until the nearest
//! one, then finishes every task that is due. Every http task is a non-blocking socket and
//! a small state machine (`connection.rs`) that the loop advances each time epoll says the
//! socket is ready. Nothing is preempted: a task runs until it would block, then gives the
//! thread back. `event_loop.rs` holds the loop's state and what it does when each thing it
//! waits for is ready; `run` below is the loop itself. This is the readiness model: the kernel says when I/O *could* be done, and
//! the loop does it.
//!
//! What it costs: per sleeping task a 16-byte timer and nothing else — no stack, no future,
//! no thread — which is why this loop runs a million sleeping tasks in a few dozen MiB. Per
//! http task: a socket, its state and its request. Its timers are only as fine as
//! `epoll_wait`'s timeout, which is whole milliseconds: sleeps end up to a millisecond late.
//!
//! Where it stops: sleeping tasks are bounded by memory alone. Each http task holds a socket,
//! so N requests at once need N file descriptors: past RLIMIT_NOFILE (hard limit 20,000 on
//! this machine kind) `connect` fails with EMFILE, those tasks fail naming the limit, and the
//! rest finish. cpu tasks run on the loop's one thread, one per turn of the loop, and block
//! it: timers and sockets wait until the hashing stops. `--offload` hands each task to a pool
//! of one thread per core, or `--workers W` (`thread_pool::ThreadPool`), and each result
//! wakes the loop through a `mio::Waker` (an eventfd): the article's `run_in_executor`, by
//! hand.
//!
//! Under `strace -f -c`: `epoll_wait` and little else for sleep — one thread, no `futex`,
//! no `clone`; for http a `socket`, `connect`, `epoll_ctl`, `sendto`, `recvfrom` and `close`
//! per task; with `--offload`, `clone` for the pool and `write` on the waker's eventfd.
//!
//! On disk, epoll has nothing to wait for: `epoll_ctl` refuses a regular file (EPERM — a file
//! is always "ready", and its `pread` blocks in the kernel until the device answers; the
//! tests show it). So the loop does what libuv, and so Node, does: it hands each read to a
//! pool of threads (4 by default, libuv's number; `--workers W` for W), and each result
//! wakes the loop through the eventfd. Under `strace -f -c`: `pread64` on the pool's threads,
//! `futex` and the eventfd's `write` per result, and the loop's `epoll_wait`.
//!
//! On the brigade (`brigade.rs`): a pipe per task, read when epoll says it is ready and
//! written on to the next; one thread and no switch, but a `write`, an `epoll_wait` and a
//! `read` per hand-off — the anchor's "hand-off through I/O readiness".
//!
//! On db (`db.rs`): each connection a non-blocking socket and a protocol session advanced
//! when epoll says it is ready; without `--workers` a connection per task, with `--workers W`
//! W connections and a queue of waiting tasks, a connection sending the next task's query as
//! soon as it has an answer, in the same turn. Under `strace -f -c`: `epoll_wait`, and a
//! `sendto` and `recvfrom` a query.
//!
//! With `--serve ADDR` (`serve.rs`): connection state machines in the same kind of loop, each
//! driven when its socket is ready or its timer is due; one read per request, since a short
//! read means the socket is drained. Under `strace -f -c`: `epoll_wait`, `recvfrom` and
//! `sendto` per request, `accept4` and `epoll_ctl` per connection.

mod brigade;
mod connection;
mod db;
mod event_loop;
mod serve;

use std::error::Error;
use std::process::ExitCode;

use event_loop::{EventLoop, WAKER};
use mio::{Events, Token};
use workload::{Args, Model, Report};

const MODEL: Model = Model {
    name: "epoll",
    has_pool: false,
    can_offload: true,
    caps_disk: true,
    sizes_offload: true,
    brigade_workers: false,
    brigade_pipes: false,
};

fn main() -> ExitCode {
    let args = Args::parse_for(MODEL);
    if args.serve.is_some() {
        return workload::serve::exit(serve::run(&args, MODEL.name));
    }
    workload::exit(run(args))
}

fn run(args: Args) -> Result<Report, Box<dyn Error>> {
    workload::task::prepare(&args)?;
    // Sleeps and cpu tasks start with the loop; requests and the offload pool need its I/O.
    let mut event_loop = EventLoop::new(MODEL.name, args)?;
    event_loop.start_io()?;
    let mut events = Events::with_capacity(1024);
    while event_loop.tasks.unfinished > 0 {
        // 1. One cpu task, if one is waiting: it holds the thread for as long as it runs.
        event_loop.tasks.run_one_cpu_task();
        // 2. Every timer that is due: a sleep ends, a request runs out of time, a pulse ticks.
        event_loop.fire_due_timers();
        if event_loop.tasks.unfinished == 0 {
            break;
        }
        // 3. Sleep in epoll_wait until a socket is ready, the pool wakes us, or a timer is due.
        event_loop.poll.poll(&mut events, event_loop.timeout())?;
        for event in events.iter() {
            match event.token() {
                WAKER => event_loop.on_wake(),
                Token(id) => event_loop.on_socket_ready(id as u32),
            }
        }
    }
    Ok(event_loop.finish())
}
