//! The server loop's state — the ring, the connections, the stop and offload reads — and
//! what it does with each completion.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Instant;

use io_uring::{opcode, squeue, types};
use workload::serve::listen::Spare;
use workload::serve::loop_conns::LoopConns;
use workload::serve::{ServeReport, Stop};
use workload::{Args, TaskError};

use super::offload::Offload;
use super::RingConn;
use crate::queues::Queues;
use crate::queues::{Op, Tag};
use crate::wake::Wake;

pub struct Server {
    pub queues: Queues,
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
        queues: Queues,
        listener: std::net::TcpListener,
        stop: Stop,
    ) -> io::Result<Server> {
        Ok(Server {
            queues,
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

    /// Queue `entry`, which points only into a connection, the stop byte or the offload count.
    pub(super) fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY: a connection is removed only when no operation of it is in flight (a CLOSE
        // points to nothing), and the stop byte and offload state live until the loop ends,
        // after every completion.
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

    fn accept(&mut self) -> io::Result<()> {
        let Some(listener) = &self.listener else { return Ok(()) };
        let accept = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd())).build();
        self.push(accept.user_data(Tag::new(Op::Accept, 0).user_data()))
    }

    fn read_eventfd(&mut self) -> io::Result<()> {
        let Some(offload) = self.offload.as_mut() else { return Ok(()) };
        let read = offload.wake.read();
        self.push(Wake::TAG.on(read))
    }

    pub fn on_completion(&mut self, tag: Tag, res: i32, more: bool) -> io::Result<()> {
        let (op, slot) = (tag.op, tag.slot as usize);
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
            Op::Recv | Op::Send => self.on_socket_op(op, slot, res),
            Op::Close | Op::Cancel => Ok(()), // their results change nothing
            op => unreachable!("the server submits no {op:?}"),
        }
    }

    fn on_accept(&mut self, res: i32, more: bool) -> io::Result<()> {
        let mut out_of_descriptors = false;
        if res >= 0 {
            // SAFETY: a successful accept's result is a new descriptor we alone own.
            let _ =
                socket2::SockRef::from(&unsafe { BorrowedFd::borrow_raw(res) }).set_nodelay(true);
            let conn = RingConn::new(res);
            let slot = self.conns.insert(conn);
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
        let slots: Vec<usize> = self.conns.slots.iter().map(|(slot, _)| slot).collect();
        for slot in slots {
            match self.conns.slots[slot].io.in_flight {
                Some(Op::Recv) => {
                    let cancel =
                        opcode::AsyncCancel::new(Tag::new(Op::Recv, slot).user_data()).build();
                    self.push(cancel.user_data(Tag::new(Op::Cancel, slot).user_data()))?;
                }
                _ => self.drive(slot)?,
            }
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
