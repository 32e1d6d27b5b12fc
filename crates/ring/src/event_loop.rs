//! The loop's state — the io_uring's queues, the tasks and their timers — and the one thing
//! it does with each completion: hand it to the [`Part`] that submitted the entry. A part is
//! the run's workload (`parts/mod.rs` picks it, once): the loop knows nothing of what the tasks
//! do.
//!
//! The twin of `epoll`'s `event_loop.rs`. The two differ only where readiness and completion
//! do: there a part registers its sources and is told when one is *ready*, then does the I/O
//! itself; here a part submits the I/O — an entry that points into the part's own buffers —
//! and is told when it is *done*.

use std::io;
use std::time::Duration;

use io_uring::squeue;
use workload::loop_tasks::LoopTasks;
use workload::timers::Due;
use workload::{Args, Report};

use crate::queues::{Completion, Op, Queues, Tag};

/// What a part may touch while it handles a completion.
pub struct Cx<'a> {
    /// The tally and the timers: where the part sets its timers and reports each result.
    pub tasks: &'a mut LoopTasks,
    queues: &'a mut Queues,
}

impl Cx<'_> {
    /// Queue `entry` for the kernel, tagged `tag`: its completion comes back to the part.
    ///
    /// # Safety
    ///
    /// Every buffer, address and descriptor `entry` points to must stay where it is, alive,
    /// until its completion has come back: the kernel reads and writes there meanwhile. The
    /// loop helps: it runs until every entry has completed, so what a part owns lives long
    /// enough if the part neither frees nor moves it before then.
    pub unsafe fn submit(&mut self, tag: Tag, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY: the caller keeps what the entry points to alive until it completes.
        unsafe { self.queues.push(&tag.on(entry)) }
    }

    /// Register `fd` as the ring's file 0, which entries then name as `types::Fixed(0)`.
    pub fn register_file(&mut self, fd: std::os::fd::RawFd) -> io::Result<()> {
        self.queues.register_file(fd)
    }

    /// Queue `entries` as one chain (IOSQE_IO_LINK): each starts only once the one before it
    /// has succeeded; if one fails, the rest complete with ECANCELED.
    ///
    /// # Safety
    ///
    /// As for [`Cx::submit`], for every entry of the chain.
    pub unsafe fn submit_linked(&mut self, entries: &[(Tag, squeue::Entry)]) -> io::Result<()> {
        // SAFETY: the caller keeps what the entries point to alive until they complete.
        unsafe { self.queues.push_linked(entries.iter().map(|(tag, entry)| tag.on(entry.clone()))) }
    }

    /// A table of `slots` empty registered files, for SOCKETs to put their sockets in.
    pub fn register_empty_files(&mut self, slots: u32) -> io::Result<()> {
        self.queues.register_empty_files(slots)
    }

    /// A pool of provided buffers of `size` bytes, registered with the ring, for RECVs to
    /// take from.
    pub fn provided_buffers(&mut self, size: usize) -> io::Result<crate::buffers::ProvidedBuffers> {
        crate::buffers::ProvidedBuffers::register(self.queues, size)
    }

    /// Hand what is queued to the kernel now if `batch` or more entries wait, rather than at
    /// the end of the turn.
    pub fn submit_batch(&mut self, batch: usize) -> io::Result<()> {
        self.queues.submit_batch(batch)
    }
}

/// A workload on the loop: what it does when an entry it submitted completes, one of its
/// timers is due, or the loop's thread is free. Each is built by its own `start`, which
/// submits its first entries (`parts/mod.rs`).
pub trait Part {
    /// An entry the part submitted completed: its tag, its result (a count, a descriptor, or
    /// `-errno`), whether it stays in flight (a multishot), the provided buffer it filled.
    fn on_complete(&mut self, completion: Completion, cx: &mut Cx) -> io::Result<()>;

    /// An ASYNC_CANCEL the part submitted completed: 0, it found its entry; -ENOENT, it
    /// found none (the entry had completed, or had not started); -EALREADY, the entry is
    /// running and completes on its own.
    fn on_cancelled(&mut self, _done: Completion, _cx: &mut Cx) -> io::Result<()> {
        Ok(())
    }

    /// A timer the part set is due.
    fn on_timer(&mut self, _due: Due, _cx: &mut Cx) -> io::Result<()> {
        Ok(())
    }

    /// Work that waits for the loop's own thread, one piece a turn; whether more waits, in
    /// which case the loop does not block.
    fn take_turn(&mut self, _cx: &mut Cx) -> bool {
        false
    }

    /// The run is over: what the part adds to the report.
    fn end(&mut self, _tasks: &mut LoopTasks) {}
}

/// Everything the loop waits on, and the part the completions go to.
pub struct EventLoop {
    /// The io_uring: entries go in, completions come back (`queues.rs`).
    queues: Queues,
    /// The tally and the timer heap, which `ring` shares with `epoll`. The loop waits for
    /// the nearest timer with the timeout of `io_uring_enter`.
    pub tasks: LoopTasks,
    /// The workload, picked once. Dropped only after every entry it submitted completed.
    part: Box<dyn Part>,
    /// Whether the part had more work for the loop's thread at the end of its last turn.
    busy: bool,
}

/// A part's `start`, given what it may touch.
pub type Start = fn(&mut Cx) -> io::Result<Box<dyn Part>>;

impl EventLoop {
    /// The loop for `args` on `queues`, its clock started in `model`'s name, and its part
    /// started.
    pub fn new(
        model: &'static str,
        args: Args,
        mut queues: Queues,
        start: Start,
    ) -> io::Result<EventLoop> {
        let mut tasks = LoopTasks::start(model, args)?;
        let part = start(&mut Cx { tasks: &mut tasks, queues: &mut queues })?;
        Ok(EventLoop { queues, tasks, part, busy: false })
    }

    /// Until every task has its result and every entry has completed.
    pub fn running(&self) -> bool {
        // Entries in flight must complete; tasks without a result must have something to
        // wait for (a timer, work for the thread), or a bug would hang the loop.
        self.queues.in_flight > 0
            || (self.tasks.unfinished > 0 && (self.tasks.has_timers() || self.busy))
    }

    /// Give the part the loop's thread for one piece of its work, if it has some.
    pub fn take_turn(&mut self) {
        let EventLoop { queues, tasks, part, .. } = self;
        self.busy = part.take_turn(&mut Cx { tasks, queues });
    }

    /// Hand every timer that is due to the part.
    pub fn fire_due_timers(&mut self) -> io::Result<()> {
        let EventLoop { queues, tasks, part, .. } = self;
        while let Some(due) = tasks.pop_due() {
            part.on_timer(due, &mut Cx { tasks, queues })?;
        }
        Ok(())
    }

    /// Submit what is queued and wait in `io_uring_enter` for a completion, but not past the
    /// nearest timer, and not at all while the part has work for the thread.
    pub fn submit_and_wait(&mut self) -> io::Result<()> {
        let at_most = if self.busy { Some(Duration::ZERO) } else { self.tasks.wait_at_most() };
        self.queues.submit_and_wait(at_most)
    }

    /// Hand every completion taken off the ring to the part: a cancel's to `on_cancelled`
    /// (the cancelled operation completes on its own, to `on_complete`); a close's own result
    /// changes nothing.
    pub fn dispatch_completions(&mut self) -> io::Result<()> {
        let EventLoop { queues, tasks, part, .. } = self;
        while let Some(completion) = queues.next_completion() {
            let cx = &mut Cx { tasks, queues };
            match completion.tag.op {
                Op::Close => {}
                Op::Cancel => part.on_cancelled(completion, cx)?,
                _ => part.on_complete(completion, cx)?,
            }
        }
        Ok(())
    }

    /// Stop the clock and report; the part, and any threads it started, go after.
    pub fn finish(mut self) -> Report {
        self.part.end(&mut self.tasks);
        self.tasks.report()
    }
}
