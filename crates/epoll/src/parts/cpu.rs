//! cpu on the readiness loop: the tasks take turns on the loop's one thread, one a turn, and
//! each holds it for as long as it hashes — no timer fires and no socket is read meanwhile,
//! as the loop's 10 ms pulse shows (`loop_lag_ms`). `--offload` hands every task to a pool of
//! one thread per core, or `--workers W` (`thread_pool::ThreadPool`), and each result wakes
//! the loop through the waker (an eventfd): the article's `run_in_executor`, by hand.
//!
//! Under `strace -f -c`: `epoll_wait` for the pulse; with `--offload`, `clone` for the pool,
//! `futex` as its threads take tasks, and the eventfd's `write` per result.

use std::io;

use workload::cpu_turns::CpuTurns;
use workload::offload::Offload;
use workload::task;
use workload::timers::Due;

use crate::event_loop::{Cx, Part, WAKER};

pub struct Cpu {
    turns: CpuTurns,
    /// With `--offload`: the pool every task runs on.
    offload: Option<Offload>,
}

impl Cpu {
    pub fn start(cx: &mut Cx) -> io::Result<Cpu> {
        let args = cx.tasks.args;
        let offload = if args.offload {
            let threads = Offload::threads_for_cpu(&args)?;
            let waker = cx.waker.clone();
            let hash = move |id| Ok(task::sha256_chain(id, args.work));
            Some(Offload::start(threads, args.tasks, hash, move || {
                let _ = waker.wake();
            })?)
        } else {
            None
        };
        Ok(Cpu { turns: CpuTurns::start(cx.tasks, args.offload), offload })
    }
}

impl Part for Cpu {
    fn take_turn(&mut self, cx: &mut Cx) -> bool {
        self.turns.run_one(cx.tasks)
    }

    fn on_timer(&mut self, due: Due, cx: &mut Cx) {
        if due == Due::Pulse {
            self.turns.on_pulse(cx.tasks);
        }
    }

    fn on_ready(&mut self, token: mio::Token, cx: &mut Cx) {
        if let (WAKER, Some(offload)) = (token, &self.offload) {
            offload.take_results(cx.tasks);
        }
    }

    fn end(&mut self, tasks: &mut workload::loop_tasks::LoopTasks) {
        self.turns.end(tasks);
    }
}
