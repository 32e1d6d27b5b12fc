//! `ring --serve`: the server as a completion loop on the raw ring.
//!
//! One multishot ACCEPT stays in flight and completes once per connection; each connection
//! then has at most one operation in flight — a RECV into its buffer or a SEND of its answer
//! — and the loop drives the shared `Exchange` from each completion. Timers (the `/query`
//! delay, the slow-client deadline) are the heap of `workload::serve::loop_conns`, waited
//! for with the timeout of `io_uring_enter`, as in the task loop; a deadline that passes
//! with an operation in flight cancels it (ASYNC_CANCEL). SIGINT and SIGTERM arrive as a
//! READ of the stop descriptor, `--offload` results as a READ of an eventfd (`wake.rs`):
//! everything the loop waits for is a completion, each tagged as the task loop's are
//! (`queues.rs`). `run` below is the loop; `serve/server.rs` holds its
//! state and one handler per kind of completion; `serve/connection.rs` drives a connection.

mod connection;
mod offload;
mod server;

use std::error::Error;
use std::os::fd::RawFd;
use std::time::Instant;

use workload::serve::{self, ServeReport, Stop};
use workload::Args;

use crate::queues::{self, Op};
use server::Server;

pub fn run(args: &Args, model: &'static str) -> Result<ServeReport, Box<dyn Error>> {
    let queues = queues::open()?;
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1) };
    let stop = Stop::on_signals()?;
    let listener = serve::open(args)?;
    let mut server = Server::new(args, queues, listener, stop)?;
    server.start()?;
    while !server.conns.done() || server.queues.in_flight > 0 {
        if server.conns.done() {
            server.cancel_the_rest()?; // the eventfd read: nothing else is in flight
        }
        // 1. Every connection whose timer is due: a delay ends, a deadline passes.
        while let Some(slot) = server.conns.next_due() {
            if let Some(slot) = slot {
                server.on_timer(slot)?;
            }
        }
        // 2. Submit what is queued and wait for a completion, but not past the next timer.
        server.queues.submit_and_wait(server.conns.wait_at_most())?;
        // 3. Every completion.
        while let Some((tag, res, more)) = server.queues.next_completion() {
            server.on_completion(tag, res, more)?;
        }
    }
    Ok(server.finish(model, args))
}

/// A connection's socket and the buffers the kernel may hold while its operation is in flight.
pub struct RingConn {
    pub fd: RawFd,
    pub in_flight: Option<Op>,
    /// When the operation in flight must be given up (its Exchange deadline).
    pub deadline: Option<Instant>,
    pub recv: Box<[u8; 4096]>,
    pub send: Vec<u8>,
}

impl RingConn {
    /// A connection just accepted as descriptor `fd`.
    pub fn new(fd: RawFd) -> RingConn {
        RingConn {
            fd,
            in_flight: None,
            deadline: None,
            recv: Box::new([0; 4096]),
            send: Vec::new(),
        }
    }
}
