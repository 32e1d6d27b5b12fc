//! The loop's state — the epoll instance, the tasks and their timers, a waker — and the one
//! thing it does with each event: hand it to the [`Part`] that owns it. A part is the run's
//! workload (`parts/mod.rs` picks it, once): the loop knows nothing of what the tasks do.
//!
//! The twin of `ring`'s `event_loop.rs`. The two differ only where readiness and completion
//! do: here a part registers its sources with epoll and is told when one is *ready*, then does
//! the I/O itself; there a part submits the I/O and is told when it is *done*.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll, Registry, Token, Waker};
use workload::loop_tasks::LoopTasks;
use workload::timers::Due;
use workload::{Args, Report};

/// The waker's token; a part registers its own sources under any other.
pub const WAKER: Token = Token(usize::MAX);

/// What a part may touch while it handles an event.
pub struct Cx<'a> {
    /// Where the part registers its sockets and pipes, under tokens of its choosing.
    pub registry: &'a Registry,
    /// The tally and the timers: where the part sets its timers and reports each result.
    pub tasks: &'a mut LoopTasks,
    /// An eventfd registered under [`WAKER`]: threads the part starts write to it to wake
    /// the loop.
    pub waker: &'a Arc<Waker>,
}

/// A workload on the loop: what it does when one of its sources is ready, one of its timers
/// is due, or the loop's thread is free. Each is built by its own `start`, which registers
/// its sources and starts what the loop must start (`parts/mod.rs`).
pub trait Part {
    /// A source the part registered under `token` is ready to read or write, or the
    /// [`WAKER`] fired. Readiness is edge-triggered: the part reads or writes until the
    /// source would block.
    fn on_ready(&mut self, _token: Token, _cx: &mut Cx) {}

    /// A timer the part set is due.
    fn on_timer(&mut self, _due: Due, _cx: &mut Cx) {}

    /// Work that waits for the loop's own thread, one piece a turn; whether more waits, in
    /// which case the loop does not block.
    fn take_turn(&mut self, _cx: &mut Cx) -> bool {
        false
    }

    /// The run is over: what the part adds to the report.
    fn end(&mut self, _tasks: &mut LoopTasks) {}
}

/// Everything the loop waits on, and the part the events go to.
pub struct EventLoop {
    /// The epoll instance: every source and the waker are registered with it.
    pub poll: Poll,
    /// The tally and the timer heap, which `epoll` shares with `ring`.
    pub tasks: LoopTasks,
    /// The workload, picked once.
    part: Box<dyn Part>,
    /// The loop keeps its own handle on the waker: were the last thread to close the
    /// eventfd, epoll would forget an event it had not yet handed out.
    waker: Arc<Waker>,
    /// Whether the part had more work for the loop's thread at the end of its last turn.
    busy: bool,
}

/// A part's `start`, given what it may touch.
pub type Start = fn(&mut Cx) -> io::Result<Box<dyn Part>>;

impl EventLoop {
    /// The loop for `args`, its clock started in `model`'s name, and its part started.
    pub fn new(model: &'static str, args: Args, start: Start) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut tasks = LoopTasks::start(model, args)?;
        let part = start(&mut Cx { registry: poll.registry(), tasks: &mut tasks, waker: &waker })?;
        Ok(EventLoop { poll, tasks, part, waker, busy: false })
    }

    /// Give the part the loop's thread for one piece of its work, if it has some.
    pub fn take_turn(&mut self) {
        let EventLoop { poll, tasks, part, waker, .. } = self;
        self.busy = part.take_turn(&mut Cx { registry: poll.registry(), tasks, waker });
    }

    /// Hand every timer that is due to the part.
    pub fn fire_due_timers(&mut self) {
        let EventLoop { poll, tasks, part, waker, .. } = self;
        while let Some(due) = tasks.pop_due() {
            part.on_timer(due, &mut Cx { registry: poll.registry(), tasks, waker });
        }
    }

    /// Block in `epoll_wait` until a source is ready, the waker fires or the nearest timer
    /// is due — not at all while the part has work for the thread — then hand each event
    /// to the part.
    pub fn wait_and_dispatch(&mut self, events: &mut Events) -> io::Result<()> {
        let timeout = if self.busy { Some(Duration::ZERO) } else { self.tasks.wait_at_most() };
        self.poll.poll(events, timeout)?;
        let EventLoop { poll, tasks, part, waker, .. } = self;
        for event in events.iter() {
            part.on_ready(event.token(), &mut Cx { registry: poll.registry(), tasks, waker });
        }
        Ok(())
    }

    /// Stop the clock and report; the part, and any threads it started, go after.
    pub fn finish(mut self) -> Report {
        self.part.end(&mut self.tasks);
        self.tasks.report()
    }
}
