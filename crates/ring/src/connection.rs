//! One http task as a chain of io_uring operations — SOCKET, CONNECT, SEND, RECV, then
//! CLOSE — each submitted when the one before it completes. The kernel does the I/O and says
//! when it is *done*: where `epoll`'s state machine asks "may I read?" and then reads, this
//! one asks for the read and gets the bytes.
//!
//! While an operation is in flight the kernel holds pointers into this struct's buffers: the
//! address, the request and the receive buffer. Each lives on the heap (a `Box` or a `Vec`
//! that never grows), so moving the struct does not move them, and the loop drops a
//! connection only once its last operation has completed.

use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types};
use workload::error::io_error;
use workload::http::{self, Progress, ResponseParser};
use workload::{Args, TaskError};

/// What an operation in flight is for, packed with its task's id into the entry's user_data,
/// so that a completion says which task it belongs to and what it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Socket = 1,
    Connect,
    Send,
    Recv,
    Close,
    /// An ASYNC_CANCEL for a request past its deadline.
    Cancel,
    /// The read on the offload pool's eventfd.
    Wake,
    /// A disk task's READ or WRITE; the id is its slot (`disk.rs`).
    Disk,
    /// A brigade task's READ of its pipe, and its WRITE to the next task's (`brigade.rs`).
    BrigadeRead,
    BrigadeWrite,
}

impl Op {
    pub fn user_data(self, id: u32) -> u64 {
        (u64::from(id) << 8) | self as u64
    }

    pub fn of(user_data: u64) -> (Op, u32) {
        const OPS: [Op; 10] = [
            Op::Socket,
            Op::Connect,
            Op::Send,
            Op::Recv,
            Op::Close,
            Op::Cancel,
            Op::Wake,
            Op::Disk,
            Op::BrigadeRead,
            Op::BrigadeWrite,
        ];
        let op = OPS[(user_data & 0xff) as usize - 1];
        (op, (user_data >> 8) as u32)
    }
}

/// What a completion leads to: the next operation, or the task's result.
pub enum Next {
    Submit(squeue::Entry),
    Done(Result<u64, TaskError>),
}

/// A socket address in the form the kernel reads, at a fixed place on the heap.
pub enum Sockaddr {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
}

pub struct Connection {
    id: u32,
    addr: SocketAddr,
    sockaddr: Box<Sockaddr>,
    fd: Option<RawFd>,
    request: Vec<u8>,
    sent: usize,
    buf: Box<[u8]>,
    parser: ResponseParser,
    /// The operation the kernel holds for this connection: there is always exactly one.
    pub in_flight: Op,
    /// Past its deadline: its result is recorded, and whatever completes next closes it.
    pub timed_out: bool,
}

impl Connection {
    /// A connection for task `id`, and its first operation: creating the socket.
    pub fn open(args: &Args, id: u32) -> (Connection, squeue::Entry) {
        let (domain, sockaddr) = Sockaddr::of(args.addr);
        let conn = Connection {
            id,
            addr: args.addr,
            sockaddr,
            fd: None,
            request: http::request(args.addr, id, args.ms),
            sent: 0,
            buf: vec![0u8; 512].into_boxed_slice(),
            parser: ResponseParser::new(),
            in_flight: Op::Socket,
            timed_out: false,
        };
        (conn, Sockaddr::socket(domain, id))
    }

    /// The kernel finished the operation in flight with `res` (a count or `-errno`).
    pub fn on_complete(&mut self, res: i32) -> Next {
        let error = || io::Error::from_raw_os_error(-res);
        let (addr, id) = (self.addr, self.id);
        match self.in_flight {
            Op::Socket if res < 0 => Next::Done(Err(TaskError::starting("socket", &error()))),
            Op::Socket => {
                self.fd = Some(res);
                let (ptr, len) = self.sockaddr.raw();
                self.submit(Op::Connect, opcode::Connect::new(types::Fd(res), ptr, len).build())
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
            op => unreachable!("task {id}: a {op:?} is not a step of a request"),
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
        Next::Submit(entry.user_data(op.user_data(self.id)))
    }

    /// The CLOSE of its socket, once nothing is in flight; `None` if it never had one.
    pub fn close(&self) -> Option<squeue::Entry> {
        let fd = self.fd?;
        Some(opcode::Close::new(types::Fd(fd)).build().user_data(Op::Close.user_data(self.id)))
    }

    /// An ASYNC_CANCEL of the operation in flight.
    pub fn cancel(&self) -> squeue::Entry {
        let target = self.in_flight.user_data(self.id);
        opcode::AsyncCancel::new(target).build().user_data(Op::Cancel.user_data(self.id))
    }
}

impl Sockaddr {
    /// The address family, and the address on the heap, where it stays while a CONNECT
    /// that points to it is in flight.
    pub fn of(addr: SocketAddr) -> (i32, Box<Sockaddr>) {
        match addr {
            SocketAddr::V4(a) => (libc::AF_INET, Box::new(Sockaddr::V4(sockaddr_in(a)))),
            SocketAddr::V6(a) => (libc::AF_INET6, Box::new(Sockaddr::V6(sockaddr_in6(a)))),
        }
    }

    /// The SOCKET entry that starts a connection, for `id`.
    pub fn socket(domain: i32, id: u32) -> squeue::Entry {
        let socket = opcode::Socket::new(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        socket.build().user_data(Op::Socket.user_data(id))
    }

    pub fn raw(&self) -> (*const libc::sockaddr, libc::socklen_t) {
        match self {
            Sockaddr::V4(a) => (std::ptr::from_ref(a).cast(), size_of_val(a) as libc::socklen_t),
            Sockaddr::V6(a) => (std::ptr::from_ref(a).cast(), size_of_val(a) as libc::socklen_t),
        }
    }
}

fn sockaddr_in(a: std::net::SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
        sin_zero: [0; 8],
    }
}

fn sockaddr_in6(a: std::net::SocketAddrV6) -> libc::sockaddr_in6 {
    libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: a.port().to_be(),
        sin6_flowinfo: a.flowinfo(),
        sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
        sin6_scope_id: a.scope_id(),
    }
}
