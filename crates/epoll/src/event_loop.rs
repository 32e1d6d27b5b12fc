//! The loop's state — timers, sockets, the ready queue, the waker — and one handler for each
//! thing it waits on: a timer falls due, a socket is ready, the pool wakes it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Poll, Token, Waker};
use workload::measure::Pulse;
use workload::{task, Args, Report, Runner, Tally, TaskError, Workload};

use crate::connection::Connection;
use crate::offload::Offload;
use crate::MODEL;

/// The waker's token; a socket's token is its task's id.
pub const WAKER: Token = Token(usize::MAX);

/// Everything the loop waits on, and the tally its tasks report to.
pub struct EventLoop {
    args: Args,
    /// The epoll instance: every socket and the waker are registered with it.
    pub poll: Poll,
    /// Every timer, nearest first. For a sleeping task this is all the memory it takes.
    timers: BinaryHeap<Reverse<Timer>>,
    /// The http tasks' sockets by task id; `None` once the task is done (dropping it closes
    /// the socket), so a deadline or a late event for it finds nothing to do.
    sockets: Vec<Option<Connection>>,
    /// cpu tasks waiting for their turn on the loop's own thread.
    ready: VecDeque<u32>,
    /// With `--offload`: the pool that runs cpu tasks, and the results it sends back.
    offload: Option<Offload>,
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

/// A timer: when it is due, in nanoseconds since the run started, and what it is for.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    due_ns: u64,
    what: Due,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    SleepEnds(u32),
    RequestDeadline(u32),
    Pulse,
}

// The whole cost of a sleeping task.
const _: () = assert!(std::mem::size_of::<Timer>() == 16);

impl EventLoop {
    pub fn new(args: Args) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(EventLoop {
            timers: BinaryHeap::with_capacity(args.tasks as usize),
            sockets: Vec::new(),
            ready: VecDeque::new(),
            offload: None,
            pulse: None,
            runner: Runner::here(),
            unfinished: args.tasks,
            tally: Tally::start(MODEL.name, &args, 1, args.tasks),
            args,
            poll,
            waker,
        })
    }

    /// Start every task: a timer per sleep, a socket and a deadline per request, a place in
    /// the ready queue (or the pool) per cpu task.
    pub fn start_tasks(&mut self) -> io::Result<()> {
        let args = self.args;
        match args.workload {
            Workload::Sleep => {
                (0..args.tasks).for_each(|id| self.set_timer(args.sleep(), Due::SleepEnds(id)))
            }
            Workload::Http => {
                self.sockets.resize_with(args.tasks as usize, || None);
                for id in 0..args.tasks {
                    match Connection::open(self.poll.registry(), &args, id) {
                        Ok(conn) => self.sockets[id as usize] = Some(conn),
                        Err(e) => self.finish_task(id, Err(e)),
                    }
                    self.set_timer(args.timeout(), Due::RequestDeadline(id));
                }
            }
            Workload::Cpu => {
                if args.offload {
                    self.offload = Some(Offload::start(&args, &self.waker)?);
                } else {
                    self.ready.extend(0..args.tasks);
                }
                self.pulse = Some(Pulse::default());
                self.set_timer(Pulse::PERIOD, Due::Pulse);
            }
        }
        Ok(())
    }

    fn now_ns(&self) -> u64 {
        self.tally.start.elapsed().as_nanos() as u64
    }

    /// Set a timer due `at` after the run's start; the pulse learns when its tick is due.
    /// Every task starts at the start, so its sleep or deadline counts from there.
    fn set_timer(&mut self, at: Duration, what: Due) {
        let due_ns = at.as_nanos() as u64;
        if let (Due::Pulse, Some(pulse)) = (&what, &self.pulse) {
            pulse.expect(self.tally.start + Duration::from_nanos(due_ns));
        }
        self.timers.push(Reverse(Timer { due_ns, what }));
    }

    /// How long `epoll_wait` may sleep: not at all while cpu tasks wait, else until the next
    /// timer, else until a socket or the waker wakes it.
    pub fn timeout(&self) -> Option<Duration> {
        if !self.ready.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = self.now_ns();
        self.timers.peek().map(|Reverse(t)| Duration::from_nanos(t.due_ns.saturating_sub(now)))
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
        let now = self.now_ns();
        while self.timers.peek().is_some_and(|Reverse(t)| t.due_ns <= now) {
            let Reverse(timer) = self.timers.pop().expect("peeked");
            match timer.what {
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
                    self.set_timer(Duration::from_nanos(now) + Pulse::PERIOD, Due::Pulse);
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
        let Some(offload) = &self.offload else { return };
        for (id, value, finished, runner) in offload.results.try_iter() {
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
        if let Some(offload) = self.offload {
            offload.pool.join();
        }
        report
    }
}
