//! The brigade in the readiness loop: a pipe per task, every read end registered with epoll
//! under its task's token. When epoll says task i's pipe is readable, the loop reads the
//! token and writes it on to the next task's pipe, which epoll will report next. One thread,
//! no switch — but every hand-off goes through the kernel: a `write`, an `epoll_wait` and a
//! `read`. The anchor found the coroutines' advantage gone when hand-offs go through I/O
//! readiness; this is that case.

use std::os::fd::{AsRawFd, OwnedFd};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use workload::brigade::{self, Ring};
use workload::TaskError;

pub struct Brigade {
    ring: Ring,
    /// Task i's pipe: it reads from `.0`; the task before it writes to `.1`.
    pipes: Vec<(OwnedFd, OwnedFd)>,
    values: Vec<u64>,
    received: Vec<u32>,
}

/// A task that has received its last token, or the ring's failure.
pub type Finished = (u32, Result<u64, TaskError>);

impl Brigade {
    /// The pipes, registered under their tasks' tokens, and the token handed to task 0.
    pub fn start(registry: &Registry, ring: Ring) -> Result<Brigade, TaskError> {
        let pipes = brigade::pipes(ring.tasks, true)?;
        for (i, (read, _)) in pipes.iter().enumerate() {
            registry
                .register(&mut SourceFd(&read.as_raw_fd()), Token(i), Interest::READABLE)
                .map_err(|e| TaskError::starting("epoll_ctl", &e))?;
        }
        brigade::send(&pipes[0].1, 0).map_err(|e| TaskError::starting("a pipe", &e))?;
        let n = ring.tasks as usize;
        Ok(Brigade { ring, pipes, values: vec![0; n], received: vec![0; n] })
    }

    /// Task `i`'s pipe is readable: take what is there — readiness is edge-triggered — and
    /// pass each token on. The tasks that received their last token; on an error, every
    /// task still waiting, since the ring cannot go on.
    pub fn on_ready(&mut self, i: u32) -> Vec<Finished> {
        let mut finished = Vec::new();
        loop {
            let c = match brigade::receive(&self.pipes[i as usize].0) {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return finished,
                Err(e) => return self.broken(&e),
            };
            let at = i as usize;
            self.values[at] = self.values[at].wrapping_add(c);
            self.received[at] += 1;
            if self.received[at] == self.ring.laps {
                finished.push((i, Ok(self.values[at])));
            }
            if let Some(next) = self.ring.pass_on(c) {
                let to = &self.pipes[self.ring.next_task(i) as usize].1;
                if let Err(e) = brigade::send(to, next) {
                    return self.broken(&e);
                }
            }
        }
    }

    /// Every task that has not finished fails with `e`.
    fn broken(&mut self, e: &std::io::Error) -> Vec<Finished> {
        let error = TaskError::starting("the ring's pipe", e);
        let waiting = (0..self.ring.tasks).filter(|&t| self.received[t as usize] < self.ring.laps);
        let failed: Vec<Finished> = waiting.map(|t| (t, Err(error.clone()))).collect();
        failed.iter().for_each(|(t, _)| self.received[*t as usize] = self.ring.laps);
        failed
    }
}
