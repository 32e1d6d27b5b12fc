//! One http task on a non-blocking socket: a small state machine that the loop advances each
//! time epoll says the socket is ready. Connecting, then writing the request, then reading the
//! response into the shared parser; each step runs until the socket would block.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use workload::error::io_error;
use workload::http::{self, Progress, ResponseParser};
use workload::{Args, TaskError};

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
