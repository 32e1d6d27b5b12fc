//! A connection of the ring's server: its socket, the buffers the kernel holds while its
//! one operation is in flight, and how the loop drives it from each completion.

use std::io;
use std::time::Instant;

use io_uring::{opcode, types};
use workload::serve::Step;
use workload::task;

use super::server::Server;
use crate::queues::{Op, Tag};

impl Server {
    /// A RECV or SEND of connection `slot` completed with `res`.
    pub(super) fn on_socket_op(&mut self, op: Op, slot: usize, res: i32) -> io::Result<()> {
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

    /// Advance connection `slot` until it has an operation in flight or a timer to wait for.
    pub(super) fn drive(&mut self, slot: usize) -> io::Result<()> {
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
                        .user_data(Tag::new(Op::Recv, slot).user_data())
                }
                Step::Write { deadline } => {
                    io.send.clear();
                    io.send.extend_from_slice(x.output());
                    io.deadline = Some(deadline);
                    io.in_flight = Some(Op::Send);
                    let len = io.send.len() as u32;
                    opcode::Send::new(fd, io.send.as_ptr(), len)
                        .build()
                        .user_data(Tag::new(Op::Send, slot).user_data())
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
                    let conn = self.conns.close(slot);
                    return self.push(
                        opcode::Close::new(types::Fd(conn.fd))
                            .build()
                            .user_data(Tag::new(Op::Close, slot).user_data()),
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
    pub fn on_timer(&mut self, slot: usize) -> io::Result<()> {
        let io = &mut self.conns.slots[slot].io;
        match (io.in_flight, io.deadline) {
            (Some(op), Some(deadline)) if deadline <= Instant::now() => {
                io.deadline = None; // cancel once
                self.push(
                    opcode::AsyncCancel::new(Tag::new(op, slot).user_data())
                        .build()
                        .user_data(Tag::new(Op::Cancel, slot).user_data()),
                )
            }
            (Some(_), _) => Ok(()),
            (None, _) => self.drive(slot),
        }
    }
}
