//! The brigade workload (`CONTRACT.md`, "Task i", brigade): N tasks in a circle pass a token
//! `--laps` times round, and every hand-off wakes the next task — the bucket brigade of
//! jimblandy/context-switch, which measures what a switch between tasks costs on its own.
//!
//! The token is a counter: task 0 is handed 0, and each task passes on what it received plus
//! one. Task i therefore receives i, N + i, 2N + i, … — exactly `--laps` counters — and its
//! value is their sum; the checksum is 0 + 1 + … + (N·L − 1). Each model hands the token on
//! its own natural way (a channel, a pipe, an io_uring entry); what a task does with it is here.

use std::os::fd::OwnedFd;

use crate::cli::Args;
use crate::error::TaskError;

/// One run's circle: how many tasks, how many laps.
#[derive(Clone, Copy, Debug)]
pub struct Circle {
    pub tasks: u32,
    pub laps: u32,
}

impl Circle {
    pub fn of(args: &Args) -> Circle {
        Circle { tasks: args.tasks, laps: args.laps }
    }

    /// Every hand-off of the run, the first (to task 0) included: N·L.
    pub fn handoffs(self) -> u64 {
        u64::from(self.tasks) * u64::from(self.laps)
    }

    /// The task after task `i`.
    pub fn next_task(self, i: u32) -> u32 {
        (i + 1) % self.tasks
    }

    /// What to pass on after receiving counter `c`: `c + 1`, unless `c` was the last.
    pub fn pass_on(self, c: u64) -> Option<u64> {
        (c + 1 < self.handoffs()).then_some(c + 1)
    }
}

/// The checksum of a brigade of `tasks` tasks and `laps` laps: (N·L)(N·L − 1) / 2, wrapping.
pub fn expected_checksum(tasks: u32, laps: u32) -> u64 {
    let h = u128::from(tasks) * u128::from(laps);
    (h * h.saturating_sub(1) / 2) as u64
}

/// A pipe per task — the pipe task `i` reads its token from — as (read, write) ends;
/// `nonblocking` for a loop that waits on readiness. Two descriptors a task: at the
/// descriptor limit this fails naming RLIMIT_NOFILE.
pub fn pipes(tasks: u32, nonblocking: bool) -> Result<Vec<(OwnedFd, OwnedFd)>, TaskError> {
    use nix::fcntl::OFlag;
    let flags = OFlag::O_CLOEXEC | if nonblocking { OFlag::O_NONBLOCK } else { OFlag::empty() };
    (0..tasks)
        .map(|i| {
            nix::unistd::pipe2(flags).map_err(|e| {
                TaskError::starting(&format!("pipe for task {i} of {tasks}"), &e.into())
            })
        })
        .collect()
}

/// Read one token (8 bytes, native order) from a blocking pipe.
pub fn receive(from: &OwnedFd) -> std::io::Result<u64> {
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < 8 {
        match nix::unistd::read(from, &mut buf[got..]) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(u64::from_ne_bytes(buf))
}

/// Write one token to a pipe: 8 bytes, under PIPE_BUF, so one write, whole.
pub fn send(to: &OwnedFd, c: u64) -> std::io::Result<()> {
    loop {
        match nix::unistd::write(to, &c.to_ne_bytes()) {
            Ok(8) => return Ok(()),
            Ok(n) => return Err(std::io::Error::other(format!("a pipe took {n} of 8 bytes"))),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// A task's value: the sum of the counters it received, `i + kN` for k = 0 … L − 1.
pub fn value_of(circle: Circle, i: u32) -> u64 {
    (0..u64::from(circle.laps))
        .map(|k| k * u64::from(circle.tasks) + u64::from(i))
        .fold(0, u64::wrapping_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_received_once_and_the_values_sum_to_the_checksum() {
        for (tasks, laps) in [(1, 1), (1, 7), (3, 5), (10, 1), (7, 13)] {
            let circle = Circle { tasks, laps };
            let (mut values, mut c, mut at) = (vec![0u64; tasks as usize], Some(0u64), 0u32);
            while let Some(got) = c {
                values[at as usize] += got;
                c = circle.pass_on(got);
                at = circle.next_task(at);
            }
            assert_eq!(values.iter().sum::<u64>(), expected_checksum(tasks, laps));
            for (i, v) in values.iter().enumerate() {
                assert_eq!(*v, value_of(circle, i as u32));
            }
        }
        assert_eq!(expected_checksum(12, 50), 179_700);
    }

    #[test]
    fn a_token_goes_through_a_pipe_whole() {
        let pipes = pipes(2, false).unwrap();
        send(&pipes[1].1, 41).unwrap();
        assert_eq!(receive(&pipes[1].0).unwrap(), 41);
    }
}
