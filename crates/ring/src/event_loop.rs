//! The loop's state — the ring, the timers, the connections, the ready queue, the offload
//! pool — and what it does with each completion the ring hands back.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use io_uring::{opcode, squeue, types, IoUring};
use thread_pool::ThreadPool;
use workload::measure::Pulse;
use workload::timers::{Due, Timers};
use workload::{task, Args, Report, Runner, Tally, TaskError, Workload};

use crate::connection::{Connection, Next, Op};

/// Submission queue entries: the loop submits in batches of at most this many. The kernel
/// gives the completion queue twice as many; more completions than that wait in the
/// kernel's overflow list until the loop has room for them.
const ENTRIES: u32 = 1024;

/// Everything the loop waits on, and the tally its tasks report to.
pub struct EventLoop {
    args: Args,
    /// The ring: entries go in through its submission queue, results come back on its
    /// completion queue.
    ring: IoUring,
    /// Every timer, nearest first: sleeps, request deadlines, the pulse. The ring waits for
    /// the nearest one only, with the timeout of `io_uring_enter`.
    timers: Timers,
    /// The http tasks' connections by task id, each with one operation in flight; `None`
    /// once its last operation has completed.
    conns: Vec<Option<Connection>>,
    /// cpu tasks waiting for their turn on the loop's own thread.
    ready: VecDeque<u32>,
    /// With `--offload`: the pool, the results it sends back, and the eventfd it writes to
    /// after each one, which the loop reads through the ring.
    offload: Option<Offload>,
    /// The loop's 10 ms timer while cpu tasks run.
    pulse: Option<Pulse>,
    /// Completions taken off the ring, not yet handled.
    completions: VecDeque<(u64, i32)>,
    /// Operations submitted and not yet completed: the loop ends only when none is left, so
    /// no completion is lost and no buffer is freed while the kernel may write to it.
    in_flight: u32,
    tally: Tally,
    runner: Runner,
    /// Tasks without a result yet.
    pub unfinished: u32,
}

struct Offload {
    pool: ThreadPool,
    results: Receiver<(u32, u64, Instant, Runner)>,
    eventfd: Arc<OwnedFd>,
    /// Where the eventfd read puts the count: owned by the loop while the read is in flight.
    count: Box<u64>,
}

/// A ring, or why there is none, with what to change.
pub fn ring() -> Result<IoUring, TaskError> {
    // One thread submits, and completions' kernel-side work runs only when it enters the
    // ring for completions, flagged in the ring when there is some (Linux 6.1+): fewer
    // interruptions, less system time. On older kernels, a plain ring.
    let ring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_taskrun_flag()
        .build(ENTRIES)
        .or_else(|_| IoUring::builder().build(ENTRIES))
        .map_err(|e| TaskError {
            message: format!("cannot create an io_uring: {e}"),
            limit: Some(what_to_change(&e).into()),
        })?;
    let params = ring.params();
    if !(params.is_feature_nodrop() && params.is_feature_ext_arg()) {
        return Err(TaskError {
            message: "this kernel's io_uring lacks IORING_FEAT_NODROP or IORING_FEAT_EXT_ARG"
                .into(),
            limit: Some("Linux 5.11 or later".into()),
        });
    }
    Ok(ring)
}

/// What to change when `io_uring_setup` fails with `e`.
fn what_to_change(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => {
            "io_uring is refused here: set kernel.io_uring_disabled = 0 (2 disables it, 1 \
             allows only kernel.io_uring_group), or run outside the seccomp profile (a \
             container's default one) that blocks io_uring_setup"
        }
        Some(libc::ENOSYS) => {
            "a kernel with io_uring (Linux 5.19 or later for every operation used here), not \
             hidden by a seccomp profile"
        }
        Some(libc::ENOMEM) => {
            "`ulimit -l` (RLIMIT_MEMLOCK): kernels before 5.12 charge the ring's memory to it"
        }
        _ => "see io_uring_setup(2)",
    }
}

impl EventLoop {
    /// The loop for `args` on `ring`; the clock of the tally, in `model`'s name, starts last.
    pub fn new(model: &'static str, args: Args, ring: IoUring) -> EventLoop {
        EventLoop {
            ring,
            timers: Timers::with_capacity(args.tasks as usize),
            conns: Vec::new(),
            ready: VecDeque::new(),
            offload: None,
            pulse: None,
            completions: VecDeque::new(),
            in_flight: 0,
            runner: Runner::here(),
            unfinished: args.tasks,
            tally: Tally::start(model, &args, 1, args.tasks),
            args,
        }
    }

    /// Until every task has its result and every operation has completed.
    pub fn running(&self) -> bool {
        let waiting = self.in_flight > 0 || !self.timers.is_empty() || !self.ready.is_empty();
        (self.unfinished > 0 || self.in_flight > 0) && waiting
    }

    /// Start every task: a timer per sleep, a SOCKET entry and a deadline per request, a
    /// place in the ready queue (or the pool) per cpu task.
    pub fn start_tasks(&mut self) -> io::Result<()> {
        let args = self.args;
        match args.workload {
            Workload::Sleep => {
                (0..args.tasks).for_each(|id| self.timers.set(args.sleep(), Due::SleepEnds(id)))
            }
            Workload::Http => {
                self.conns.reserve_exact(args.tasks as usize);
                for id in 0..args.tasks {
                    let (conn, socket) = Connection::open(&args, id);
                    self.conns.push(Some(conn));
                    self.push(socket)?;
                    self.timers.set(args.timeout(), Due::RequestDeadline(id));
                }
            }
            Workload::Cpu => {
                if args.offload {
                    self.start_offload()?;
                } else {
                    self.ready.extend(0..args.tasks);
                }
                self.pulse = Some(Pulse::default());
                self.set_pulse(Duration::ZERO);
            }
        }
        Ok(())
    }

    /// `--offload`: every cpu task to a pool of one thread per core; after each result a
    /// worker writes to an eventfd, and a read of that eventfd in the ring completes.
    fn start_offload(&mut self) -> io::Result<()> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new descriptor that
        // nothing else owns.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created above and is owned by nothing else.
        let eventfd = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        let pool = ThreadPool::new(std::thread::available_parallelism()?.get())?;
        let (work, wake) = (self.args.work, eventfd.clone());
        let hash = move |id| (id, task::sha256_chain(id, work), Instant::now(), Runner::cached());
        let results = pool.map_unordered(0..self.args.tasks, hash, move || {
            let _ = nix::unistd::write(&*wake, &1u64.to_ne_bytes());
        });
        self.offload = Some(Offload { pool, results, eventfd, count: Box::new(0) });
        self.read_eventfd()
    }

    fn read_eventfd(&mut self) -> io::Result<()> {
        let offload = self.offload.as_mut().expect("offloading");
        let fd = types::Fd(offload.eventfd.as_raw_fd());
        let count = std::ptr::from_mut(offload.count.as_mut()).cast::<u8>();
        self.push(opcode::Read::new(fd, count, 8).build().user_data(Op::Wake.user_data(0)))
    }

    fn set_pulse(&mut self, now: Duration) {
        let at = now + Pulse::PERIOD;
        self.pulse.as_ref().expect("a pulse to set").expect(self.tally.start + at);
        self.timers.set(at, Due::Pulse);
    }

    /// Queue `entry`; a full submission queue is submitted first, and the loop goes on.
    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY: every buffer, address and descriptor an entry points to belongs to a
        // connection or to the offload state, which the loop keeps until the entry's
        // completion has come back (`in_flight` counts them).
        while unsafe { self.ring.submission().push(&entry) }.is_err() {
            self.submit()?;
        }
        self.in_flight += 1;
        Ok(())
    }

    /// Hand the queued entries to the kernel, taking completions off first if it is busy.
    fn submit(&mut self) -> io::Result<()> {
        loop {
            match self.ring.submit() {
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => self.reap()?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Submit what is queued and wait in `io_uring_enter` for a completion, but no longer
    /// than until the nearest timer: the one timeout of the loop, to the nanosecond.
    pub fn submit_and_wait(&mut self) -> io::Result<()> {
        let wait = match self.ready.is_empty() {
            true => self.timers.next_in(self.tally.start.elapsed()),
            false => Some(Duration::ZERO),
        };
        let entered = match wait {
            Some(Duration::ZERO) => self.ring.submit(),
            Some(left) => {
                let timeout = types::Timespec::from(left);
                let args = types::SubmitArgs::new().timespec(&timeout);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None if self.in_flight > 0 => self.ring.submit_and_wait(1),
            None => return Ok(()), // nothing in flight and no timer: nothing to wait for
        };
        match entered {
            // ETIME: the nearest timer is due; EINTR: a signal; EBUSY: the completion queue
            // is full. Each is a reason to look at the completions and timers again.
            Ok(_) => self.reap(),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => {
                self.reap()
            }
            Err(e) => Err(e),
        }
    }

    /// Take every completion off the ring, and have the kernel flush any that overflowed
    /// the completion queue into it; a completion the kernel dropped is an error, not a hang.
    fn reap(&mut self) -> io::Result<()> {
        loop {
            let completions = self.ring.completion();
            if completions.overflow() > 0 {
                let lost = completions.overflow();
                return Err(io::Error::other(format!("{lost} completions were lost")));
            }
            self.completions.extend(completions.map(|c| (c.user_data(), c.result())));
            if !self.ring.submission().cq_overflow() {
                return Ok(());
            }
            // Completions wait in the kernel's overflow list: entering the ring flushes them.
            self.ring.submit()?;
        }
    }

    /// Handle every completion taken off the ring.
    pub fn on_completions(&mut self) -> io::Result<()> {
        while let Some((user_data, res)) = self.completions.pop_front() {
            self.in_flight -= 1;
            match Op::of(user_data) {
                // A close's or a cancel's own result changes nothing: the cancelled operation
                // completes on its own, and that completion closes the connection.
                (Op::Close | Op::Cancel, _) => {}
                (Op::Wake, _) => self.on_wake()?,
                (_, id) => self.on_socket_op(id, res)?,
            }
        }
        Ok(())
    }

    fn on_socket_op(&mut self, id: u32, res: i32) -> io::Result<()> {
        let conn = self.conns[id as usize].as_mut().expect("a connection per operation");
        if conn.timed_out {
            return self.close(id);
        }
        match conn.on_complete(res) {
            Next::Submit(entry) => self.push(entry),
            Next::Done(result) => {
                self.finish_task(id, result);
                self.close(id)
            }
        }
    }

    /// Drop the connection, whose last operation has completed, and close its socket.
    fn close(&mut self, id: u32) -> io::Result<()> {
        let conn = self.conns[id as usize].take().expect("an open connection");
        conn.close().map_or(Ok(()), |close| self.push(close))
    }

    /// The pool has results: take every one that has arrived, and read the eventfd again
    /// while tasks remain.
    fn on_wake(&mut self) -> io::Result<()> {
        let offload = self.offload.as_ref().expect("a wake-up comes from the pool");
        for (id, value, finished, runner) in offload.results.try_iter() {
            self.tally.record(id, Ok(value), finished, runner);
            self.unfinished -= 1;
        }
        if self.unfinished > 0 {
            self.read_eventfd()?;
        }
        Ok(())
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

    pub fn fire_due_timers(&mut self) -> io::Result<()> {
        let now = self.tally.start.elapsed();
        while let Some(due) = self.timers.pop_due(now) {
            match due {
                Due::SleepEnds(id) => self.finish_task(id, Ok(task::sleep_value(id))),
                Due::RequestDeadline(id) => self.on_deadline(id)?,
                Due::Pulse => {
                    self.pulse.as_ref().expect("a pulse timer has a pulse").tick();
                    self.set_pulse(now);
                }
            }
        }
        Ok(())
    }

    /// A request still open at its deadline has timed out: its result is recorded now, and
    /// its operation in flight is cancelled; when that completes, the socket is closed.
    fn on_deadline(&mut self, id: u32) -> io::Result<()> {
        let Some(conn) = self.conns[id as usize].as_mut().filter(|c| !c.timed_out) else {
            return Ok(()); // finished in time
        };
        conn.timed_out = true;
        let cancel = conn.cancel();
        self.finish_task(id, Err(TaskError::timed_out("the request", self.args.timeout())));
        self.push(cancel)
    }

    /// Stop the clock and report; then join the pool's threads, if there was one.
    pub fn finish(mut self) -> Report {
        if let Some(pulse) = &self.pulse {
            self.tally.loop_lag(pulse.lag());
        }
        let report = self.tally.finish();
        if let Some(offload) = self.offload.take() {
            offload.pool.join();
        }
        report
    }
}
