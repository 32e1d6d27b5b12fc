//! The brigade on the readiness loop: a pipe per task, every read end registered with epoll
//! under its task's token. When epoll says task i's pipe is readable, the loop reads the
//! token and writes it on to the next task's pipe, which epoll will report next. One thread,
//! no switch — but every hand-off goes through the kernel: a `write`, an `epoll_wait` and a
//! `read`. The anchor found the coroutines' advantage gone when hand-offs go through I/O
//! readiness; this is that case.
//!
//! Where it stops: a pipe holds two descriptors a task, so at RLIMIT_NOFILE the circle
//! cannot close, and every task fails at once naming the limit.
//!
//! Under `strace -f -c`: a `write`, a `read` and an `epoll_wait` a hand-off.

use std::os::fd::{AsRawFd, OwnedFd};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use workload::brigade::{self, Circle};
use workload::TaskError;

use crate::event_loop::{Cx, Part};

pub struct Brigade {
    circle: Circle,
    /// Task i's pipe: it reads from `.0`; the task before it writes to `.1`. Empty if the
    /// circle could not be made.
    pipes: Vec<(OwnedFd, OwnedFd)>,
    values: Vec<u64>,
    received: Vec<u32>,
}

impl Brigade {
    /// The pipes, registered under their tasks' tokens, and the token handed to task 0; if
    /// they cannot be made, every task fails.
    pub fn start(cx: &mut Cx) -> Brigade {
        let circle = Circle::of(&cx.tasks.args);
        let pipes = Brigade::pipes(cx.registry, circle).unwrap_or_else(|e| {
            cx.tasks.fail_the_rest(e);
            Vec::new()
        });
        let n = circle.tasks as usize;
        Brigade { circle, pipes, values: vec![0; n], received: vec![0; n] }
    }

    fn pipes(registry: &Registry, circle: Circle) -> Result<Vec<(OwnedFd, OwnedFd)>, TaskError> {
        let pipes = brigade::pipes(circle.tasks, true)?;
        for (i, (read, _)) in pipes.iter().enumerate() {
            registry
                .register(&mut SourceFd(&read.as_raw_fd()), Token(i), Interest::READABLE)
                .map_err(|e| TaskError::starting("epoll_ctl", &e))?;
        }
        brigade::send(&pipes[0].1, 0).map_err(|e| TaskError::starting("a pipe", &e))?;
        Ok(pipes)
    }

    /// Every task that has not finished fails with `e`: the circle cannot go on.
    fn broken(&mut self, e: &std::io::Error, cx: &mut Cx) {
        let error = TaskError::starting("the circle's pipe", e);
        for t in 0..self.circle.tasks {
            if self.received[t as usize] < self.circle.laps {
                self.received[t as usize] = self.circle.laps;
                cx.tasks.finish(t, Err(error.clone()));
            }
        }
    }
}

impl Part for Brigade {
    /// Task `i`'s pipe is readable: take what is there — readiness is edge-triggered — and
    /// pass each token on. A task is done with its last token.
    fn on_ready(&mut self, Token(at): Token, cx: &mut Cx) {
        let i = at as u32;
        loop {
            let c = match brigade::receive(&self.pipes[at].0) {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => return self.broken(&e, cx),
            };
            self.values[at] = self.values[at].wrapping_add(c);
            self.received[at] += 1;
            if self.received[at] == self.circle.laps {
                cx.tasks.finish(i, Ok(self.values[at]));
            }
            if let Some(next) = self.circle.pass_on(c) {
                let to = &self.pipes[self.circle.next_task(i) as usize].1;
                if let Err(e) = brigade::send(to, next) {
                    return self.broken(&e, cx);
                }
            }
        }
    }
}
