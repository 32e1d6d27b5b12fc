//! The tasks of a hand-written event loop (`epoll`, `ring`) and their bookkeeping: the same
//! in both loops, so that the two differ only in how they wait and do I/O. Like the loops,
//! it names no workload: each part sets its own timers and says each of its results.
//!
//! [`LoopTasks`]: the run's tally and clock, and the timer heap. The loop asks it how long it
//! may wait ([`LoopTasks::wait_at_most`]) and takes each timer that falls due
//! ([`LoopTasks::pop_due`]) to the part it belongs to; the part tells it each result. What a
//! part hands the loop besides (tasks taking turns on its thread, work handed to a pool of
//! threads) lives in modules of its own, which the crate's Layout names.

use std::time::{Duration, Instant};

use crate::report::Width;
use crate::timers::{Due, Timers};
use crate::{Args, Done, Report, Runner, Tally, TaskError};

pub struct LoopTasks {
    pub args: Args,
    /// Every timer, nearest first. For a task that only waits, this is all the memory it
    /// takes.
    timers: Timers,
    tally: Tally,
    /// Every task runs on this thread, except those handed to a pool.
    runner: Runner,
    /// Tasks without a result yet; for a run whose tasks are found as it goes, 1 until it
    /// says it is over.
    pub unfinished: u32,
    open_ended: bool,
}

impl LoopTasks {
    /// Start the clock of a run of `args` in `model`'s name: one loop, on which every task
    /// can wait at once, unless the workload says otherwise ([`LoopTasks::set_width`]).
    pub fn start(model: &'static str, args: Args) -> Result<LoopTasks, TaskError> {
        Ok(LoopTasks {
            timers: Timers::with_capacity(args.tasks as usize)?,
            runner: Runner::here(),
            unfinished: args.tasks,
            open_ended: false,
            tally: Tally::start(model, &args, Width::one_loop(&args)),
            args,
        })
    }

    /// The run is `width` wide after all: its workload runs on threads of its own, or has
    /// fewer tasks than N waiting at once.
    pub fn set_width(&mut self, width: Width) {
        self.tally.set_width(width);
    }

    /// Time since the run's start, on the clock every timer counts from.
    pub fn now(&self) -> Duration {
        self.tally.start.elapsed()
    }

    /// A timer due `at` after the run's start.
    pub fn set_timer(&mut self, at: Duration, due: Due) {
        self.timers.set(at, due);
    }

    /// Task `id`, started now, must end by its `--timeout-ms` deadline.
    pub fn set_deadline(&mut self, id: u32) {
        self.timers.set(self.now() + self.args.timeout(), Due::Task(id));
    }

    /// The longest the loop may wait for I/O: until the next timer; `None` when there is
    /// none.
    pub fn wait_at_most(&self) -> Option<Duration> {
        self.timers.next_in(self.now())
    }

    /// Whether a timer is still to come.
    pub fn has_timers(&self) -> bool {
        !self.timers.is_empty()
    }

    /// The nearest timer, taken off the heap, if it is due now.
    pub fn pop_due(&mut self) -> Option<Due> {
        self.timers.pop_due(self.now())
    }

    /// Task `id` finished now, on the loop's thread, having started with the run (as every
    /// task does whose part starts them all at once).
    pub fn finish(&mut self, id: u32, result: Result<u64, TaskError>) {
        let start = self.tally.start;
        self.finish_started(id, result, start);
    }

    /// Task `id` finished now, on the loop's thread, having started at `started` (when its
    /// part submitted it, or picked it to run).
    pub fn finish_started(&mut self, id: u32, result: Result<u64, TaskError>, started: Instant) {
        let runner = self.runner;
        self.record(Done { id, result, started, ended: Instant::now(), runner });
    }

    /// A task finished, here or on a pool.
    pub fn record(&mut self, done: Done) {
        self.tally.record(done);
        if !self.open_ended {
            self.unfinished -= 1;
        }
    }

    /// The run's tasks are found as it goes: the loop runs until
    /// [`LoopTasks::all_over`], whatever the results recorded.
    pub fn open_ended(&mut self) {
        self.open_ended = true;
        self.unfinished = 1;
    }

    /// An open-ended run is over.
    pub fn all_over(&mut self) {
        self.unfinished = 0;
    }

    /// The tally, for what only a part knows to put in it (its own figures).
    pub fn tally(&mut self) -> &mut Tally {
        &mut self.tally
    }

    /// Task `id` ran out of time doing `what`, in the part's words.
    pub fn time_out(&mut self, id: u32, what: &str) {
        self.finish(id, Err(TaskError::timed_out(what, self.args.timeout())));
    }

    /// Every task still without a result fails with `error`: the part cannot go on.
    pub fn fail_the_rest(&mut self, error: TaskError) {
        self.tally.fail(self.unfinished, error);
        self.unfinished = 0;
    }

    /// Stop the clock and build the report.
    pub fn report(self) -> Report {
        self.tally.finish()
    }
}
