//! The brigade on processes: a forked child per task and a pipe per pair. Each child blocks
//! in `read` on its own pipe until the token comes, then `write`s it on to the next child's:
//! every hand-off is the kernel waking another process, in another address space. Each child
//! reports its value over the shared results pipe, as every `procs` task does.
//!
//! Under `strace -f -c`: the `clone`s of the children, and per hand-off a `write` and the
//! `read` it wakes, in another process.

use std::fs::File;
use std::io::{self, BufReader};
use std::time::Instant;

use nix::sys::signal::{kill, Signal};
use nix::unistd::pipe;
use process_pool::{read_record, start_child, write_record};
use workload::brigade::{self, Circle};
use workload::measure::wait4;
use workload::{Args, Done, Tally, TaskError};

pub fn run(args: &Args, tally: &mut Tally) -> io::Result<()> {
    let circle = Circle::of(args);
    let pipes = match brigade::pipes(circle.tasks, false) {
        Ok(pipes) => pipes,
        Err(e) => {
            tally.fail(circle.tasks, e);
            return Ok(());
        }
    };
    let (results_rx, results_tx) = pipe()?;
    let (mut children, epoch) = (Vec::with_capacity(circle.tasks as usize), tally.start);
    for i in 0..circle.tasks {
        let (from, to) = (&pipes[i as usize].0, &pipes[circle.next_task(i) as usize].1);
        let child = || {
            let mut value = 0u64;
            for _ in 0..circle.laps {
                let c = brigade::receive(from)?;
                value = value.wrapping_add(c);
                if let Some(next) = circle.pass_on(c) {
                    brigade::send(to, next)?;
                }
            }
            write_record(&results_tx, i, epoch, Ok(value), epoch)
        };
        match start_child(child) {
            Ok(pid) => children.push(pid),
            Err(e) => {
                // The circle cannot close: the children started wait for a token that never
                // comes. Stop them, reap them, and fail every task with the limit.
                for &pid in &children {
                    let _ = kill(pid, Signal::SIGKILL);
                }
                for pid in children {
                    wait4(pid.as_raw())?;
                }
                tally.fail(
                    circle.tasks,
                    TaskError::starting(&format!("fork after {i} children"), &e),
                );
                return Ok(());
            }
        }
    }
    tally.sample_threads();
    drop(results_tx);
    brigade::send(&pipes[0].1, 0)?;
    drop(pipes); // the children hold their ends; ours go
    let mut results = BufReader::new(File::from(results_rx));
    while let Some(done) = read_record(&mut results, epoch)? {
        tally.record(Done { ended: Instant::now(), ..done });
    }
    for pid in children {
        let child = wait4(pid.as_raw())?;
        tally.add_child(&child);
        if let Some(why) = child.failure() {
            tally.fail(0, TaskError::new(why));
        }
    }
    Ok(())
}
