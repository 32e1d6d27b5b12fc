//! # ring — a hand-written io_uring completion loop: the completion twin of `epoll`
//!
//! One thread, one io_uring, and no async runtime: the `io-uring` crate's bindings and a loop
//! a reader can follow in one sitting. Where `epoll` is the readiness model ("tell me when I
//! could read, then I read"), this is the completion model ("do this read, tell me when it is
//! done"): the loop puts entries on the submission queue, the kernel does the I/O, and
//! results come back on the completion queue, each tagged with what it finishes
//! (`queues.rs`). `run` below is the loop; `event_loop.rs` holds its state and hands each
//! completion to the part that submitted it — the run's workload, in a file of its own.
//!
//! What it costs: no stack, no future and no thread per task — a task is whatever its
//! workload keeps, and each buffer it hands the kernel stays the kernel's until its entry
//! completes. The loop waits in `io_uring_enter` with a timeout to its nearest timer — to the
//! nanosecond, where `epoll_wait` takes whole milliseconds (the thread's timer slack is set
//! to a single nanosecond for the same reason) — and there is no timeout entry per task: measured with
//! `examples/timeout_per_task.rs`, a million IORING_OP_TIMEOUT entries hold 352 bytes of
//! kernel memory each (a 256-byte request and a 96-byte timer) — a third of a gigabyte, none
//! of it in the process's RSS — and took 1.7–2.1 s from first submission to last completion,
//! where the heap's whole run of a million takes about 1.1 s (results/scale).
//!
//! The ring batches system calls: entries go to the kernel in batches of at most 1,024
//! whatever N is; completions beyond the completion queue's 2,048 wait in the kernel's
//! overflow list (IORING_FEAT_NODROP) until the loop enters the ring to flush them, and a
//! completion the kernel had to drop is an error, never a hang. The loop ends only when every
//! entry it submitted has completed.
//!
//! Where it stops: where its tasks' resources do (memory, RLIMIT_NOFILE — hard limit 20,000
//! on this machine kind — for sockets and pipes, which then fail naming the limit), wherever
//! work holds the one thread, and where no io_uring can be created —
//! `kernel.io_uring_disabled`, a container's seccomp profile, RLIMIT_MEMLOCK on kernels
//! before 5.12: then every task fails at once, exit 1, with the reason and what to change.
//! IORING_OP_SOCKET needs Linux 5.19.
//!
//! Under `strace -f -c`: one `io_uring_setup`, and `io_uring_enter` and almost nothing else:
//! the I/O itself rides on the ring. Nearly every call left is a wait, and each wait returns
//! however many completions have arrived, so the count varies up to twice from run to run
//! (results/syscalls.md gives the median and the range of five runs).
//!
//! Each workload is a part, a file of its own in `parts/`: [`parts/mod.rs`](parts/mod.rs)
//! lists them, in the order to read them, and picks the one a run asks for.
//!
//! With `--serve ADDR` (`serve/`): every wait a completion, the stop signal included, on a
//! path through io_uring that climbs from plain to modern one feature at a time
//! ([`serve/path.rs`](serve/path.rs) lists the rungs; `CONCLAB_RING_SERVE_PATH` picks one).
//! The plain path is a readiness loop's habits on a ring: an ACCEPT at a time, a RECV into
//! the connection's own buffer whenever it wants bytes, a SEND (`serve/connection.rs`,
//! `recv`). The modern one keeps a multishot ACCEPT and, per connection, a multishot RECV in
//! flight, into buffers the kernel takes from a shared pool only when bytes come
//! ([`buffers.rs`](buffers.rs)), so an idle connection holds no buffer.
//! results/serve's variant table measures what each rung costs and saves a request.
//!
//! Two parts climb ladders of their own, from a plain chain of entries to the modern one,
//! each rung picked by an environment variable ([`parts/mod.rs`](parts/mod.rs) names them):
//! the results' variant tables measure every rung.

mod buffers;
mod event_loop;
mod ladder;
mod parts;
mod queues;
mod serve;
mod socket;
mod wake;

use std::error::Error;
use std::process::ExitCode;

use event_loop::EventLoop;
use workload::{Args, Report, Tally, Width};

const MODEL: &str = "ring";

fn main() -> ExitCode {
    workload::main(MODEL, run, serve::run)
}

fn run(args: &'static Args) -> Result<Report, Box<dyn Error>> {
    workload::task::prepare(args, workload::task::Holds::Here)?;
    let queues = match queues::open() {
        Ok(queues) => queues,
        Err(no_ring) => {
            // No task can run: the report says so, with what to change.
            let mut tally = Tally::start(MODEL, args, Width::one_loop(args));
            tally.fail(args.tasks, no_ring);
            return Ok(tally.finish());
        }
    };
    // The kernel may let a timer fire up to the thread's timer slack late, 50 µs by default,
    // to batch wake-ups; the loop's one timeout is set to the nanosecond, so ask for none.
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1) };
    let mut event_loop = EventLoop::new(MODEL, *args, queues, parts::start)?;
    while event_loop.running() {
        // 1. Work that waits for the loop's own thread, if any: it holds the thread while it
        //    runs, and nothing else moves.
        event_loop.take_turn();
        // 2. Every timer that is due, to the part that set it.
        event_loop.fire_due_timers()?;
        if !event_loop.running() {
            break;
        }
        // 3. Submit what is queued, and wait in io_uring_enter for a completion, but only
        //    until the nearest timer.
        event_loop.submit_and_wait()?;
        // 4. Every completion, to the part that submitted its entry.
        event_loop.dispatch_completions()?;
    }
    Ok(event_loop.finish())
}
