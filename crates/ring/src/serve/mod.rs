//! `ring --serve`: the server as a completion loop on the raw ring.
//!
//! The loop drives each connection's shared `Exchange` from its completions: a RECV brings
//! bytes, a SEND takes the answer, a CLOSE ends it. How it uses io_uring is a ladder of
//! rungs, plain to modern, each adding one feature (`serve/path.rs`, the order to read them
//! in): the plain path posts one ACCEPT at a time and a RECV into the connection's own buffer
//! whenever its exchange asks to read, as a readiness loop would; the top rungs keep one
//! multishot ACCEPT and one multishot RECV per connection in flight, into buffers the kernel
//! picks from a pool (`buffers.rs`) only when bytes come, so an idle connection holds
//! none. results/serve measures each rung alone.
//!
//! A connection has at most one SEND in flight, and a RECV posted or not. Timers (the
//! `/query` delay, the slow-client deadline) are the heap of `workload::serve::loop_conns`,
//! waited for with the timeout of `io_uring_enter`, as in the task loop; a SEND past its
//! deadline is cancelled (ASYNC_CANCEL), and a connection that closes cancels its RECV and
//! keeps its slot until the RECV's last completion, so that no completion reaches a new
//! connection in the same slot. SIGINT and SIGTERM arrive as a READ of the stop descriptor,
//! `--offload` results as a READ of an eventfd (`wake.rs`): everything the loop waits for is
//! a completion, each tagged as the task loop's are (`queues.rs`). `run` below is the loop;
//! `serve/server.rs` holds its state and one handler per kind of completion;
//! `serve/connection.rs` drives a connection.

mod connection;
mod offload;
mod path;
mod server;

use std::error::Error;
use std::time::Instant;

use workload::serve::{self, ServeReport, Stop};
use workload::Args;

use crate::queues;
use crate::socket::Socket;
pub use path::ServePath;
use server::Server;

pub fn run(args: &Args, model: &'static str) -> Result<ServeReport, Box<dyn Error>> {
    let path: ServePath = crate::ladder::chosen();
    let queues = queues::open()?;
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1) };
    let stop = Stop::on_signals()?;
    let listener = serve::open(args)?;
    let mut server = Server::new(args, path, queues, listener, stop)?;
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
        while let Some(completion) = server.queues.next_completion() {
            server.on_completion(completion)?;
        }
    }
    Ok(server.finish(model, args))
}

/// Where a connection's RECV stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recv {
    /// None posted.
    Idle,
    /// Posted: one completion to come, or (multishot) one for each arrival until the last.
    Posted,
    /// Posted, and an ASYNC_CANCEL of it too: its last completion is still to come.
    Cancelled,
}

/// A connection's socket, what it has in flight, and its own buffer on the paths without
/// provided buffers.
pub struct RingConn {
    pub socket: Socket,
    pub recv: Recv,
    /// A SEND of the exchange's output is in flight: the output is the kernel's to read, and
    /// the exchange is not stepped (so cannot change it) until it completes.
    pub sending: bool,
    /// The exchange said to close: the connection waits only for its RECV's last completion.
    pub closing: bool,
    /// When the SEND in flight must be given up (its Exchange deadline).
    pub deadline: Option<Instant>,
    /// The buffer a RECV reads into when the path has no provided buffers.
    pub own: Option<Box<[u8; 4096]>>,
}

impl RingConn {
    /// A connection just accepted; it gets a buffer of its own if the path has no pool.
    pub fn new(socket: Socket, path: ServePath) -> RingConn {
        let own = (path < ServePath::ProvidedBuffers).then(|| Box::new([0; 4096]));
        RingConn { socket, recv: Recv::Idle, sending: false, closing: false, deadline: None, own }
    }
}
