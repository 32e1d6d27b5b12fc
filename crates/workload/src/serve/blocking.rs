//! Serving one connection on a blocking socket: what `serial`, `procs` and `threads` run,
//! and where they differ only in who runs it (the one thread, a forked child, a thread).
//!
//! The thread waits in `poll` on the socket and the stop descriptor (`stop.rs`), so a
//! SIGTERM reaches a thread blocked on an idle client; a `/query` delay is `thread::sleep`
//! and a `/cpu` request is hashed right here.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::exchange::{Counts, Exchange, Step};
use super::listen::{out_of_descriptors, Spare};
use super::stop::{Stop, Woken};
use super::tally::Counters;
use crate::task;

/// Serve `stream` until the client leaves, breaks, is too slow, or a stop is asked.
pub fn serve_connection(stream: TcpStream, timeout: Duration, stop: &Stop) -> Counts {
    let _ = stream.set_nodelay(true);
    let mut exchange = Exchange::new(timeout, Instant::now());
    let mut buf = [0u8; 4096];
    loop {
        match exchange.step(Instant::now(), stop.requested()) {
            Step::Read { deadline } => {
                if stop.wait(stream.as_fd(), false, Some(deadline)) != Woken::Ready {
                    continue; // the next step closes: stopping, or past the deadline
                }
                match (&stream).read(&mut buf) {
                    Ok(0) => exchange.eof(),
                    Ok(n) => exchange.received(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => exchange.reset(),
                }
            }
            Step::Sleep { until } => std::thread::sleep(until - Instant::now().min(until)),
            Step::Hash { id, work } => {
                exchange.hashed(task::sha256_chain(id, work), Instant::now())
            }
            Step::Write { deadline } => {
                // Waiting for room in the send buffer ignores the stop: the answer is owed.
                let _ = stream.set_write_timeout(Some(
                    deadline
                        .saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(1)),
                ));
                match (&stream).write(exchange.output()) {
                    Ok(n) => exchange.wrote(n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => exchange.reset(), // reset, or past the deadline
                }
            }
            Step::Busy => unreachable!("a blocking server hashes on its own thread"),
            Step::Close => return exchange.counts(),
        }
    }
}

/// Accept connections until a stop is asked, and hand each to `dispatch`, which serves it
/// (serial), or starts something that will (a thread, a process) and may fail for a
/// limit — then the connection is refused and the limit named. `dispatch(None)` comes at
/// least once a second, for housekeeping (`procs` reaps its children). The listener is
/// non-blocking, so a prefork sibling that takes a connection first costs only an EAGAIN.
pub fn accept_each(
    listener: &TcpListener,
    stop: &Stop,
    counters: &Counters,
    mut dispatch: impl FnMut(Option<TcpStream>) -> Result<(), crate::TaskError>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut spare = Spare::new()?;
    loop {
        let tick = Instant::now() + Duration::from_secs(1);
        match stop.wait(listener.as_fd(), false, Some(tick)) {
            Woken::Stop => return Ok(()),
            Woken::TimedOut => {
                let _ = dispatch(None);
                continue;
            }
            Woken::Ready => {}
        }
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                counters.accepted();
                if let Err(why) = dispatch(Some(stream)) {
                    counters.refused(&why);
                }
            }
            Err(e) if out_of_descriptors(&e) => {
                spare.refuse(&e, counters, listener.as_fd());
            }
            // WouldBlock (a sibling took it), a signal, or a connection reset in the queue.
            Err(_) => {}
        }
    }
}
