//! The loop's state — timers, sockets, the ready queue, the waker — and one handler for each
//! thing it waits on: a timer falls due, a socket is ready, the pool wakes it.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::{Poll, Token, Waker};
use thread_pool::ThreadPool;
use workload::measure::Pulse;
use workload::timers::{Due, Timers};
use workload::{task, Args, Report, Runner, Tally, TaskError, Workload};

use crate::connection::Connection;

/// The waker's token; a socket's token is its task's id.
pub const WAKER: Token = Token(usize::MAX);

/// Everything the loop waits on, and the tally its tasks report to.
pub struct EventLoop {
    args: Args,
    /// The epoll instance: every socket and the waker are registered with it.
    pub poll: Poll,
    /// Every timer, nearest first. For a sleeping task this is all the memory it takes.
    timers: Timers,
    /// The http tasks' sockets by task id; `None` once the task is done (dropping it closes
    /// the socket), so a deadline or a late event for it finds nothing to do.
    sockets: Vec<Option<Connection>>,
    /// cpu tasks waiting for their turn on the loop's own thread.
    ready: VecDeque<u32>,
    /// With `--offload`: the pool that runs cpu tasks, and the results it sends back.
    offload: Option<(ThreadPool, Receiver<Done>)>,
    /// An eventfd registered as [`WAKER`]: the pool writes to it after each result. The loop
    /// keeps its own handle, for were the last worker to close the eventfd, epoll would
    /// forget an event it had not yet handed out.
    waker: Arc<Waker>,
    /// The loop's 10 ms timer while cpu tasks run: how late it fires shows how long the loop
    /// was held up.
    pulse: Option<Pulse>,
    tally: Tally,
    /// Every task runs on this thread, except the offloaded ones.
    runner: Runner,
    /// Tasks without a result yet: the loop runs until there are none.
    pub unfinished: u32,
}

/// An offloaded cpu task's result as the pool sends it back.
type Done = (u32, u64, Instant, Runner);

impl EventLoop {
    /// The loop for `args`; the clock of the tally, in `model`'s name, starts last.
    pub fn new(model: &'static str, args: Args) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(EventLoop {
            timers: Timers::with_capacity(args.tasks as usize),
            sockets: Vec::new(),
            ready: VecDeque::new(),
            offload: None,
            pulse: None,
            runner: Runner::here(),
            unfinished: args.tasks,
            tally: Tally::start(model, &args, 1, args.tasks),
            args,
            poll,
            waker,
        })
    }

    /// Start every task: a timer per sleep, a socket and a deadline per request, a place in
    /// the ready queue (or the pool) per cpu task. Every task starts at the run's start, so
    /// its sleep or deadline counts from there.
    pub fn start_tasks(&mut self) -> io::Result<()> {
        let args = self.args;
        match args.workload {
            Workload::Sleep => {
                (0..args.tasks).for_each(|id| self.timers.set(args.sleep(), Due::SleepEnds(id)))
            }
            Workload::Http => {
                self.sockets.resize_with(args.tasks as usize, || None);
                for id in 0..args.tasks {
                    match Connection::open(self.poll.registry(), &args, id) {
                        Ok(conn) => self.sockets[id as usize] = Some(conn),
                        Err(e) => self.finish_task(id, Err(e)),
                    }
                    self.timers.set(args.timeout(), Due::RequestDeadline(id));
                }
            }
            Workload::Cpu => {
                if args.offload {
                    self.offload = Some(self.start_offload()?);
                } else {
                    self.ready.extend(0..args.tasks);
                }
                self.pulse = Some(Pulse::default());
                self.set_pulse(Duration::ZERO);
            }
        }
        Ok(())
    }

    /// `--offload`: every cpu task to a pool of one thread per core — the ThreadPoolExecutor
    /// analog that `threads --workers` runs on; each result wakes the loop through the waker.
    fn start_offload(&self) -> io::Result<(ThreadPool, Receiver<Done>)> {
        let pool = ThreadPool::new(std::thread::available_parallelism()?.get())?;
        let (work, waker) = (self.args.work, self.waker.clone());
        let hash = move |id| (id, task::sha256_chain(id, work), Instant::now(), Runner::cached());
        let results = pool.map_unordered(0..self.args.tasks, hash, move || {
            let _ = waker.wake();
        });
        Ok((pool, results))
    }

    /// The next pulse, one period after `now`; the pulse learns when its tick is due.
    fn set_pulse(&mut self, now: Duration) {
        let at = now + Pulse::PERIOD;
        self.pulse.as_ref().expect("a pulse to set").expect(self.tally.start + at);
        self.timers.set(at, Due::Pulse);
    }

    /// How long `epoll_wait` may sleep: not at all while cpu tasks wait, else until the next
    /// timer, else until a socket or the waker wakes it.
    pub fn timeout(&self) -> Option<Duration> {
        if !self.ready.is_empty() {
            return Some(Duration::ZERO);
        }
        self.timers.next_in(self.tally.start.elapsed())
    }

    fn finish_task(&mut self, id: u32, result: Result<u64, TaskError>) {
        self.tally.record(id, result, Instant::now(), self.runner);
        self.unfinished -= 1;
    }

    pub fn run_one_cpu_task(&mut self) {
        if let Some(id) = self.ready.pop_front() {
            let value = task::sha256_chain(id, self.args.work);
            self.finish_task(id, Ok(value));
        }
    }

    pub fn fire_due_timers(&mut self) {
        let now = self.tally.start.elapsed();
        while let Some(due) = self.timers.pop_due(now) {
            match due {
                Due::SleepEnds(id) => self.finish_task(id, Ok(task::sleep_value(id))),
                Due::RequestDeadline(id) => {
                    // A request still open at its deadline has timed out; closing it is all.
                    if self.sockets[id as usize].take().is_some() {
                        let timeout = self.args.timeout();
                        self.finish_task(id, Err(TaskError::timed_out("the request", timeout)));
                    }
                }
                Due::Pulse => {
                    self.pulse.as_ref().expect("a pulse timer has a pulse").tick();
                    self.set_pulse(now);
                }
            }
        }
    }

    pub fn on_socket_ready(&mut self, id: u32) {
        let Some(conn) = self.sockets[id as usize].as_mut() else {
            return; // finished, or timed out, before this event was handed out
        };
        if let Some(result) = conn.advance() {
            self.sockets[id as usize] = None;
            self.finish_task(id, result);
        }
    }

    /// The pool has results: take every one that has arrived.
    pub fn on_wake(&mut self) {
        let Some((_, results)) = &self.offload else { return };
        for (id, value, finished, runner) in results.try_iter() {
            self.tally.record(id, Ok(value), finished, runner);
            self.unfinished -= 1;
        }
    }

    /// Stop the clock and report; then join the pool's threads, if there was one.
    pub fn finish(mut self) -> Report {
        if let Some(pulse) = &self.pulse {
            self.tally.loop_lag(pulse.lag());
        }
        let report = self.tally.finish();
        if let Some((pool, _)) = self.offload {
            pool.join();
        }
        report
    }
}
