//! The server loop's state — the ring, the connections, the stop and offload reads — and
//! what it does with each completion.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Instant;

use io_uring::{opcode, squeue, types};
use socket2::SockRef;
use workload::serve::listen::Spare;
use workload::serve::loop_conns::LoopConns;
use workload::serve::{ServeReport, Stop};
use workload::{Args, TaskError};

use super::offload::Offload;
use super::{RingConn, ServePath, Socket};
use crate::buffers::ProvidedBuffers;
use crate::queues::{Completion, Op, Queues, Tag};
use crate::wake::Wake;

pub struct Server {
    // Dropped first: the io_uring goes before the buffers it was given.
    pub queues: Queues,
    pub(super) path: ServePath,
    /// The pool RECVs take buffers from, on the paths that have one.
    pub(super) buffers: Option<ProvidedBuffers>,
    listener: Option<std::net::TcpListener>,
    pub conns: LoopConns<RingConn>,
    spare: Spare,
    stop: Stop,
    /// Where the stop READ puts its byte, and the offload eventfd's count.
    stop_byte: Box<[u8; 8]>,
    pub(super) offload: Option<Offload>,
    /// The eventfd read was cancelled at the end.
    ending: bool,
}

impl Server {
    pub fn new(
        args: &Args,
        path: ServePath,
        mut queues: Queues,
        listener: std::net::TcpListener,
        stop: Stop,
    ) -> io::Result<Server> {
        // Accepted sockets inherit TCP_NODELAY from the listening one: no setsockopt a
        // connection (and none could name a direct descriptor).
        SockRef::from(&listener).set_nodelay(true)?;
        let buffers = if path >= ServePath::ProvidedBuffers {
            Some(ProvidedBuffers::register(&mut queues, crate::buffers::SIZE)?)
        } else {
            None
        };
        if path >= ServePath::FixedFiles {
            // As many as the process may hold descriptors: the kernel allows no more.
            queues.register_empty_files(crate::socket::most_files()?)?;
        }
        Ok(Server {
            queues,
            path,
            buffers,
            listener: Some(listener),
            conns: LoopConns::new(args.timeout()),
            spare: Spare::new()?,
            stop,
            stop_byte: Box::new([0; 8]),
            offload: if args.offload { Some(Offload::start()?) } else { None },
            ending: false,
        })
    }

    /// The report; then the pool's threads are joined, if there was one.
    pub fn finish(self, model: &str, args: &Args) -> ServeReport {
        let report = self.conns.counters.report(model, args, 1);
        if let Some(offload) = self.offload {
            offload.pool.join();
        }
        report
    }

    /// Queue `entry`, which points only into a connection's own buffer or its exchange's
    /// output, the stop byte or the offload count.
    pub(super) fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY: a connection is removed only when no operation of it is in flight (a CLOSE
        // points to nothing); its own buffer is boxed and its output is a Vec's heap, which
        // stay where they are when the slab grows, and the output is not changed while a SEND
        // is in flight (`RingConn::sending`). The stop byte and offload state live until the
        // loop ends, after every completion.
        unsafe { self.queues.push(&entry) }
    }

    /// Post the operations that stay in flight: the multishot accept, the stop read, the
    /// eventfd read.
    pub fn start(&mut self) -> io::Result<()> {
        self.accept()?;
        let fd = types::Fd(self.stop.as_fd().as_raw_fd());
        let read = opcode::Read::new(fd, self.stop_byte.as_mut_ptr(), 8).build();
        self.push(read.user_data(Tag::new(Op::Stop, 0).user_data()))?;
        self.read_eventfd()
    }

    /// Post the ACCEPT: one that completes once, or once per connection, into a descriptor
    /// or (fixed files) a free slot of the registered table.
    fn accept(&mut self) -> io::Result<()> {
        let Some(listener) = &self.listener else { return Ok(()) };
        let fd = types::Fd(listener.as_raw_fd());
        let accept = match self.path {
            ServePath::Plain => {
                opcode::Accept::new(fd, std::ptr::null_mut(), std::ptr::null_mut()).build()
            }
            path => opcode::AcceptMulti::new(fd)
                .allocate_file_index(path >= ServePath::FixedFiles)
                .build(),
        };
        self.push(Tag::new(Op::Accept, 0).on(accept))
    }

    fn read_eventfd(&mut self) -> io::Result<()> {
        let Some(offload) = self.offload.as_mut() else { return Ok(()) };
        let read = offload.wake.read();
        self.push(Wake::TAG.on(read))
    }

    pub fn on_completion(&mut self, c: Completion) -> io::Result<()> {
        let (op, slot, res, more) = (c.tag.op, c.tag.slot as usize, c.res, c.more);
        match op {
            Op::Accept => {
                self.on_accept(res, more)?;
                if self.conns.stopping && !more {
                    self.listener = None; // the accept is over: close the listening socket
                }
                Ok(())
            }
            Op::Listen if !self.conns.stopping => self.accept(),
            Op::Listen => Ok(()),
            Op::Stop => self.on_stop(),
            Op::Wake => self.on_wake(),
            Op::Recv => self.on_recv(slot, res, more, c.buffer),
            Op::Send => self.on_send(slot, res),
            Op::Close | Op::Cancel => Ok(()), // their results change nothing
            op => unreachable!("the server submits no {op:?}"),
        }
    }

    fn on_accept(&mut self, res: i32, more: bool) -> io::Result<()> {
        let mut out_of_descriptors = false;
        if res >= 0 {
            let socket = match self.path {
                ServePath::FixedFiles => Socket::Fixed(res as u32),
                _ => Socket::Fd(res),
            };
            let slot = self.conns.insert(RingConn::new(socket, self.path));
            self.drive(slot)?;
        } else if matches!(-res, libc::EMFILE | libc::ENFILE) {
            let err = io::Error::from_raw_os_error(-res);
            if let Some(listener) = &self.listener {
                out_of_descriptors =
                    !self.spare.refuse(&err, &self.conns.counters, listener.as_fd());
            }
        } else if -res != libc::ECANCELED && !more {
            let why = TaskError::starting("accept", &io::Error::from_raw_os_error(-res));
            eprintln!("accept: {why}");
        }
        // A multishot accept ends on an error (EMFILE among them): post it again — once a
        // client is queued, if descriptors ran out with none queued.
        match (more || self.conns.stopping, &self.listener) {
            (false, Some(listener)) if out_of_descriptors => {
                let fd = types::Fd(listener.as_raw_fd());
                let poll = opcode::PollAdd::new(fd, libc::POLLIN as u32).build();
                self.push(poll.user_data(Tag::new(Op::Listen, 0).user_data()))
            }
            (false, _) => self.accept(),
            (true, _) => Ok(()),
        }
    }

    /// SIGINT or SIGTERM: stop accepting; idle connections are cancelled out of their RECV and
    /// close, the others finish the request in hand.
    fn on_stop(&mut self) -> io::Result<()> {
        self.conns.stopping = true;
        for op in [Op::Accept, Op::Listen] {
            let cancel = opcode::AsyncCancel::new(Tag::new(op, 0).user_data()).build();
            self.push(cancel.user_data(Tag::new(Op::Cancel, 0).user_data()))?;
        }
        // Each connection finishes the request in hand; an idle one closes at once (its
        // RECV cancelled, `drive`).
        let slots: Vec<usize> = self.conns.slots.iter().map(|(slot, _)| slot).collect();
        for slot in slots {
            self.drive(slot)?;
        }
        Ok(())
    }

    /// The pool has results: answer each and drive its connection; read the eventfd again.
    fn on_wake(&mut self) -> io::Result<()> {
        let Some(offload) = &self.offload else { return Ok(()) };
        let results: Vec<_> = offload.results.try_iter().collect();
        for (slot, value) in results {
            self.conns.slots[slot].exchange.hashed(value, Instant::now());
            self.drive(slot)?;
        }
        if !self.conns.done() {
            self.read_eventfd()?;
        }
        Ok(())
    }

    /// Every connection is closed after the stop: cancel the eventfd read, if still posted.
    pub fn cancel_the_rest(&mut self) -> io::Result<()> {
        if !std::mem::replace(&mut self.ending, true) && self.offload.is_some() {
            let cancel = opcode::AsyncCancel::new(Tag::new(Op::Wake, 0).user_data()).build();
            self.push(cancel.user_data(Tag::new(Op::Cancel, 0).user_data()))?;
        }
        Ok(())
    }
}
