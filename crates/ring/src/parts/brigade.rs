//! The brigade on the completion loop: a pipe per task, and every task's READ of its pipe
//! posted at once. When task i's READ completes with the token, the loop posts a WRITE of the
//! next counter to the next task's pipe — whose READ then completes — and posts task i's READ
//! again. One thread, no switch, and no `read` or `write` system call either: the pipe I/O
//! rides on the loop's one `io_uring_enter` a turn, in batches.
//!
//! While an operation is in flight the kernel holds a pointer into `inbox` (a READ) or
//! `outbox` (a WRITE); both are boxed slices that live as long as the loop. A task's outbox
//! is written again only after the token has gone round the circle, so after the kernel has
//! copied it into the pipe.
//!
//! Where it stops: a pipe holds two descriptors a task, so at RLIMIT_NOFILE the circle
//! cannot close, and every task fails at once naming the limit.
//!
//! Under `strace -f -c`: `io_uring_enter`, and no `read` or `write`.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use io_uring::{opcode, squeue, types};
use workload::brigade::{self, Circle};
use workload::TaskError;

use crate::event_loop::{Cx, Part};
use crate::queues::{Completion, Op, Tag};

pub struct Brigade {
    circle: Circle,
    pipes: Vec<(OwnedFd, OwnedFd)>,
    inbox: Box<[u64]>,
    outbox: Box<[u64]>,
    values: Vec<u64>,
    received: Vec<u32>,
    broken: bool,
}

impl Brigade {
    /// The pipes, every task's READ, and the WRITE of 0 to task 0; if the pipes cannot be
    /// made, every task fails.
    pub fn start(cx: &mut Cx) -> io::Result<Brigade> {
        let circle = Circle::of(&cx.tasks.args);
        let pipes = brigade::pipes(circle.tasks, false).unwrap_or_else(|e| {
            cx.tasks.fail_the_rest(e);
            Vec::new()
        });
        let n = circle.tasks as usize;
        let mut b = Brigade {
            circle,
            inbox: vec![0; n].into_boxed_slice(),
            outbox: vec![0; n].into_boxed_slice(),
            values: vec![0; n],
            received: vec![0; n],
            broken: pipes.is_empty(),
            pipes,
        };
        if !b.broken {
            for i in 0..circle.tasks {
                b.read(i, cx)?;
            }
            b.write(circle.tasks - 1, 0, cx)?; // as if the last task had passed 0 to task 0
        }
        Ok(b)
    }

    /// Task `i`'s READ of its pipe.
    fn read(&mut self, i: u32, cx: &mut Cx) -> io::Result<()> {
        let fd = types::Fd(self.pipes[i as usize].0.as_raw_fd());
        let buf = std::ptr::from_mut(&mut self.inbox[i as usize]).cast::<u8>();
        // SAFETY: the READ writes into `inbox[i]`, a boxed slice the part keeps, unmoved, to
        // the loop's end; task i has one READ in flight at a time.
        unsafe { cx.submit(Tag::new(Op::Read, i), opcode::Read::new(fd, buf, 8).build()) }
    }

    /// Task `from`'s WRITE of counter `c` to the next task's pipe.
    fn write(&mut self, from: u32, c: u64, cx: &mut Cx) -> io::Result<()> {
        self.outbox[from as usize] = c;
        let to = self.circle.next_task(from) as usize;
        let fd = types::Fd(self.pipes[to].1.as_raw_fd());
        let buf = std::ptr::from_ref(&self.outbox[from as usize]).cast::<u8>();
        let entry: squeue::Entry = opcode::Write::new(fd, buf, 8).build();
        // SAFETY: the WRITE reads `outbox[from]`, kept as `inbox` is, and written again only
        // once the token has gone round the circle, long after this WRITE completed.
        unsafe { cx.submit(Tag::new(Op::Write, from), entry) }
    }

    /// Task `i`'s READ completed with the token: count it, pass it on, and read again unless
    /// it was the task's last.
    fn on_read(&mut self, i: u32, cx: &mut Cx) -> io::Result<()> {
        let at = i as usize;
        let c = self.inbox[at];
        self.values[at] = self.values[at].wrapping_add(c);
        self.received[at] += 1;
        if let Some(c) = self.circle.pass_on(c) {
            self.write(i, c, cx)?;
        }
        if self.received[at] < self.circle.laps {
            self.read(i, cx)
        } else {
            cx.tasks.finish(i, Ok(self.values[at]));
            Ok(())
        }
    }

    /// The circle cannot go on: cancel every READ still waiting, and fail its task.
    fn break_circle(&mut self, res: i32, cx: &mut Cx) -> io::Result<()> {
        self.broken = true;
        let e = io::Error::from_raw_os_error(if res < 0 { -res } else { libc::EIO });
        let error = TaskError::starting("the circle's pipe", &e);
        for t in 0..self.circle.tasks {
            if self.received[t as usize] < self.circle.laps {
                cx.tasks.finish(t, Err(error.clone()));
                let cancel = Tag::new(Op::Read, t).cancel();
                // SAFETY: an ASYNC_CANCEL points to nothing.
                unsafe { cx.submit(Tag::new(Op::Cancel, t), cancel)? };
            }
        }
        Ok(())
    }
}

impl Part for Brigade {
    fn on_complete(&mut self, done: Completion, cx: &mut Cx) -> io::Result<()> {
        let Completion { tag, res, .. } = done;
        match (tag.op, res) {
            _ if self.broken => Ok(()),
            (Op::Read, 8) => self.on_read(tag.slot, cx),
            (Op::Write, 8) => Ok(()),
            _ => self.break_circle(res, cx),
        }
    }
}
