//! http on the readiness loop: every request a non-blocking socket and a small state machine
//! that the loop advances each time epoll says the socket is ready — connecting, then writing
//! the request, then reading the response into the shared parser, each step until the socket
//! would block. All N start with the run; each has a `--timeout-ms` deadline in the loop's
//! heap, and a request still open at its deadline is closed, which is all a time-out takes.
//!
//! What it costs: a socket, its state and its request per task; N requests at once need N
//! descriptors, and past RLIMIT_NOFILE `connect` fails with EMFILE, naming the limit.
//!
//! Under `strace -f -c`: a `socket`, `connect`, `epoll_ctl`, `sendto`, `recvfrom` and `close`
//! per task, and the loop's `epoll_wait`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use workload::error::io_error;
use workload::http::{self, Progress, ResponseParser};
use workload::timers::Due;
use workload::{Args, TaskError};

use crate::event_loop::{Cx, Part};

/// Every request's socket by task id, each registered under its task's token; `None` once
/// the task is done (dropping it closes the socket), so a deadline or a late event for it
/// finds nothing to do.
pub struct Http {
    sockets: Vec<Option<Connection>>,
}

impl Http {
    /// A connection per task, every one at once, each with its deadline.
    pub fn start(cx: &mut Cx) -> Http {
        let args = cx.tasks.args;
        let mut sockets = Vec::with_capacity(args.tasks as usize);
        for id in 0..args.tasks {
            match Connection::open(cx.registry, &args, id) {
                Ok(conn) => sockets.push(Some(conn)),
                Err(e) => {
                    sockets.push(None);
                    cx.tasks.finish(id, Err(e));
                }
            }
            cx.tasks.set_deadline(id);
        }
        Http { sockets }
    }
}

impl Part for Http {
    fn on_ready(&mut self, Token(id): Token, cx: &mut Cx) {
        let Some(conn) = self.sockets.get_mut(id).and_then(Option::as_mut) else {
            return; // finished, or timed out, before this event was handed out
        };
        if let Some(result) = conn.advance() {
            self.sockets[id] = None;
            cx.tasks.finish(id as u32, result);
        }
    }

    /// A request still open at its deadline has timed out: closing its socket is all it takes.
    fn on_timer(&mut self, due: Due, cx: &mut Cx) {
        if let Due::Task(id) = due {
            if self.sockets[id as usize].take().is_some() {
                cx.tasks.time_out(id, "the request");
            }
        }
    }
}

/// One http task's socket and where it is in the exchange.
pub struct Connection {
    stream: TcpStream,
    addr: SocketAddr,
    request: Vec<u8>,
    state: State,
}

enum State {
    Connecting,
    Writing { sent: usize },
    Reading { parser: ResponseParser },
}

impl Connection {
    /// Start a non-blocking connect and register the socket under task `id`'s token; epoll
    /// reports it writable when the connect completes.
    pub fn open(registry: &Registry, args: &Args, id: u32) -> Result<Connection, TaskError> {
        let addr = args.addr;
        let mut stream = TcpStream::connect(addr).map_err(|e| io_error(addr, "connect to", &e))?;
        registry
            .register(&mut stream, Token(id as usize), Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| TaskError::starting("epoll_ctl", &e))?;
        let request = http::request(addr, id, args.ms);
        Ok(Connection { stream, addr, request, state: State::Connecting })
    }

    /// Go as far as the socket allows without blocking: `None` while the task still waits,
    /// or its result. Readiness is edge-triggered, so each step runs until it would block
    /// (a non-blocking socket call returns WouldBlock, never EINTR).
    pub fn advance(&mut self) -> Option<Result<u64, TaskError>> {
        let addr = self.addr;
        loop {
            match &mut self.state {
                State::Connecting => match (self.stream.take_error(), self.stream.peer_addr()) {
                    (Ok(Some(e)) | Err(e), _) => {
                        return Some(Err(io_error(addr, "connect to", &e)))
                    }
                    (Ok(None), Ok(_)) => self.state = State::Writing { sent: 0 },
                    (Ok(None), Err(e)) if e.kind() == io::ErrorKind::NotConnected => return None,
                    (Ok(None), Err(e)) => return Some(Err(io_error(addr, "connect to", &e))),
                },
                State::Writing { sent } => match self.stream.write(&self.request[*sent..]) {
                    Ok(n) => {
                        *sent += n;
                        if *sent == self.request.len() {
                            self.state = State::Reading { parser: ResponseParser::new() };
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                    Err(e) => return Some(Err(io_error(addr, "write to", &e))),
                },
                State::Reading { parser } => {
                    let mut buf = [0u8; 512];
                    match self.stream.read(&mut buf) {
                        Ok(0) => return Some(parser.eof().map_err(TaskError::from)),
                        Ok(n) => match parser.feed(&buf[..n]) {
                            Ok(Progress::NeedMore) => {}
                            Ok(Progress::Done(value)) => return Some(Ok(value)),
                            Err(e) => return Some(Err(e.into())),
                        },
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                        Err(e) => return Some(Err(io_error(addr, "read from", &e))),
                    }
                }
            }
        }
    }
}
