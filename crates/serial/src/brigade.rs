//! The brigade on one thread: the baseline that has the pipes but no switch. The token goes
//! through a pipe per task as in the threaded circle — written to task i's pipe, then read back
//! from it — but one thread does every read and write, so no hand-off ever waits or wakes
//! anyone. What a switch costs is read by subtracting this from the others.
//!
//! Under `strace -f -c`: a `write` and a `read` per hand-off, nothing else.

use std::time::Instant;

use workload::brigade::{self, Circle};
use workload::{Args, Done, Runner, Tally, TaskError};

pub fn run(args: &Args, tally: &mut Tally) {
    let circle = Circle::of(args);
    let pipes = match brigade::pipes(circle.tasks, false) {
        Ok(pipes) => pipes,
        Err(e) => return tally.fail(circle.tasks, e),
    };
    let mut values = vec![0u64; circle.tasks as usize];
    let (mut token, mut at) = (Some(0u64), 0u32);
    while let Some(c) = token {
        let (read, write) = &pipes[at as usize];
        let passed = brigade::send(write, c).and_then(|()| brigade::receive(read));
        match passed {
            Ok(got) => values[at as usize] = values[at as usize].wrapping_add(got),
            Err(e) => return tally.fail(circle.tasks, TaskError::starting("a pipe", &e)),
        }
        token = circle.pass_on(c);
        at = circle.next_task(at);
    }
    let (now, runner) = (Instant::now(), Runner::here());
    for (i, value) in (0..).zip(values) {
        tally.record(Done { id: i, result: Ok(value), started: tally.start, ended: now, runner });
    }
}
