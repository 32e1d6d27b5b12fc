//! The tasks of a hand-written event loop (`epoll`, `ring`) and their bookkeeping: the same
//! in both loops, so that the two differ only in how they wait and do I/O.
//!
//! - [`LoopTasks`]: the run's tally and clock, and the timer heap. The loop asks it how long
//!   it may wait ([`LoopTasks::wait_at_most`]) and takes each timer that falls due
//!   ([`LoopTasks::pop_due`]) to the workload it belongs to; the workload tells it each
//!   result.
//! - [`CpuTurns`]: cpu tasks taking turns on the loop's own thread, and the loop's pulse.
//! - [`Offload`]: work handed to a pool of threads, each result waking the loop: how a loop
//!   runs what would block it (cpu with `--offload`, `epoll`'s file reads).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use thread_pool::ThreadPool;

use crate::measure::Pulse;
use crate::report::Width;
use crate::timers::{Due, Timers};
use crate::{task, Args, Done, Report, Runner, Tally, TaskError};

pub struct LoopTasks {
    pub args: Args,
    /// Every timer, nearest first. For a sleeping task this is all the memory it takes.
    timers: Timers,
    tally: Tally,
    /// Every task runs on this thread, except the offloaded ones.
    runner: Runner,
    /// Tasks without a result yet; for a run whose tasks are found as it goes (the crawl),
    /// 1 until it says it is over.
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

    /// Every task is a sleep that started with the run, so its timer counts from there.
    pub fn start_sleeps(&mut self) {
        let at = self.args.sleep();
        (0..self.args.tasks).for_each(|id| self.timers.set(at, Due::Task(id)));
    }

    /// A sleep's timer is due: the task is done.
    pub fn sleep_ends(&mut self, due: Due) {
        if let Due::Task(id) = due {
            self.finish(id, Ok(task::sleep_value(id)));
        }
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

    /// Task `id` finished now, on the loop's thread. Sleeps and requests start with the run
    /// (every one at once).
    pub fn finish(&mut self, id: u32, result: Result<u64, TaskError>) {
        let start = self.tally.start;
        self.finish_started(id, result, start);
    }

    /// Task `id` finished now, on the loop's thread, having started at `started` (a disk
    /// operation: when it was submitted; a cpu task: when the loop picked it).
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

    /// The run's tasks are found as it goes (the crawl): the loop runs until
    /// [`LoopTasks::all_over`], whatever the results recorded.
    pub fn open_ended(&mut self) {
        self.open_ended = true;
        self.unfinished = 1;
    }

    /// An open-ended run is over.
    pub fn all_over(&mut self) {
        self.unfinished = 0;
    }

    /// The tally, for what only a workload knows to put in it (the crawl's figures).
    pub fn tally(&mut self) -> &mut Tally {
        &mut self.tally
    }

    /// Task `id` ran out of time doing `what` ("the request", "the query").
    pub fn time_out(&mut self, id: u32, what: &str) {
        self.finish(id, Err(TaskError::timed_out(what, self.args.timeout())));
    }

    /// Every task still without a result fails with `error`: the workload cannot go on.
    pub fn fail_the_rest(&mut self, error: TaskError) {
        self.tally.fail(self.unfinished, error);
        self.unfinished = 0;
    }

    /// Stop the clock and build the report.
    pub fn report(self) -> Report {
        self.tally.finish()
    }
}

/// cpu tasks on the loop's own thread: each waits its turn, one a turn of the loop, and
/// holds the loop while it runs. A 10 ms pulse on the loop's timers shows for how long.
pub struct CpuTurns {
    /// The tasks waiting for their turn (none, when they are offloaded).
    ready: VecDeque<u32>,
    pulse: Pulse,
}

impl CpuTurns {
    /// Every task waiting its turn, unless `offloaded`; and the pulse's first tick.
    pub fn start(tasks: &mut LoopTasks, offloaded: bool) -> CpuTurns {
        let ready = if offloaded { VecDeque::new() } else { (0..tasks.args.tasks).collect() };
        let turns = CpuTurns { ready, pulse: Pulse::default() };
        turns.set_pulse(tasks);
        turns
    }

    /// Run the next waiting task, if one waits. Whether more wait, in which case the loop
    /// must not sleep.
    pub fn run_one(&mut self, tasks: &mut LoopTasks) -> bool {
        if let Some(id) = self.ready.pop_front() {
            let started = Instant::now();
            let value = task::sha256_chain(id, tasks.args.work);
            tasks.finish_started(id, Ok(value), started);
        }
        !self.ready.is_empty()
    }

    /// The pulse's timer is due: it ticks, and the next is set a period on.
    pub fn on_pulse(&mut self, tasks: &mut LoopTasks) {
        self.pulse.tick();
        self.set_pulse(tasks);
    }

    fn set_pulse(&self, tasks: &mut LoopTasks) {
        let at = tasks.now() + Pulse::PERIOD;
        self.pulse.expect(tasks.tally.start + at);
        tasks.set_timer(at, Due::Pulse);
    }

    /// How late the pulse ticked, into the report.
    pub fn end(&self, tasks: &mut LoopTasks) {
        tasks.tally.loop_pulse(&self.pulse);
    }
}

/// Work handed off the loop: every task's `job` on a pool of threads, and after each
/// result a `wake` that the loop waits for (an eventfd it polls or reads on its ring). The
/// ThreadPoolExecutor analog that `threads --workers` runs on, used the way asyncio's
/// `run_in_executor` and libuv's file pool use theirs.
pub struct Offload {
    /// Dropped with the part, after the report: its threads are joined then.
    _pool: ThreadPool,
    results: Receiver<Done>,
}

impl Offload {
    /// `threads` threads (never more than there are tasks), each task's `job` timed and named
    /// on the thread that runs it. A pool that would cross a limit is refused before its
    /// first thread starts.
    pub fn start(
        threads: usize,
        tasks: u32,
        job: impl Fn(u32) -> Result<u64, TaskError> + Send + Sync + 'static,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<Offload> {
        let threads = threads.min(tasks as usize);
        let headroom = crate::limits::headroom(crate::limits::Worker::Thread);
        headroom.admit(threads as u64, "worker threads (--workers)")?;
        let pool = ThreadPool::new(threads)?;
        let results = pool.map_unordered(0..tasks, move |id| Done::timed(id, || job(id)), wake);
        Ok(Offload { _pool: pool, results })
    }

    /// The pool for cpu tasks with `--offload`: `--workers` threads, or one per core.
    pub fn threads_for_cpu(args: &Args) -> std::io::Result<usize> {
        match args.workers {
            Some(w) => Ok(w as usize),
            None => Ok(std::thread::available_parallelism()?.get()),
        }
    }

    /// Every result that has arrived, into the tally.
    pub fn take_results(&self, tasks: &mut LoopTasks) {
        self.results.try_iter().for_each(|done| tasks.record(done));
    }
}
