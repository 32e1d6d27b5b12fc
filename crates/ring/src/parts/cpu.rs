//! cpu on the completion loop: the tasks take turns on the loop's one thread, one a turn, and
//! each holds it for as long as it hashes, as the loop's 10 ms pulse shows (`loop_lag_ms`).
//! `--offload` hands every task to the shared thread pool (one thread per core, or
//! `--workers W`); after each result a thread writes to an eventfd, and the READ of it the
//! loop keeps posted completes (`wake.rs`): even the pool's wake-up is a completion.
//!
//! Under `strace -f -c`: `io_uring_enter` for the pulse; with `--offload`, a `clone` per pool
//! thread, `futex` as they take tasks, and their `write`s to the eventfd.

use std::io;

use workload::cpu_turns::CpuTurns;
use workload::loop_tasks::LoopTasks;
use workload::offload::Offload;
use workload::task;
use workload::timers::Due;

use crate::event_loop::{Cx, Part};
use crate::queues::Completion;
use crate::wake::Wake;

pub struct Cpu {
    turns: CpuTurns,
    /// With `--offload`: the pool every task runs on, and the eventfd it wakes the loop by.
    offload: Option<(Offload, Wake)>,
}

impl Cpu {
    pub fn start(cx: &mut Cx) -> io::Result<Cpu> {
        let args = cx.tasks.args;
        let mut offload = None;
        if args.offload {
            let threads = Offload::threads_for_cpu(&args)?;
            let mut wake = Wake::new()?;
            let hash = move |id| Ok(task::sha256_chain(id, args.work));
            let pool = Offload::start(threads, args.tasks, hash, wake.notifier())?;
            // SAFETY: the READ points into `wake`, which the part keeps to the loop's end.
            unsafe { cx.submit(Wake::TAG, wake.read())? };
            offload = Some((pool, wake));
        }
        Ok(Cpu { turns: CpuTurns::start(cx.tasks, args.offload), offload })
    }
}

impl Part for Cpu {
    /// The pool has results: take every one that has arrived, and read the eventfd again
    /// while tasks remain.
    fn on_complete(&mut self, _: Completion, cx: &mut Cx) -> io::Result<()> {
        let (pool, wake) = self.offload.as_mut().expect("only the pool's wake-ups complete");
        pool.take_results(cx.tasks);
        if cx.tasks.unfinished > 0 {
            // SAFETY: as in `start`.
            unsafe { cx.submit(Wake::TAG, wake.read())? };
        }
        Ok(())
    }

    fn take_turn(&mut self, cx: &mut Cx) -> bool {
        self.turns.run_one(cx.tasks)
    }

    fn on_timer(&mut self, due: Due, cx: &mut Cx) -> io::Result<()> {
        if due == Due::Pulse {
            self.turns.on_pulse(cx.tasks);
        }
        Ok(())
    }

    fn end(&mut self, tasks: &mut LoopTasks) {
        self.turns.end(tasks);
    }
}
