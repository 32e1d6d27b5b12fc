//! `ring --serve`: the server as a completion loop on the raw ring.
//!
//! One multishot ACCEPT stays in flight and completes once per connection; each connection
//! then has at most one operation in flight — a RECV into its buffer or a SEND of its answer
//! — and the loop drives the shared `Exchange` from each completion. Timers (the `/query`
//! delay, the slow-client deadline) are the heap of `workload::serve::loop_conns`, waited
//! for with the timeout of `io_uring_enter`, as in the task loop; a deadline that passes
//! with an operation in flight cancels it (ASYNC_CANCEL). SIGINT and SIGTERM arrive as a
//! READ of the stop descriptor, `--offload` results as a READ of an eventfd: everything the
//! loop waits for is a completion.

use std::error::Error;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use io_uring::{opcode, squeue, types};
use thread_pool::ThreadPool;
use workload::serve::listen::Spare;
use workload::serve::loop_conns::LoopConns;
use workload::serve::{self, ServeReport, Step, Stop};
use workload::{task, Args, TaskError};

use crate::queues::{self, Queues};

/// What an operation is for; packed with the connection's slot into the user_data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Accept = 1,
    /// A POLL_ADD on the listening socket, posted in place of the accept when descriptors
    /// ran out: ACCEPT fails with EMFILE at once even when no client is queued.
    Listen,
    Stop,
    Wake,
    Recv,
    Send,
    Close,
    Cancel,
}

fn tag(op: Op, slot: usize) -> u64 {
    ((slot as u64) << 8) | op as u64
}

fn untag(user_data: u64) -> (Op, usize) {
    // In the order of the enum's values: OPS[op as usize - 1] == op.
    const OPS: [Op; 8] =
        [Op::Accept, Op::Listen, Op::Stop, Op::Wake, Op::Recv, Op::Send, Op::Close, Op::Cancel];
    (OPS[(user_data & 0xff) as usize - 1], (user_data >> 8) as usize)
}

/// A connection's socket and the buffers the kernel may hold while its operation is in flight.
struct RingConn {
    fd: RawFd,
    in_flight: Option<Op>,
    /// When the operation in flight must be given up (its Exchange deadline).
    deadline: Option<Instant>,
    recv: Box<[u8; 4096]>,
    send: Vec<u8>,
}

struct Server {
    queues: Queues,
    listener: Option<std::net::TcpListener>,
    conns: LoopConns<RingConn>,
    spare: Spare,
    stop: Stop,
    /// Where the stop READ puts its byte, and the offload eventfd's count.
    stop_byte: Box<[u8; 8]>,
    offload: Option<Offload>,
    /// The eventfd read was cancelled at the end.
    ending: bool,
}

struct Offload {
    pool: ThreadPool,
    done: Sender<(usize, u64)>,
    results: Receiver<(usize, u64)>,
    eventfd: std::sync::Arc<OwnedFd>,
    count: Box<u64>,
}

pub fn run(args: &Args, model: &'static str) -> Result<ServeReport, Box<dyn Error>> {
    workload::measure::raise_nofile_limit()?;
    let queues = queues::ring()?;
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1) };
    let stop = Stop::on_signals()?;
    let listener = serve::listen(args.serve.expect("--serve"))?;
    let mut server = Server {
        queues,
        listener: Some(listener),
        conns: LoopConns::new(args.timeout()),
        spare: Spare::new()?,
        stop,
        stop_byte: Box::new([0; 8]),
        offload: if args.offload { Some(Offload::start()?) } else { None },
        ending: false,
    };
    server.start()?;
    let started = Instant::now();
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
        while let Some((user_data, res, more)) = server.queues.next_completion() {
            server.on_completion(untag(user_data), res, more)?;
        }
    }
    let report = server.conns.counters.report(model, args, 1, started);
    if let Some(offload) = server.offload {
        offload.pool.join();
    }
    Ok(report)
}

impl Offload {
    fn start() -> io::Result<Offload> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new descriptor.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created above and is owned by nothing else.
        let eventfd = std::sync::Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        let pool = ThreadPool::new(std::thread::available_parallelism()?.get())?;
        let (done, results) = crossbeam_channel::unbounded();
        Ok(Offload { pool, done, results, eventfd, count: Box::new(0) })
    }
}

impl Server {
    /// Queue `entry`, which points only into a connection, the stop byte or the offload count.
    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY: a connection is removed only when no operation of it is in flight (a CLOSE
        // points to nothing), and the stop byte and offload state live until the loop ends,
        // after every completion.
        unsafe { self.queues.push(&entry) }
    }

    /// Post the operations that stay in flight: the multishot accept, the stop read, the
    /// eventfd read.
    fn start(&mut self) -> io::Result<()> {
        self.accept()?;
        let fd = types::Fd(self.stop.as_fd().as_raw_fd());
        let read = opcode::Read::new(fd, self.stop_byte.as_mut_ptr(), 8).build();
        self.push(read.user_data(tag(Op::Stop, 0)))?;
        self.read_eventfd()
    }

    fn accept(&mut self) -> io::Result<()> {
        let Some(listener) = &self.listener else { return Ok(()) };
        let accept = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd())).build();
        self.push(accept.user_data(tag(Op::Accept, 0)))
    }

    fn read_eventfd(&mut self) -> io::Result<()> {
        let Some(offload) = self.offload.as_mut() else { return Ok(()) };
        let fd = types::Fd(offload.eventfd.as_raw_fd());
        let count = std::ptr::from_mut(offload.count.as_mut()).cast::<u8>();
        self.push(opcode::Read::new(fd, count, 8).build().user_data(tag(Op::Wake, 0)))
    }

    fn on_completion(&mut self, (op, slot): (Op, usize), res: i32, more: bool) -> io::Result<()> {
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
            Op::Recv | Op::Send => {
                let conn = &mut self.conns.slots[slot];
                conn.io.in_flight = None;
                let x = &mut conn.exchange;
                match (op, res) {
                    (Op::Recv, 0) => x.eof(),
                    (Op::Recv, n) if n > 0 => x.received(&conn.io.recv[..n as usize]),
                    (Op::Send, n) if n >= 0 => x.wrote(n as usize),
                    // Cancelled at its deadline or by the stop: the next step decides.
                    (Op::Recv, n) if -n == libc::ECANCELED => {}
                    _ => x.reset(),
                }
                self.drive(slot)
            }
            Op::Close | Op::Cancel => Ok(()), // their results change nothing
        }
    }

    fn on_accept(&mut self, res: i32, more: bool) -> io::Result<()> {
        let mut out_of_descriptors = false;
        if res >= 0 {
            // SAFETY: a successful accept's result is a new descriptor we alone own.
            let _ =
                socket2::SockRef::from(&unsafe { BorrowedFd::borrow_raw(res) }).set_nodelay(true);
            let conn = RingConn {
                fd: res,
                in_flight: None,
                deadline: None,
                recv: Box::new([0; 4096]),
                send: Vec::new(),
            };
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
                self.push(poll.user_data(tag(Op::Listen, 0)))
            }
            (false, _) => self.accept(),
            (true, _) => Ok(()),
        }
    }

    /// Advance connection `slot` until it has an operation in flight or a timer to wait for.
    fn drive(&mut self, slot: usize) -> io::Result<()> {
        loop {
            let conn = &mut self.conns.slots[slot];
            if conn.io.in_flight.is_some() {
                return Ok(());
            }
            let (x, io) = (&mut conn.exchange, &mut conn.io);
            let fd = types::Fd(io.fd);
            let entry = match x.step(Instant::now(), self.conns.stopping) {
                Step::Read { deadline } => {
                    io.deadline = Some(deadline);
                    io.in_flight = Some(Op::Recv);
                    opcode::Recv::new(fd, io.recv.as_mut_ptr(), 4096)
                        .build()
                        .user_data(tag(Op::Recv, slot))
                }
                Step::Write { deadline } => {
                    io.send.clear();
                    io.send.extend_from_slice(x.output());
                    io.deadline = Some(deadline);
                    io.in_flight = Some(Op::Send);
                    let len = io.send.len() as u32;
                    opcode::Send::new(fd, io.send.as_ptr(), len)
                        .build()
                        .user_data(tag(Op::Send, slot))
                }
                Step::Sleep { until } => {
                    self.conns.arm(slot, until);
                    return Ok(());
                }
                Step::Hash { id, work } => {
                    let Some(offload) = &self.offload else {
                        x.hashed(task::sha256_chain(id, work), Instant::now());
                        continue;
                    };
                    let (done, wake) = (offload.done.clone(), offload.eventfd.clone());
                    offload.pool.submit(move || {
                        let _ = done.send((slot, task::sha256_chain(id, work)));
                        let _ = nix::unistd::write(&*wake, &1u64.to_ne_bytes());
                    });
                    return Ok(());
                }
                Step::Busy => return Ok(()),
                Step::Close => {
                    let conn = self.conns.close(slot);
                    return self.push(
                        opcode::Close::new(types::Fd(conn.fd))
                            .build()
                            .user_data(tag(Op::Close, slot)),
                    );
                }
            };
            self.push(entry)?;
            let deadline = self.conns.slots[slot].io.deadline.expect("set above");
            self.conns.arm(slot, deadline);
            return Ok(());
        }
    }

    /// A timer for `slot`: an operation past its deadline is cancelled; else drive it.
    fn on_timer(&mut self, slot: usize) -> io::Result<()> {
        let io = &mut self.conns.slots[slot].io;
        match (io.in_flight, io.deadline) {
            (Some(op), Some(deadline)) if deadline <= Instant::now() => {
                io.deadline = None; // cancel once
                self.push(
                    opcode::AsyncCancel::new(tag(op, slot))
                        .build()
                        .user_data(tag(Op::Cancel, slot)),
                )
            }
            (Some(_), _) => Ok(()),
            (None, _) => self.drive(slot),
        }
    }

    /// SIGINT or SIGTERM: stop accepting; idle connections are cancelled out of their RECV and
    /// close, the others finish the request in hand.
    fn on_stop(&mut self) -> io::Result<()> {
        self.conns.stopping = true;
        for op in [Op::Accept, Op::Listen] {
            let cancel = opcode::AsyncCancel::new(tag(op, 0)).build();
            self.push(cancel.user_data(tag(Op::Cancel, 0)))?;
        }
        let slots: Vec<usize> = self.conns.slots.iter().map(|(slot, _)| slot).collect();
        for slot in slots {
            match self.conns.slots[slot].io.in_flight {
                Some(Op::Recv) => {
                    let cancel = opcode::AsyncCancel::new(tag(Op::Recv, slot)).build();
                    self.push(cancel.user_data(tag(Op::Cancel, slot)))?;
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
    fn cancel_the_rest(&mut self) -> io::Result<()> {
        if !std::mem::replace(&mut self.ending, true) && self.offload.is_some() {
            let cancel = opcode::AsyncCancel::new(tag(Op::Wake, 0)).build();
            self.push(cancel.user_data(tag(Op::Cancel, 0)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_and_slot_survive_their_tag() {
        let ops =
            [Op::Accept, Op::Listen, Op::Stop, Op::Wake, Op::Recv, Op::Send, Op::Close, Op::Cancel];
        for op in ops {
            for slot in [0, 1, 4095, 1 << 40] {
                assert_eq!(untag(tag(op, slot)), (op, slot));
            }
        }
    }
}
