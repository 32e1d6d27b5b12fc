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
//! What it costs: per request a connection — a 512-byte receive buffer (none from the
//! provided-buffers rung up), the request, the parser — and one entry at a time (the linked
//! rung: up to four). While an operation is in flight the kernel holds
//! pointers into the connection's buffers; each lives on the heap (a `Box` or a `Vec` that
//! never grows), so moving the struct does not move them, and a connection is dropped only
//! once its last operation has completed. Past RLIMIT_NOFILE, SOCKET completes with EMFILE
//! (with registered files: the table, sized by RLIMIT_NOFILE, is full) and the task fails
//! naming the limit.
//!
//! The chain above is the plain rung of a ladder (`client_path.rs`): the rungs above it take
//! the RECV's buffer from a pool shared with the kernel, put the socket in the ring's
//! registered files, and link the chain so that the whole request goes to the kernel at
//! once. Each is a few lines below, marked by its rung; `CONCLAB_RING_CLIENT_PATH` picks one.
//!
//! Under `strace -f -c`: `io_uring_enter` and nothing else — no `socket`, `connect`,
//! `sendto` or `recvfrom`: 10,000 requests take a few hundred to a few thousand enters.

use std::io;
use std::net::SocketAddr;

use io_uring::{opcode, squeue, types};
use socket2::SockAddr;
use workload::error::io_error;
use workload::http::{self, Progress, ResponseParser};
use workload::timers::Due;
use workload::TaskError;

use super::client_path::ClientPath;
use crate::buffers::{self, ProvidedBuffers};
use crate::event_loop::{Cx, Part};
use crate::queues::{Completion, Op, Tag};
use crate::socket::Socket;

/// Every request's connection by task id; `None` once its last operation has completed.
pub struct Http {
    path: ClientPath,
    conns: Vec<Option<Connection>>,
    /// From the provided-buffers rung up: the pool every RECV takes its buffer from.
    buffers: Option<ProvidedBuffers>,
}

/// One request: its socket, where it is in the chain, and the buffers the kernel may hold.
struct Connection {
    /// The service's address, which every CONNECT of the run points to.
    addr: &'static SockAddr,
    socket: Option<Socket>,
    request: Vec<u8>,
    sent: usize,
    /// The buffer each RECV reads into, on the plain rung; the pool's, above it.
    own: Option<Box<[u8]>>,
    parser: ResponseParser,
    /// The first operation of the chain the kernel still holds for this request.
    in_flight: Op,
    /// How many of the chain's entries the kernel holds: one, or up to four when linked.
    pending: u8,
    /// Its result is recorded (an answer, an error, or its deadline): whatever completes
    /// now only brings its close nearer.
    finished: bool,
    /// The ASYNC_CANCELs of its steps still to come back.
    cancels: u8,
}

/// What a completion leads to: the next operation, its task's result, or (the rest of a
/// linked chain still to complete) nothing yet.
enum Next {
    Submit(Op, squeue::Entry),
    Done(Result<u64, TaskError>),
    Wait,
}

impl Http {
    /// Every request's first entries and its deadline, all at once.
    pub fn start(cx: &mut Cx) -> io::Result<Http> {
        let args = cx.tasks.args;
        let path: ClientPath = crate::ladder::chosen();
        // Leaked once for the run: the kernel reads it during every CONNECT, and it must
        // outlive them all.
        let addr: &'static SockAddr = Box::leak(Box::new(SockAddr::from(args.addr)));
        let buffers =
            (path >= ClientPath::ProvidedBuffers).then(|| cx.provided_buffers(buffers::SIZE));
        // A slot of the registered files for each request that may be open at once: as many
        // as the process may hold descriptors, the kernel's bound on the table.
        let slots = args.tasks.min(crate::socket::most_files()?);
        if path >= ClientPath::FixedFiles {
            cx.register_empty_files(slots)?;
        }
        let mut http = Http {
            path,
            conns: Vec::with_capacity(args.tasks as usize),
            buffers: buffers.transpose()?,
        };
        for id in 0..args.tasks {
            let request = http::request(args.addr, id, args.ms);
            http.conns.push(Some(Connection::new(addr, request, path)));
            cx.tasks.set_deadline(id);
            match path {
                // The request's id is its slot: past the table, no slot, as past
                // RLIMIT_NOFILE no descriptor.
                ClientPath::Linked if id >= slots => {
                    let no_slot = io::Error::from_raw_os_error(libc::EMFILE);
                    cx.tasks.finish(id, Err(TaskError::starting("socket", &no_slot)));
                    http.conns[id as usize] = None;
                }
                ClientPath::Linked => {
                    let conn = http.conns[id as usize].as_mut().expect("just pushed");
                    let chain = conn.chain(id, http.buffers.is_some());
                    // SAFETY: the entries point into the connection's boxed request and
                    // its 'static address; the connection is dropped only once the last
                    // of them has completed.
                    unsafe { cx.submit_linked(&chain)? };
                }
                _ => {
                    let entry = socket(addr, path >= ClientPath::FixedFiles);
                    // SAFETY: a SOCKET entry points to nothing.
                    unsafe { cx.submit(Tag::new(Op::Socket, id), entry)? };
                }
            }
        }
        Ok(http)
    }

    /// Drop the connection, whose last operation has completed, and close its socket.
    fn close(&mut self, id: u32, cx: &mut Cx) -> io::Result<()> {
        let conn = self.conns[id as usize].take().expect("an open connection");
        match conn.socket {
            // SAFETY: a CLOSE points to nothing.
            Some(socket) => unsafe { cx.submit(Tag::new(Op::Close, id), socket.close()) },
            None => Ok(()),
        }
    }
}

impl Part for Http {
    fn on_complete(&mut self, done: Completion, cx: &mut Cx) -> io::Result<()> {
        let id = done.tag.slot;
        let conn = self.conns[id as usize].as_mut().expect("a connection per operation");
        conn.pending -= 1;
        // The next step of the chain is now the first the kernel holds, if any: what a
        // deadline cancels, finished or not.
        conn.in_flight = next_in_chain(done.tag.op);
        if conn.finished {
            // Give a provided buffer back, if the kernel filled one after all; keep a socket
            // made after the deadline, so that the close below closes it.
            if let (Some(pool), Some(buffer)) = (&mut self.buffers, done.buffer) {
                pool.give_back(buffer);
            }
            if done.tag.op == Op::Socket && done.res >= 0 {
                conn.socket = Some(opened(self.path, done));
            }
            return if conn.pending == 0 { self.close(id, cx) } else { Ok(()) };
        }
        let addr = cx.tasks.args.addr;
        let next = match (&mut self.buffers, done.buffer) {
            // The answer, in a buffer of the pool: read, then given back at once.
            (Some(pool), Some(buffer)) => {
                let bytes = pool.bytes(buffer, done.res.max(0) as usize);
                let next = conn.on_complete(done, bytes, addr, self.path);
                pool.give_back(buffer);
                next
            }
            // The pool was empty when the answer came: grow it and ask again.
            (Some(pool), None) if done.tag.op == Op::Recv && done.res == -libc::ENOBUFS => {
                pool.grow();
                conn.receive()
            }
            _ => conn.on_complete(done, &[], addr, self.path),
        };
        match next {
            Next::Submit(op, entry) => {
                conn.pending += 1;
                // SAFETY: the entry points into the connection's boxed buffers and its
                // 'static address; the connection is dropped only once it has completed.
                unsafe { cx.submit(Tag::new(op, id), entry) }
            }
            Next::Done(result) => {
                cx.tasks.finish(id, result);
                conn.finished = true;
                if conn.pending == 0 {
                    self.close(id, cx)
                } else {
                    Ok(())
                }
            }
            Next::Wait => Ok(()),
        }
    }

    /// A request still open at its deadline has timed out: its result is recorded now, and
    /// its operation in flight is cancelled (on the linked rung, the rest of its chain with
    /// it); when the last completes, the socket is closed.
    fn on_timer(&mut self, due: Due, cx: &mut Cx) -> io::Result<()> {
        let Due::Task(id) = due else { return Ok(()) };
        let Some(conn) = self.conns[id as usize].as_mut().filter(|c| !c.finished) else {
            return Ok(()); // finished in time
        };
        conn.finished = true;
        cx.tasks.time_out(id, "the request");
        self.cancel_the_rest(id, cx)
    }

    /// A cancel came back. One finds nothing (ENOENT) when the step it named had completed,
    /// or, in a linked chain, when the next step had not started yet — the kernel starts it
    /// only when the loop next enters the ring, and a step not started cannot be cancelled.
    /// So once the last cancel of a round is back, if the request still has steps in the
    /// kernel, cancel them again: by then each has started or ended. One round at a time,
    /// however many of its cancels found nothing.
    fn on_cancelled(&mut self, done: Completion, cx: &mut Cx) -> io::Result<()> {
        let id = done.tag.slot;
        let Some(conn) = self.conns[id as usize].as_mut() else { return Ok(()) };
        conn.cancels -= 1;
        if conn.cancels == 0 && conn.pending > 0 {
            return self.cancel_the_rest(id, cx);
        }
        Ok(())
    }
}

impl Http {
    /// Cancel every step the kernel holds of request `id`: the one in flight, or the rest of
    /// a linked chain, in the chain's order; the first still running takes the rest with it.
    fn cancel_the_rest(&mut self, id: u32, cx: &mut Cx) -> io::Result<()> {
        let conn = self.conns[id as usize].as_mut().expect("a request with steps in flight");
        let in_flight = match conn.pending {
            1 => vec![conn.in_flight],
            rest => CHAIN[CHAIN.len() - usize::from(rest)..].to_vec(),
        };
        conn.cancels = in_flight.len() as u8;
        for op in in_flight {
            let cancel = Tag::new(op, id).cancel();
            // SAFETY: an ASYNC_CANCEL points to nothing.
            unsafe { cx.submit(Tag::new(Op::Cancel, id), cancel)? };
        }
        Ok(())
    }
}

/// The socket a SOCKET entry made, as the rung names it.
fn opened(path: ClientPath, done: Completion) -> Socket {
    match path {
        ClientPath::Linked => Socket::Fixed(done.tag.slot),
        ClientPath::FixedFiles => Socket::Fixed(done.res as u32),
        _ => Socket::Fd(done.res),
    }
}

/// The SOCKET entry that starts a connection to `addr`; `fixed`: into a free slot of the
/// ring's registered files, whose number it completes with.
pub fn socket(addr: &SockAddr, fixed: bool) -> squeue::Entry {
    match fixed {
        true => fixed_socket(addr, types::DestinationSlot::auto_target()),
        false => {
            let domain = addr.domain().into();
            opcode::Socket::new(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0).build()
        }
    }
}

/// The SOCKET entry of a direct descriptor in `slot`. Such a socket is never in the
/// process's table, so it cannot leak into a child: the kernel refuses SOCK_CLOEXEC on it.
fn fixed_socket(addr: &SockAddr, slot: types::DestinationSlot) -> squeue::Entry {
    let socket = opcode::Socket::new(addr.domain().into(), libc::SOCK_STREAM, 0);
    socket.file_index(Some(slot)).build()
}

/// The CONNECT of `socket` to `addr`, which must outlive the entry.
pub fn connect(socket: Socket, addr: &SockAddr) -> squeue::Entry {
    opcode::Connect::new(socket.target(), addr.as_ptr(), addr.len()).build().flags(socket.flags())
}

impl Connection {
    fn new(addr: &'static SockAddr, request: Vec<u8>, path: ClientPath) -> Connection {
        Connection {
            addr,
            socket: None,
            request,
            sent: 0,
            own: (path < ClientPath::ProvidedBuffers).then(|| vec![0u8; 512].into_boxed_slice()),
            parser: ResponseParser::new(),
            in_flight: Op::Socket,
            pending: 1,
            finished: false,
            cancels: 0,
        }
    }

    /// The linked rung: the whole request as one chain, its socket in slot `id`. The SEND
    /// waits for all of the request (MSG_WAITALL: a short send is retried in the kernel, or
    /// fails the chain, which the RECV then reports as ECANCELED).
    fn chain(&mut self, id: u32, pool: bool) -> [(Tag, squeue::Entry); 4] {
        let socket = Socket::Fixed(id);
        let slot = types::DestinationSlot::try_from_slot_target(id).expect("a slot below 2^32 - 2");
        let send =
            opcode::Send::new(socket.target(), self.request.as_ptr(), self.request.len() as u32);
        self.pending = CHAIN.len() as u8;
        [
            (Tag::new(CHAIN[0], id), fixed_socket(self.addr, slot)),
            (Tag::new(CHAIN[1], id), connect(socket, self.addr)),
            (Tag::new(CHAIN[2], id), send.flags(libc::MSG_WAITALL).build().flags(socket.flags())),
            (Tag::new(CHAIN[3], id), self.recv_entry(socket, pool)),
        ]
    }

    /// The kernel finished `done` (a count, a descriptor or a slot, or `-errno`); `bytes`:
    /// what a RECV brought in a provided buffer.
    fn on_complete(
        &mut self,
        done: Completion,
        bytes: &[u8],
        addr: SocketAddr,
        path: ClientPath,
    ) -> Next {
        let res = done.res;
        let error = || io::Error::from_raw_os_error(-res);
        let linked = path == ClientPath::Linked;
        match done.tag.op {
            Op::Socket if res == -libc::ENFILE && path >= ClientPath::FixedFiles => {
                // The registered files are full: as many as RLIMIT_NOFILE allows.
                let full = io::Error::from_raw_os_error(libc::EMFILE);
                Next::Done(Err(TaskError::starting("socket", &full)))
            }
            Op::Socket if res < 0 => Next::Done(Err(TaskError::starting("socket", &error()))),
            Op::Socket => {
                let socket = opened(path, done);
                self.socket = Some(socket);
                if linked {
                    Next::Wait
                } else {
                    self.submit(Op::Connect, connect(socket, self.addr))
                }
            }
            Op::Connect if res < 0 => Next::Done(Err(io_error(addr, "connect to", &error()))),
            Op::Send if res < 0 => Next::Done(Err(io_error(addr, "write to", &error()))),
            Op::Connect | Op::Send => {
                if done.tag.op == Op::Send {
                    self.sent += res as usize;
                }
                if self.pending > 0 {
                    Next::Wait
                } else {
                    self.send_or_receive()
                }
            }
            // A linked RECV whose chain broke at a short SEND: send the rest, then receive.
            Op::Recv if res == -libc::ECANCELED => self.send_or_receive(),
            Op::Recv if res < 0 => Next::Done(Err(io_error(addr, "read from", &error()))),
            Op::Recv if res == 0 => Next::Done(self.parser.eof().map_err(TaskError::from)),
            Op::Recv => {
                let bytes = match &self.own {
                    Some(own) => &own[..res as usize],
                    None => bytes,
                };
                match self.parser.feed(bytes) {
                    Ok(Progress::NeedMore) => self.receive(),
                    Ok(Progress::Done(value)) => Next::Done(Ok(value)),
                    Err(e) => Next::Done(Err(e.into())),
                }
            }
            op => unreachable!("a {op:?} is not a step of a request"),
        }
    }

    /// The rest of the request, if any is left to send, else a receive.
    fn send_or_receive(&mut self) -> Next {
        let socket = self.socket.expect("connected");
        let rest = &self.request[self.sent..];
        if rest.is_empty() {
            return self.receive();
        }
        let send = opcode::Send::new(socket.target(), rest.as_ptr(), rest.len() as u32);
        self.submit(Op::Send, send.build().flags(socket.flags()))
    }

    fn receive(&mut self) -> Next {
        let socket = self.socket.expect("connected");
        let entry = self.recv_entry(socket, self.own.is_none());
        self.submit(Op::Recv, entry)
    }

    /// A RECV on `socket`: into the request's own buffer, or (`pool`) into one the kernel
    /// takes from the provided buffers when the answer comes.
    fn recv_entry(&mut self, socket: Socket, pool: bool) -> squeue::Entry {
        let recv = match (pool, &mut self.own) {
            (false, Some(own)) => {
                opcode::Recv::new(socket.target(), own.as_mut_ptr(), own.len() as u32).build()
            }
            _ => opcode::Recv::new(socket.target(), std::ptr::null_mut(), buffers::SIZE as u32)
                .buf_group(buffers::GROUP)
                .build()
                .flags(squeue::Flags::BUFFER_SELECT),
        };
        recv.flags(socket.flags())
    }

    fn submit(&mut self, op: Op, entry: squeue::Entry) -> Next {
        self.in_flight = op;
        Next::Submit(op, entry)
    }
}

/// A request's steps, as the linked rung submits them at once.
const CHAIN: [Op; 4] = [Op::Socket, Op::Connect, Op::Send, Op::Recv];

/// The step after `op` in a request's chain: the one a deadline cancels once `op` is done.
fn next_in_chain(op: Op) -> Op {
    match op {
        Op::Socket => Op::Connect,
        Op::Connect => Op::Send,
        _ => Op::Recv,
    }
}
