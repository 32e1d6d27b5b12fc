//! # ring — a hand-written io_uring completion loop: the completion twin of `epoll`
//!
//! One thread, one ring, and no async runtime: the `io-uring` crate's bindings and a loop a
//! reader can follow in one sitting. Where `epoll` is the readiness model ("tell me when I
//! could read, then I read"), this is the completion model ("do this read, tell me when it is
//! done"): the loop puts entries on the ring's submission queue, the kernel does the I/O, and
//! results come back on the completion queue, each tagged with the task and the step it
//! finishes (`connection.rs`). `queues.rs` is the ring and its two queues; `event_loop.rs`
//! holds one handler per kind of completion; `run` below is the loop.
//!
//! - **sleep**: every deadline sits in a heap, as in `epoll`, and the loop waits in
//!   `io_uring_enter` with a timeout to the nearest one — to the nanosecond, where
//!   `epoll_wait` takes whole milliseconds (the thread's timer slack is set to 1 ns for the
//!   same reason). There is no timeout entry per task: measured with
//!   `examples/timeout_per_task.rs`, a million IORING_OP_TIMEOUT entries hold 352 bytes of
//!   kernel memory each (a 256-byte request and a 96-byte timer) — 343 MiB, none of it in the
//!   process's RSS — and took 1.7–2.1 s from first submission to last completion, against
//!   1.12 s and 22 MiB for the heap.
//! - **http**: creating the socket, connecting, sending, receiving and closing are all ring
//!   entries (IORING_OP_SOCKET, CONNECT, SEND, RECV, CLOSE), one in flight per request; each
//!   buffer belongs to the loop until its operation completes. `--timeout-ms` is enforced
//!   through the heap plus ASYNC_CANCEL, not LINK_TIMEOUT: the timeout bounds the whole
//!   request, as in every other model, not one operation, and a linked timeout would have to
//!   be re-armed with what is left for each of the four to six steps, two entries and two
//!   completions a step. The heap keeps one 16-byte deadline per request, and only a request
//!   that runs out of time costs an entry, its cancel.
//! - **cpu**: tasks run on the loop's thread and block it. `--offload` hands them to the
//!   shared thread pool (one thread per core, or `--workers W`); after each result a worker
//!   writes to an eventfd, and a read of that eventfd, posted on the ring, completes and
//!   wakes the loop.
//!
//! - **disk** (`disk.rs`): each task's read is a READ entry (WRITE with `--write`) on the
//!   file opened once, into its slot's aligned buffer; at most `--workers` are in flight (all
//!   N by default), and a completed slot takes the next task, so submissions go in batches as
//!   completions come back. This is where the completion model does what no readiness loop
//!   can: a file never says "not ready", so epoll must hand it to threads, while the ring
//!   takes the read itself. The file is registered with the ring (IOSQE_FIXED_FILE), and the
//!   buffers are not (READ_FIXED): `examples/registered.rs` measures both against plain
//!   entries, and results/disk records what it found.
//!
//! - **brigade** (`brigade.rs`): a pipe per task and every task's READ posted at once; a
//!   completed READ posts the WRITE that hands the token to the next task and the task's next
//!   READ. One thread and no switch, and no `read` or `write` system call either: the pipe
//!   I/O rides on `io_uring_enter`.
//!
//! The queues stay sound at any N: a full submission queue is submitted, then the loop goes
//! on, so entries go to the kernel in batches of at most 1,024 whatever N is; completions
//! beyond the completion queue's 2,048 wait in the kernel's overflow list
//! (IORING_FEAT_NODROP) until the loop enters the ring to flush them, and a completion the
//! kernel had to drop is an error, never a hang. The loop ends only when every operation it
//! submitted has completed.
//!
//! What it costs: per sleeping task a 16-byte timer, as in `epoll`; per request a connection
//! (a 512-byte receive buffer, the request, the parser) and one entry at a time. The ring
//! batches system calls: 10,000 requests take a few hundred to a few thousand
//! `io_uring_enter` calls in all, as many as the completions' arrival splits them into
//! batches — it varies up to twice from run to run, since nearly every call left is a wait
//! (results/syscalls.md gives the median and the range of five runs).
//!
//! Where it stops: sleeping tasks by memory alone. Each request holds a socket, so past
//! RLIMIT_NOFILE (hard limit 20,000 on this machine kind) IORING_OP_SOCKET completes with
//! EMFILE, those tasks fail naming the limit, and the rest finish. Where no ring can be
//! created — `kernel.io_uring_disabled`, a container's seccomp profile, RLIMIT_MEMLOCK on
//! kernels before 5.12 — every task fails at once, exit 1, with the reason and what to
//! change. IORING_OP_SOCKET needs Linux 5.19.
//!
//! Under `strace -f -c`: for sleep one `io_uring_setup` and an `io_uring_enter` per wait —
//! no `epoll_wait`, no `clock_nanosleep`, no `clone`; for http `io_uring_enter` and nothing
//! else: no `socket`, `connect`, `sendto` or `recvfrom`; with `--offload`, a `clone` per
//! pool thread and the workers' `write`s to the eventfd.
//!
//! On db (`db.rs`): each connection a chain of SOCKET, CONNECT, then SEND and RECV in turn
//! for as long as it lives; without `--workers` a connection per task, with `--workers W` W
//! connections and a queue of waiting tasks, a connection binding the next task's query as
//! soon as it has an answer. Under `strace -f -c`: `io_uring_enter` and little else.
//!
//! With `--serve ADDR` (`serve.rs`): a multishot ACCEPT and one RECV or SEND in flight per
//! connection, every wait a completion, the stop signal included. Under `strace -f -c`:
//! `io_uring_enter` and almost nothing else.

mod brigade;
mod connection;
mod db;
mod disk;
mod event_loop;
mod queues;
mod serve;

use std::error::Error;
use std::process::ExitCode;

use event_loop::EventLoop;
use workload::{Args, Model, Report, Tally};

const MODEL: Model = Model {
    name: "ring",
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
    let queues = match queues::ring() {
        Ok(queues) => queues,
        Err(no_ring) => {
            // No task can run: the report says so, with what to change.
            let mut tally = Tally::start(MODEL.name, &args, 1, args.tasks);
            tally.fail(args.tasks, no_ring);
            return Ok(tally.finish());
        }
    };
    // The kernel may let a timer fire up to the thread's timer slack late, 50 µs by default,
    // to batch wake-ups; the loop's one timeout is set to the nanosecond, so ask for none.
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1) };
    // Sleeps and cpu tasks start with the loop; requests and the offload pool need the ring.
    let mut event_loop = EventLoop::new(MODEL.name, args, queues);
    event_loop.start_io()?;
    while event_loop.running() {
        // 1. One cpu task, if one is waiting: it holds the thread for as long as it runs.
        event_loop.tasks.run_one_cpu_task();
        // 2. Every timer that is due: a sleep ends, a request runs out of time, a pulse ticks.
        event_loop.fire_due_timers()?;
        if !event_loop.running() {
            break;
        }
        // 3. Submit what is queued, and wait in io_uring_enter for a completion, but only
        //    until the nearest timer.
        event_loop.submit_and_wait()?;
        // 4. Every completion: the next step of a request, its result, the pool's results.
        event_loop.on_completions()?;
    }
    Ok(event_loop.finish())
}
