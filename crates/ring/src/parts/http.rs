//! http on the completion loop: every request a chain of io_uring operations — SOCKET,
//! CONNECT, SEND, RECV, then CLOSE — each submitted when the one before it completes, one in
//! flight per request. The kernel does the I/O and says when it is *done*: where `epoll`'s
//! state machine asks "may I read?" and then reads, this one asks for the read and gets the
//! bytes. All N start with the run.
//!
//! `--timeout-ms` is enforced through the loop's heap plus ASYNC_CANCEL, not LINK_TIMEOUT:
//! the timeout bounds the whole request, as in every other model, not one operation, and a
//! linked timeout would have to be re-armed with what is left for each of the four to six
//! steps, two entries and two completions a step. The heap keeps one 16-byte deadline per
//! request, and only a request that runs out of time costs an entry, its cancel.
//!
//! What it costs: per request a connection — a 512-byte receive buffer, the request, the
//! parser — and one entry at a time. While an operation is in flight the kernel holds
//! pointers into the connection's buffers; each lives on the heap (a `Box` or a `Vec` that
//! never grows), so moving the struct does not move them, and a connection is dropped only
//! once its last operation has completed. Past RLIMIT_NOFILE, SOCKET completes with EMFILE
//! and the task fails naming the limit.
//!
//! Under `strace -f -c`: `io_uring_enter` and nothing else — no `socket`, `connect`,
//! `sendto` or `recvfrom`: 10,000 requests take a few hundred to a few thousand enters.

use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types};
use socket2::SockAddr;
use workload::error::io_error;
use workload::http::{self, Progress, ResponseParser};
use workload::timers::Due;
use workload::TaskError;

use crate::event_loop::{Cx, Part};
use crate::queues::{Op, Tag};

/// Every request's connection by task id; `None` once its last operation has completed.
pub struct Http {
    conns: Vec<Option<Connection>>,
}

/// One request: its socket, where it is in the chain, and the buffers the kernel may hold.
struct Connection {
    /// The service's address, which every CONNECT of the run points to.
    addr: &'static SockAddr,
    fd: Option<RawFd>,
    request: Vec<u8>,
    sent: usize,
    buf: Box<[u8]>,
    parser: ResponseParser,
    /// The operation the kernel holds for this connection: there is always exactly one.
    in_flight: Op,
    /// Past its deadline: its result is recorded, and whatever completes next closes it.
    timed_out: bool,
}

/// What a completion leads to: the next operation, or the task's result.
enum Next {
    Submit(Op, squeue::Entry),
    Done(Result<u64, TaskError>),
}

impl Http {
    /// A SOCKET entry and a deadline per request, every one at once.
    pub fn start(cx: &mut Cx) -> io::Result<Http> {
        let args = cx.tasks.args;
        // Leaked once for the run: the kernel reads it during every CONNECT, and it must
        // outlive them all.
        let addr: &'static SockAddr = Box::leak(Box::new(SockAddr::from(args.addr)));
        let mut conns = Vec::with_capacity(args.tasks as usize);
        for id in 0..args.tasks {
            let request = http::request(args.addr, id, args.ms);
            conns.push(Some(Connection::new(addr, request)));
            // SAFETY: a SOCKET entry points to nothing.
            unsafe { cx.submit(Tag::new(Op::Socket, id), socket(addr))? };
            cx.tasks.set_deadline(id);
        }
        Ok(Http { conns })
    }

    /// Drop the connection, whose last operation has completed, and close its socket.
    fn close(&mut self, id: u32, cx: &mut Cx) -> io::Result<()> {
        let conn = self.conns[id as usize].take().expect("an open connection");
        match conn.fd {
            // SAFETY: a CLOSE points to nothing.
            Some(fd) => unsafe { cx.submit(Tag::new(Op::Close, id), close(fd)) },
            None => Ok(()),
        }
    }
}

impl Part for Http {
    fn on_complete(&mut self, tag: Tag, res: i32, _: bool, cx: &mut Cx) -> io::Result<()> {
        let id = tag.slot;
        let conn = self.conns[id as usize].as_mut().expect("a connection per operation");
        if conn.timed_out {
            return self.close(id, cx);
        }
        match conn.on_complete(res, cx.tasks.args.addr) {
            // SAFETY: the entry points into the connection's boxed buffers and its 'static
            // address; the connection is dropped only once this entry has completed.
            Next::Submit(op, entry) => unsafe { cx.submit(Tag::new(op, id), entry) },
            Next::Done(result) => {
                cx.tasks.finish(id, result);
                self.close(id, cx)
            }
        }
    }

    /// A request still open at its deadline has timed out: its result is recorded now, and
    /// its operation in flight is cancelled; when that completes, the socket is closed.
    fn on_timer(&mut self, due: Due, cx: &mut Cx) -> io::Result<()> {
        let Due::Task(id) = due else { return Ok(()) };
        let Some(conn) = self.conns[id as usize].as_mut().filter(|c| !c.timed_out) else {
            return Ok(()); // finished in time
        };
        conn.timed_out = true;
        let cancel = Tag::new(conn.in_flight, id).cancel();
        cx.tasks.time_out(id, "the request");
        // SAFETY: an ASYNC_CANCEL points to nothing.
        unsafe { cx.submit(Tag::new(Op::Cancel, id), cancel) }
    }
}

/// The SOCKET entry that starts a connection to `addr`.
pub fn socket(addr: &SockAddr) -> squeue::Entry {
    let domain = addr.domain().into();
    opcode::Socket::new(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0).build()
}

/// The CONNECT of socket `fd` to `addr`, which must outlive the entry.
pub fn connect(fd: RawFd, addr: &SockAddr) -> squeue::Entry {
    opcode::Connect::new(types::Fd(fd), addr.as_ptr(), addr.len()).build()
}

/// The CLOSE of socket `fd`.
pub fn close(fd: RawFd) -> squeue::Entry {
    opcode::Close::new(types::Fd(fd)).build()
}

impl Connection {
    fn new(addr: &'static SockAddr, request: Vec<u8>) -> Connection {
        Connection {
            addr,
            fd: None,
            request,
            sent: 0,
            buf: vec![0u8; 512].into_boxed_slice(),
            parser: ResponseParser::new(),
            in_flight: Op::Socket,
            timed_out: false,
        }
    }

    /// The kernel finished the operation in flight with `res` (a count or `-errno`).
    fn on_complete(&mut self, res: i32, addr: SocketAddr) -> Next {
        let error = || io::Error::from_raw_os_error(-res);
        match self.in_flight {
            Op::Socket if res < 0 => Next::Done(Err(TaskError::starting("socket", &error()))),
            Op::Socket => {
                self.fd = Some(res);
                self.submit(Op::Connect, connect(res, self.addr))
            }
            Op::Connect if res < 0 => Next::Done(Err(io_error(addr, "connect to", &error()))),
            Op::Send if res < 0 => Next::Done(Err(io_error(addr, "write to", &error()))),
            Op::Connect | Op::Send => {
                if self.in_flight == Op::Send {
                    self.sent += res as usize;
                }
                self.send_or_receive()
            }
            Op::Recv if res < 0 => Next::Done(Err(io_error(addr, "read from", &error()))),
            Op::Recv if res == 0 => Next::Done(self.parser.eof().map_err(TaskError::from)),
            Op::Recv => match self.parser.feed(&self.buf[..res as usize]) {
                Ok(Progress::NeedMore) => self.receive(),
                Ok(Progress::Done(value)) => Next::Done(Ok(value)),
                Err(e) => Next::Done(Err(e.into())),
            },
            op => unreachable!("a {op:?} is not a step of a request"),
        }
    }

    /// The rest of the request, if any is left to send, else a receive.
    fn send_or_receive(&mut self) -> Next {
        let fd = types::Fd(self.fd.expect("connected"));
        let rest = &self.request[self.sent..];
        if rest.is_empty() {
            return self.receive();
        }
        self.submit(Op::Send, opcode::Send::new(fd, rest.as_ptr(), rest.len() as u32).build())
    }

    fn receive(&mut self) -> Next {
        let fd = types::Fd(self.fd.expect("connected"));
        let buf = opcode::Recv::new(fd, self.buf.as_mut_ptr(), self.buf.len() as u32);
        self.submit(Op::Recv, buf.build())
    }

    fn submit(&mut self, op: Op, entry: squeue::Entry) -> Next {
        self.in_flight = op;
        Next::Submit(op, entry)
    }
}
