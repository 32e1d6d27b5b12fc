//! The loop's state — the ring, the timers, the connections, the ready queue, the offload
//! pool — and what it does with each completion the ring hands back.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;
use io_uring::{opcode, squeue, types};
use thread_pool::ThreadPool;
use workload::loop_tasks::{LoopTasks, Offloaded};
use workload::{task, Args, Report, Runner, Workload};

use crate::brigade::{Brigade, Finished};
use crate::connection::{Connection, Next, Op};
use crate::db::Db;
use crate::disk::Disk;
use crate::queues::Queues;

/// disk: hand new reads to the kernel as soon as this many wait, not once per turn of the
/// loop. A turn may take dozens of completions off the ring at once; submitting their
/// successors only at its end left the device's queue short for the whole turn, and fio's
/// io_uring, which submits in small batches, ahead.
const DISK_SUBMIT_BATCH: usize = 4;

/// Everything the loop waits on, and the tally its tasks report to.
pub struct EventLoop {
    /// The ring and its queues: entries go in, completions come back (`queues.rs`).
    queues: Queues,
    /// The tally, the timer heap (sleeps, request deadlines, the pulse), the cpu tasks
    /// waiting for the loop's thread: what `ring` shares with `epoll`. The ring waits for the
    /// nearest timer only, with the timeout of `io_uring_enter`.
    pub tasks: LoopTasks,
    /// The http tasks' connections by task id, each with one operation in flight; `None`
    /// once its last operation has completed.
    conns: Vec<Option<Connection>>,
    /// With `--offload`: the pool, the results it sends back, and the eventfd it writes to
    /// after each one, which the loop reads through the ring.
    offload: Option<Offload>,
    /// disk: the operations in flight, each in its slot.
    disk: Option<Disk>,
    /// The brigade: a pipe per task, its READ always posted.
    brigade: Option<Brigade>,
    /// db: the connections to PostgreSQL, by slot, and the tasks waiting for one.
    db: Option<Db>,
}

struct Offload {
    pool: ThreadPool,
    results: Receiver<Offloaded>,
    eventfd: Arc<OwnedFd>,
    /// Where the eventfd read puts the count: owned by the loop while the read is in flight.
    count: Box<u64>,
}

impl EventLoop {
    /// The loop for `args` on `ring`; the tasks' clock, in `model`'s name, starts last.
    pub fn new(model: &'static str, args: Args, queues: Queues) -> EventLoop {
        // At once: every task, or --workers of them (disk's operations, db's connections).
        let tasks = LoopTasks::start(model, args, 1, Disk::depth(&args));
        let (conns, offload, disk, brigade, db) = (Vec::new(), None, None, None, None);
        EventLoop { queues, tasks, conns, offload, disk, brigade, db }
    }

    /// Until every task has its result and every operation has completed.
    pub fn running(&self) -> bool {
        // Operations in flight must complete; tasks without a result must have something
        // to wait for (a timer, a cpu task), or a bug would hang the loop.
        self.queues.in_flight > 0 || (self.tasks.unfinished > 0 && self.tasks.waiting())
    }

    /// Start what the tasks cannot start alone: a SOCKET entry and a deadline per request,
    /// the pool for `--offload`.
    pub fn start_io(&mut self) -> io::Result<()> {
        let args = self.tasks.args;
        if args.workload == Workload::Http {
            self.conns.reserve_exact(args.tasks as usize);
            for id in 0..args.tasks {
                let (conn, socket) = Connection::open(&args, id);
                self.conns.push(Some(conn));
                self.push(socket)?;
                self.tasks.set_deadline(id);
            }
        }
        if args.workload == Workload::Db {
            let (db, first) = Db::start(&mut self.tasks);
            self.db = Some(db);
            first.into_iter().try_for_each(|entry| self.push(entry))?;
        }
        if args.offload {
            self.start_offload()?;
        }
        if args.workload == Workload::Brigade {
            match Brigade::start(workload::brigade::Ring::of(&args)) {
                Ok((brigade, first)) => {
                    self.brigade = Some(brigade);
                    for entry in first {
                        self.push(entry)?;
                    }
                }
                Err(e) => (0..args.tasks).for_each(|id| self.tasks.finish(id, Err(e.clone()))),
            }
        }
        if args.workload == Workload::Disk {
            self.queues.register_file(workload::disk::opened().file.as_raw_fd())?;
            let mut disk = Disk::new(&args);
            for entry in disk.start() {
                self.push(entry)?;
            }
            self.disk = Some(disk);
        }
        Ok(())
    }

    /// `--offload`: every cpu task to a pool of one thread per core; after each result a
    /// worker writes to an eventfd, and a read of that eventfd in the ring completes.
    fn start_offload(&mut self) -> io::Result<()> {
        let eventfd = crate::queues::eventfd()?;
        let threads = match self.tasks.args.workers {
            Some(w) => w as usize,
            None => std::thread::available_parallelism()?.get(),
        };
        let pool = ThreadPool::new(threads)?;
        let (args, wake) = (self.tasks.args, eventfd.clone());
        let hash = move |id| {
            let started = Instant::now();
            (id, Ok(task::sha256_chain(id, args.work)), started, Instant::now(), Runner::cached())
        };
        let results = pool.map_unordered(0..args.tasks, hash, move || {
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

    /// Queue `entry`, which points only into a connection or the offload state: the loop
    /// keeps both until the entry's completion has come back.
    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY: connections (http's and db's) are dropped only once their operation in
        // flight has completed (`close`); the offload state, the disk slots and the brigade's boxes live until
        // the loop ends, after every completion.
        unsafe { self.queues.push(&entry) }
    }

    /// Submit what is queued and wait for a completion, but not past the nearest timer.
    pub fn submit_and_wait(&mut self) -> io::Result<()> {
        self.queues.submit_and_wait(self.tasks.wait_at_most())
    }

    /// Handle every completion taken off the ring.
    pub fn on_completions(&mut self) -> io::Result<()> {
        while let Some((user_data, res, _)) = self.queues.next_completion() {
            match Op::of(user_data) {
                // A close's or a cancel's own result changes nothing: the cancelled operation
                // completes on its own, and that completion closes the connection.
                (Op::Close | Op::Cancel, _) => {}
                (Op::Wake, _) => self.on_wake()?,
                (Op::Disk, slot) => self.on_disk(slot as usize, res)?,
                (Op::BrigadeRead, i) => {
                    let next = self.brigade.as_mut().expect("a brigade run").on_read(i, res);
                    self.on_brigade(next)?
                }
                (Op::BrigadeWrite, _) => {
                    let next = self.brigade.as_mut().expect("a brigade run").on_write(res);
                    self.on_brigade(next)?
                }
                (_, slot) if self.db.is_some() => {
                    let db = self.db.as_mut().expect("a db run");
                    let entries = db.on_complete(&mut self.tasks, slot as usize, res);
                    entries.into_iter().try_for_each(|entry| self.push(entry))?
                }
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
                self.tasks.finish(id, result);
                self.close(id)
            }
        }
    }

    /// A brigade operation completed: post what comes next, and record the tasks done.
    fn on_brigade(
        &mut self,
        (entries, done): (Vec<squeue::Entry>, Vec<Finished>),
    ) -> io::Result<()> {
        for (task, result) in done {
            self.tasks.finish(task, result);
        }
        entries.into_iter().try_for_each(|entry| self.push(entry))
    }

    /// A disk operation completed: its task is done, and its slot takes the next task.
    fn on_disk(&mut self, slot: usize, res: i32) -> io::Result<()> {
        let disk = self.disk.as_mut().expect("a disk completion comes from a disk run");
        let ((id, result, started), next) = disk.on_complete(slot, res);
        self.tasks.finish_started(id, result, started);
        next.map_or(Ok(()), |entry| self.push(entry))?;
        self.queues.submit_batch(DISK_SUBMIT_BATCH)
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
        offload.results.try_iter().for_each(|done| self.tasks.finish_offloaded(done));
        if self.tasks.unfinished > 0 {
            self.read_eventfd()?;
        }
        Ok(())
    }

    /// Every timer that is due: sleeps end and the pulse ticks in the tasks; a request past
    /// its deadline is cancelled.
    pub fn fire_due_timers(&mut self) -> io::Result<()> {
        while let Some(id) = self.tasks.next_deadline() {
            match &mut self.db {
                Some(db) => {
                    let entries = db.on_deadline(&mut self.tasks, id);
                    entries.into_iter().try_for_each(|entry| self.push(entry))?
                }
                None => self.on_deadline(id)?,
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
        self.tasks.time_out(id);
        self.push(cancel)
    }

    /// Stop the clock and report; then join the pool's threads, if there was one.
    pub fn finish(self) -> Report {
        let report = self.tasks.report();
        if let Some(offload) = self.offload {
            offload.pool.join();
        }
        report
    }
}
