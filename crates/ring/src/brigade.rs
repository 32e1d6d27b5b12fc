//! The brigade on the ring: a pipe per task, and every task's READ of its pipe posted on the
//! ring at once. When task i's READ completes with the token, the loop posts a WRITE of the
//! next counter to the next task's pipe — whose READ then completes — and posts task i's
//! READ again. One thread, no switch; the reads and writes are ring entries, submitted in
//! batches with the loop's one `io_uring_enter` a turn.
//!
//! While an operation is in flight the kernel holds a pointer into `inbox` (a READ) or
//! `outbox` (a WRITE); both are boxed slices that live as long as the loop. A task's outbox
//! is written again only after the token has gone round the ring, so after the kernel has
//! copied it into the pipe.

use std::os::fd::{AsRawFd, OwnedFd};

use io_uring::{opcode, squeue, types};
use workload::brigade::{self, Ring};
use workload::TaskError;

use crate::connection::Op;

pub struct Brigade {
    ring: Ring,
    pipes: Vec<(OwnedFd, OwnedFd)>,
    inbox: Box<[u64]>,
    outbox: Box<[u64]>,
    values: Vec<u64>,
    received: Vec<u32>,
    broken: bool,
}

/// A task that has received its last token, or the ring's failure.
pub type Finished = (u32, Result<u64, TaskError>);

impl Brigade {
    /// The pipes, and the first entries: every task's READ, and the WRITE of 0 to task 0.
    pub fn start(ring: Ring) -> Result<(Brigade, Vec<squeue::Entry>), TaskError> {
        let pipes = brigade::pipes(ring.tasks, false)?;
        let n = ring.tasks as usize;
        let mut b = Brigade {
            ring,
            pipes,
            inbox: vec![0; n].into_boxed_slice(),
            outbox: vec![0; n].into_boxed_slice(),
            values: vec![0; n],
            received: vec![0; n],
            broken: false,
        };
        let mut first: Vec<squeue::Entry> = (0..ring.tasks).map(|i| b.read(i)).collect();
        first.push(b.write(ring.tasks - 1, 0)); // as if the last task had passed 0 to task 0
        Ok((b, first))
    }

    fn read(&mut self, i: u32) -> squeue::Entry {
        let fd = types::Fd(self.pipes[i as usize].0.as_raw_fd());
        let buf = std::ptr::from_mut(&mut self.inbox[i as usize]).cast::<u8>();
        opcode::Read::new(fd, buf, 8).build().user_data(Op::BrigadeRead.user_data(i))
    }

    /// Task `from`'s WRITE of counter `c` to the next task's pipe.
    fn write(&mut self, from: u32, c: u64) -> squeue::Entry {
        self.outbox[from as usize] = c;
        let to = self.ring.next_task(from) as usize;
        let fd = types::Fd(self.pipes[to].1.as_raw_fd());
        let buf = std::ptr::from_ref(&self.outbox[from as usize]).cast::<u8>();
        opcode::Write::new(fd, buf, 8).build().user_data(Op::BrigadeWrite.user_data(from))
    }

    /// Task `i`'s READ completed with `res`: the entries to post next, and the tasks done.
    pub fn on_read(&mut self, i: u32, res: i32) -> (Vec<squeue::Entry>, Vec<Finished>) {
        if self.broken {
            return (vec![], vec![]);
        }
        if res != 8 {
            return self.break_ring(res);
        }
        let at = i as usize;
        let c = self.inbox[at];
        self.values[at] = self.values[at].wrapping_add(c);
        self.received[at] += 1;
        let mut next = Vec::with_capacity(2);
        if let Some(c) = self.ring.pass_on(c) {
            next.push(self.write(i, c));
        }
        if self.received[at] < self.ring.laps {
            next.push(self.read(i));
            (next, vec![])
        } else {
            (next, vec![(i, Ok(self.values[at]))])
        }
    }

    /// A WRITE completed with `res`: nothing to do unless it failed.
    pub fn on_write(&mut self, res: i32) -> (Vec<squeue::Entry>, Vec<Finished>) {
        if res == 8 || self.broken {
            return (vec![], vec![]);
        }
        self.break_ring(res)
    }

    /// The ring cannot go on: cancel every READ still waiting, and fail its task.
    fn break_ring(&mut self, res: i32) -> (Vec<squeue::Entry>, Vec<Finished>) {
        self.broken = true;
        let e = std::io::Error::from_raw_os_error(if res < 0 { -res } else { libc::EIO });
        let error = TaskError::starting("the ring's pipe", &e);
        let waiting: Vec<u32> =
            (0..self.ring.tasks).filter(|&t| self.received[t as usize] < self.ring.laps).collect();
        let cancels = waiting
            .iter()
            .map(|&t| {
                let target = Op::BrigadeRead.user_data(t);
                opcode::AsyncCancel::new(target).build().user_data(Op::Cancel.user_data(t))
            })
            .collect();
        (cancels, waiting.into_iter().map(|t| (t, Err(error.clone()))).collect())
    }
}
