//! A connection of the ring's server: how the loop drives it from each completion, and the
//! entries each rung of the path (`path.rs`) posts for it.

use std::io;
use std::time::Instant;

use io_uring::{opcode, squeue};
use workload::serve::exchange::MAX_HEAD;
use workload::serve::Step;
use workload::task;

use super::server::Server;
use super::{Recv, RingConn, ServePath};
use crate::buffers;
use crate::queues::{Op, Tag};

impl Server {
    /// A RECV of connection `slot` completed with `res`: bytes (in its own buffer or a
    /// provided one), EOF, or why not. `more`: a multishot RECV stays posted.
    pub(super) fn on_recv(
        &mut self,
        slot: usize,
        res: i32,
        more: bool,
        buffer: Option<u16>,
    ) -> io::Result<()> {
        let conn = &mut self.conns.slots[slot];
        if !more {
            conn.io.recv = Recv::Idle;
        }
        let x = &mut conn.exchange;
        match res {
            0 => x.eof(),
            n if n > 0 => {
                let n = n as usize;
                match (buffer, &mut self.buffers) {
                    (Some(id), Some(pool)) => {
                        x.received(pool.bytes(id, n));
                        pool.give_back(id);
                    }
                    _ => x.received(
                        &conn.io.own.as_ref().expect("no pool: a buffer of its own")[..n],
                    ),
                }
            }
            // Cancelled: by its deadline, the stop, a close or the brake below.
            n if -n == libc::ECANCELED => {}
            // The pool was empty when bytes came: grow it; `drive` posts the RECV again.
            n if -n == libc::ENOBUFS => {
                if let Some(pool) = &mut self.buffers {
                    pool.grow();
                }
            }
            _ => x.reset(),
        }
        // A multishot RECV keeps reading while the exchange writes or waits: a client that
        // pipelines without reading its answers would fill memory. Past a request head's
        // bound, stop reading; TCP's window then holds the client back until the exchange
        // asks to read again.
        let conn = &mut self.conns.slots[slot];
        if conn.io.recv == Recv::Posted && conn.exchange.buffered() > MAX_HEAD {
            conn.io.recv = Recv::Cancelled;
            self.push(Tag::new(Op::Cancel, slot).on(Tag::new(Op::Recv, slot).cancel()))?;
        }
        self.drive(slot)
    }

    /// A SEND of connection `slot` completed with `res`.
    pub(super) fn on_send(&mut self, slot: usize, res: i32) -> io::Result<()> {
        let conn = &mut self.conns.slots[slot];
        conn.io.sending = false;
        match res {
            n if n >= 0 => conn.exchange.wrote(n as usize),
            _ => conn.exchange.reset(), // failed, or cancelled past its deadline
        }
        self.drive(slot)
    }

    /// Advance connection `slot` until it has a SEND in flight, a RECV posted or a timer to
    /// wait for.
    pub(super) fn drive(&mut self, slot: usize) -> io::Result<()> {
        loop {
            let conn = &mut self.conns.slots[slot];
            if conn.io.sending {
                return Ok(());
            }
            if conn.io.closing {
                return self.close(slot); // the exchange said so once: it is not asked again
            }
            let (x, io) = (&mut conn.exchange, &mut conn.io);
            let (op, entry, deadline) = match x.step(Instant::now(), self.conns.stopping) {
                // Past the deadline, the next step closes; the RECV need not be cancelled.
                Step::Read { deadline } if io.recv != Recv::Idle => {
                    self.conns.arm(slot, deadline);
                    return Ok(());
                }
                Step::Read { deadline } => {
                    io.recv = Recv::Posted;
                    (Op::Recv, recv(self.path, io).flags(io.socket.flags()), deadline)
                }
                Step::Write { deadline } => {
                    io.deadline = Some(deadline);
                    io.sending = true;
                    let out = x.output();
                    let send =
                        opcode::Send::new(io.socket.target(), out.as_ptr(), out.len() as u32);
                    (Op::Send, send.build().flags(io.socket.flags()), deadline)
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
                    offload.hash(slot, id, work);
                    return Ok(());
                }
                Step::Busy => return Ok(()),
                Step::Close => {
                    io.closing = true;
                    return self.close(slot);
                }
            };
            self.conns.arm(slot, deadline);
            return self.push(Tag::new(op, slot).on(entry));
        }
    }

    /// Close connection `slot`: once its RECV is over, so that no completion of it can
    /// reach the next connection in the slot.
    fn close(&mut self, slot: usize) -> io::Result<()> {
        match self.conns.slots[slot].io.recv {
            Recv::Posted => {
                self.conns.slots[slot].io.recv = Recv::Cancelled;
                self.push(Tag::new(Op::Cancel, slot).on(Tag::new(Op::Recv, slot).cancel()))
            }
            Recv::Cancelled => Ok(()), // its last completion drives it here again
            Recv::Idle => {
                let close = self.conns.close(slot).socket.close();
                self.push(Tag::new(Op::Close, slot).on(close))
            }
        }
    }

    /// A timer for `slot`: a SEND past its deadline is cancelled; else drive it.
    pub fn on_timer(&mut self, slot: usize) -> io::Result<()> {
        let io = &mut self.conns.slots[slot].io;
        match (io.sending, io.deadline) {
            (true, Some(deadline)) if deadline <= Instant::now() => {
                io.deadline = None; // cancel once
                self.push(Tag::new(Op::Cancel, slot).on(Tag::new(Op::Send, slot).cancel()))
            }
            (true, _) => Ok(()),
            (false, _) => self.drive(slot),
        }
    }
}

/// The RECV a rung posts: into the connection's own buffer; into one the kernel picks from
/// the pool; or that, for every arrival until the connection ends.
fn recv(path: ServePath, io: &mut RingConn) -> squeue::Entry {
    let fd = io.socket.target();
    match path {
        ServePath::Plain | ServePath::MultishotAccept => {
            let own = io.own.as_mut().expect("no pool: a buffer of its own");
            opcode::Recv::new(fd, own.as_mut_ptr(), own.len() as u32).build()
        }
        ServePath::ProvidedBuffers => {
            opcode::Recv::new(fd, std::ptr::null_mut(), buffers::SIZE as u32)
                .buf_group(buffers::GROUP)
                .build()
                .flags(squeue::Flags::BUFFER_SELECT)
        }
        ServePath::MultishotRecv | ServePath::FixedFiles => {
            opcode::RecvMulti::new(fd, buffers::GROUP).build()
        }
    }
}
