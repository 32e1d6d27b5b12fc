//! The tasks of a hand-written event loop (`epoll`, `ring`) and their bookkeeping: the same
//! in both loops, so that the two differ only in how they wait and do I/O.
//!
//! [`LoopTasks`] holds the run's tally and clock, the timer heap, the cpu tasks waiting for
//! their turn on the loop's thread, and the loop's pulse. The loop asks it how long it may
//! wait ([`LoopTasks::wait_at_most`]), lets it fire what is due ([`LoopTasks::next_deadline`]
//! hands back only the request deadlines, which need the loop's sockets), and tells it each
//! result.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::measure::Pulse;
use crate::timers::{Due, Timers};
use crate::{task, Args, Report, Runner, Tally, TaskError, Workload};

/// A result computed off the loop, on a pool (cpu with `--offload`, `epoll`'s file reads):
/// task id, value or error, when it started and finished, where.
pub type Offloaded = (u32, Result<u64, TaskError>, Instant, Instant, Runner);

pub struct LoopTasks {
    pub args: Args,
    /// Every timer, nearest first. For a sleeping task this is all the memory it takes.
    timers: Timers,
    /// cpu tasks waiting for their turn on the loop's own thread.
    ready: VecDeque<u32>,
    /// The loop's 10 ms timer while cpu tasks run: how late it fires shows how long the loop
    /// was held up.
    pulse: Option<Pulse>,
    tally: Tally,
    /// Every task runs on this thread, except the offloaded ones.
    runner: Runner,
    /// Tasks without a result yet.
    pub unfinished: u32,
}

impl LoopTasks {
    /// Start the clock of a run of `args` in `model`'s name, on `workers` threads (the loop's
    /// one, or the pool it hands files to) with `concurrency` tasks able to wait at once;
    /// sleeps and cpu tasks start here, requests and file operations are the loop's to start.
    pub fn start(model: &'static str, args: Args, workers: u32, concurrency: u32) -> LoopTasks {
        let mut tasks = LoopTasks {
            timers: Timers::with_capacity(args.tasks as usize),
            ready: VecDeque::new(),
            pulse: None,
            runner: Runner::here(),
            unfinished: args.tasks,
            tally: Tally::start(model, &args, workers, concurrency),
            args,
        };
        match args.workload {
            // Every task starts at the run's start, so its sleep counts from there.
            Workload::Sleep => {
                (0..args.tasks).for_each(|id| tasks.timers.set(args.sleep(), Due::SleepEnds(id)))
            }
            Workload::Http | Workload::Disk | Workload::Brigade | Workload::Db => {}
            Workload::Cpu => {
                if !args.offload {
                    tasks.ready.extend(0..args.tasks);
                }
                tasks.pulse = Some(Pulse::default());
                tasks.set_pulse(Duration::ZERO);
            }
        }
        tasks
    }

    /// Time since the run's start, on the clock every timer counts from.
    fn now(&self) -> Duration {
        self.tally.start.elapsed()
    }

    /// A request started now must end by its `--timeout-ms` deadline.
    pub fn set_deadline(&mut self, id: u32) {
        self.timers.set(self.args.timeout(), Due::RequestDeadline(id));
    }

    /// The next pulse, one period after `now`; the pulse learns when its tick is due.
    fn set_pulse(&mut self, now: Duration) {
        let at = now + Pulse::PERIOD;
        self.pulse.as_ref().expect("a pulse to set").expect(self.tally.start + at);
        self.timers.set(at, Due::Pulse);
    }

    /// The longest the loop may wait for I/O: not at all while cpu tasks wait, else until
    /// the next timer; `None` when there is no timer.
    pub fn wait_at_most(&self) -> Option<Duration> {
        if !self.ready.is_empty() {
            return Some(Duration::ZERO);
        }
        self.timers.next_in(self.now())
    }

    /// Whether anything is still to come from the timers or the ready queue.
    pub fn waiting(&self) -> bool {
        !self.timers.is_empty() || !self.ready.is_empty()
    }

    /// Task `id` finished now, on the loop's thread. Sleeps and requests start with the run
    /// (every one at once); a cpu task on the loop starts when the loop picks it.
    pub fn finish(&mut self, id: u32, result: Result<u64, TaskError>) {
        let start = self.tally.start;
        self.finish_started(id, result, start);
    }

    /// Task `id` finished now, on the loop's thread, having started at `started` (a disk
    /// operation: when it was submitted).
    pub fn finish_started(&mut self, id: u32, result: Result<u64, TaskError>, started: Instant) {
        self.tally.record(id, result, started, Instant::now(), self.runner);
        self.unfinished -= 1;
    }

    /// A task finished on the offload pool.
    pub fn finish_offloaded(&mut self, (id, value, started, finished, runner): Offloaded) {
        self.tally.record(id, value, started, finished, runner);
        self.unfinished -= 1;
    }

    /// Run one waiting cpu task, if there is one: it holds the loop for as long as it runs.
    pub fn run_one_cpu_task(&mut self) {
        if let Some(id) = self.ready.pop_front() {
            let started = Instant::now();
            let value = task::sha256_chain(id, self.args.work);
            self.finish_started(id, Ok(value), started);
        }
    }

    /// Fire every timer that is due — a sleep ends, the pulse ticks — up to the next request
    /// deadline that is due, whose id it returns: only the loop can close that request.
    pub fn next_deadline(&mut self) -> Option<u32> {
        let now = self.now();
        loop {
            match self.timers.pop_due(now)? {
                Due::SleepEnds(id) => self.finish(id, Ok(task::sleep_value(id))),
                Due::RequestDeadline(id) => return Some(id),
                Due::Pulse => {
                    self.pulse.as_ref().expect("a pulse timer has a pulse").tick();
                    self.set_pulse(now);
                }
            }
        }
    }

    /// Request `id` ran out of time.
    pub fn time_out(&mut self, id: u32) {
        let what = if self.args.workload == Workload::Db { "the query" } else { "the request" };
        self.finish(id, Err(TaskError::timed_out(what, self.args.timeout())));
    }

    /// Stop the clock and build the report, with the pulse's lag if it ran.
    pub fn report(mut self) -> Report {
        if let Some(pulse) = &self.pulse {
            self.tally.loop_pulse(pulse);
        }
        self.tally.finish()
    }
}
