//! `epoll --serve`: the server as connection state machines in the hand-written loop.
//!
//! One thread and one epoll instance hold the listening socket, every connection, the stop
//! descriptor and (with `--offload`) the pool's waker. Each connection is a non-blocking
//! socket and the shared `Exchange`; when epoll says the socket is ready, or its timer is due,
//! the loop *drives* it: reads what has arrived, answers what is whole,
//! writes until the socket would block, and arms a timer for the `/query` delay or the
//! slow-client deadline. Sockets are registered once, edge-triggered, for both directions.
//! A `/cpu` request is hashed on the loop's thread — every other connection waits — unless
//! `--offload` hands it to the pool. `run` below is the loop; `serve/server.rs` holds its state
//! and one handler per thing it waits on.

mod server;

use std::error::Error;
use std::io;

use mio::{Events, Token};
use workload::serve::{self, ServeReport, Stop};
use workload::Args;

use server::{Server, LISTENER, STOP, WAKER};

pub fn run(args: &Args, model: &'static str) -> Result<ServeReport, Box<dyn Error>> {
    let stop = Stop::on_signals()?;
    let std_listener = serve::open(args)?;
    std_listener.set_nonblocking(true)?;
    let mut server = Server::new(args, mio::net::TcpListener::from_std(std_listener), &stop)?;
    let mut events = Events::with_capacity(1024);
    while !server.conns.done() {
        // 1. Every connection whose timer is due: a delay ends, or a deadline passes.
        while let Some(slot) = server.conns.next_due() {
            if let Some(slot) = slot {
                server.drive(slot);
            }
        }
        if server.conns.done() {
            break; // the last connection closed on its timer
        }
        // 2. Sleep in epoll_wait until a socket is ready, a signal or a result comes, or the
        //    next timer is due.
        match server.poll.poll(&mut events, server.conns.wait_at_most()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => server.accept_all(),
                STOP => server.stop(),
                WAKER => server.take_results(),
                Token(slot) if server.conns.slots.contains(slot) => {
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        server.conns.slots[slot].io.readable = true;
                    }
                    server.drive(slot)
                }
                Token(_) => {} // closed before this event was handed out
            }
        }
    }
    let report = server.conns.counters.report(model, args, 1);
    if let Some(offload) = server.offload {
        offload.pool.join();
    }
    Ok(report)
}
