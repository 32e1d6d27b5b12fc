//! # epoll — a hand-written event loop on `mio`: what asyncio and tokio hide
//!
//! One thread, one `epoll` instance (`mio::Poll`), and a loop that asks the kernel "which of
//! my sources can make progress, or how long until my next timer?". This is the readiness
//! model: the kernel says when I/O *could* be done, and the loop does it. Nothing is
//! preempted: a task runs until it would block, then gives the thread back. `run` below is
//! the loop; `event_loop.rs` holds its state and hands each event to the part that owns it —
//! the run's workload, in a file of its own.
//!
//! What it costs: no stack, no future and no thread per task — a task is whatever its
//! workload keeps (a 16-byte timer for a wait, a socket and a small state machine for a
//! request), which is why this loop holds a million waiting tasks in a few dozen MiB. Its
//! timers are only as fine as `epoll_wait`'s timeout, which is whole milliseconds: a timer
//! fires up to a millisecond late.
//!
//! Where it stops: where its tasks' resources do — memory for timers, RLIMIT_NOFILE (hard
//! limit 20,000 on this machine kind) for sockets, which then fail naming the limit while the
//! rest finish — and wherever work holds the one thread: while the loop hashes, no timer
//! fires and no socket is read. What would block it goes to threads, which wake the loop
//! through an eventfd (`mio::Waker`): the article's `run_in_executor`, by hand.
//!
//! Under `strace -f -c`: `epoll_wait`, one thread, no `futex` and no `clone` — beside each
//! workload's own calls, which its file names.
//!
//! Each workload is a part, a file of its own in `parts/`: [`parts/mod.rs`](parts/mod.rs)
//! lists them, in the order to read them, and picks the one a run asks for.
//!
//! With `--serve ADDR` (`serve/`): connection state machines in the same kind of loop.

mod event_loop;
mod parts;
mod serve;

use std::error::Error;
use std::process::ExitCode;

use event_loop::EventLoop;
use mio::Events;
use workload::{Args, Report};

const MODEL: &str = "epoll";

fn main() -> ExitCode {
    workload::main(MODEL, run, serve::run)
}

fn run(args: &'static Args) -> Result<Report, Box<dyn Error>> {
    workload::task::prepare(args, workload::task::Holds::Here)?;
    let mut event_loop = EventLoop::new(MODEL, *args, parts::start)?;
    let mut events = Events::with_capacity(1024);
    while event_loop.tasks.unfinished > 0 {
        // 1. Work that waits for the loop's own thread, if any: it holds the thread while it
        //    runs, and nothing else moves.
        event_loop.take_turn();
        // 2. Every timer that is due, to the part that set it.
        event_loop.fire_due_timers();
        if event_loop.tasks.unfinished == 0 {
            break;
        }
        // 3. Block in epoll_wait until a source is ready, a thread wakes us, or a timer is
        //    due; then each event to the part.
        event_loop.wait_and_dispatch(&mut events)?;
    }
    Ok(event_loop.finish())
}
