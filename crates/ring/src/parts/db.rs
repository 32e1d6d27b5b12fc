//! db on the completion loop: each connection a chain of io_uring operations — SOCKET,
//! CONNECT, then SEND and RECV in turn for as long as it lives, and a CLOSE — with a protocol
//! [`Session`] making the bytes and taking the answers. The http task's chain, which ends
//! after one answer; here a pooled connection binds the next waiting task's query as soon as
//! it has an answer (`workload::db::Queue`), so W connections carry N queries. Without
//! `--workers`, a connection per task.
//!
//! An entry's tag holds the connection's slot, not a task id: a connection outlives its
//! tasks. As in `http.rs`, the kernel holds pointers into a connection (the session's bytes
//! to send, its receive buffer) while an operation is in flight; each lives on the heap and
//! the slot is emptied only once that operation has completed.
//!
//! Under `strace -f -c`: `io_uring_enter` and little else.

use std::io;
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types};
use slab::Slab;
use socket2::SockAddr;
use workload::db::{io_error, row_of, statement, Progress, Queue, Session};
use workload::loop_tasks::LoopTasks;
use workload::timers::Due;
use workload::{Args, TaskError, Width};

use super::http::{connect, socket};
use crate::event_loop::{Cx, Part};
use crate::queues::{Completion, Op, Tag};
use crate::socket::Socket;

/// One connection to PostgreSQL and the task it serves now.
struct Connection {
    task: u32,
    fd: Option<RawFd>,
    session: Box<Session>,
    buf: Box<[u8]>,
    in_flight: Op,
    /// Its task ran past its deadline: whatever completes next closes it.
    timed_out: bool,
    /// Its goodbye is being sent: when that completes, it closes.
    leaving: bool,
}

/// What a completion leads to.
enum Next {
    Submit((Tag, squeue::Entry)),
    Answer(Result<u64, TaskError>),
    Broken(TaskError),
}

/// Every connection of the run, and the tasks waiting for one.
pub struct Db {
    /// The server's address, which every CONNECT of the run points to.
    addr: &'static SockAddr,
    connections: Slab<Connection>,
    /// The connection serving each task, while it does: what a deadline looks up.
    serving: Vec<Option<usize>>,
    queue: Queue,
}

impl Db {
    /// The run's first connections: one per task, or W for the pool.
    pub fn start(cx: &mut Cx) -> io::Result<Db> {
        let args = cx.tasks.args;
        // W connections: at most W queries wait at once.
        cx.tasks.set_width(Width { workers: 1, at_once: args.workers.unwrap_or(args.tasks) });
        let (queue, first) = Queue::start(&args);
        // Leaked once for the run: every CONNECT reads it, and it must outlive them all.
        let addr = Box::leak(Box::new(SockAddr::from(args.db().addr)));
        let serving = vec![None; args.tasks as usize];
        let mut db = Db { addr, connections: Slab::with_capacity(first.len()), serving, queue };
        let entries: Vec<_> = first.into_iter().map(|task| db.open(cx.tasks, task)).collect();
        db.submit(entries, cx)?;
        Ok(db)
    }

    /// Submit `entries`.
    fn submit(&self, entries: Vec<(Tag, squeue::Entry)>, cx: &mut Cx) -> io::Result<()> {
        for (tag, entry) in entries {
            // SAFETY: an entry points into its connection's boxed session and buffer, or to
            // the 'static address; a slot is emptied only once its operation has completed.
            unsafe { cx.submit(tag, entry)? };
        }
        Ok(())
    }

    /// A new connection for `task`, and its first operation.
    fn open(&mut self, tasks: &mut LoopTasks, task: u32) -> (Tag, squeue::Entry) {
        tasks.set_deadline(task);
        let args = &tasks.args;
        let session = Box::new(Session::new(args.db(), args.write));
        let buf = vec![0u8; 4096].into_boxed_slice();
        let (fd, in_flight, timed_out, leaving) = (None, Op::Socket, false, false);
        let connection = Connection { task, fd, session, buf, in_flight, timed_out, leaving };
        let slot = self.connections.insert(connection);
        self.serving[task as usize] = Some(slot);
        (Tag::new(Op::Socket, slot), socket(self.addr, false))
    }

    /// Connection `slot`'s operation completed with `res`: the entries to submit next.
    fn on_slot_complete(
        &mut self,
        tasks: &mut LoopTasks,
        slot: usize,
        res: i32,
    ) -> Vec<(Tag, squeue::Entry)> {
        let connection = &mut self.connections[slot];
        if connection.timed_out || connection.leaving {
            // Its last operation is back: close it; one whose task timed out makes way, in a
            // pool, for a new connection for the next waiting task.
            let replace = connection.timed_out;
            let mut entries: Vec<_> = self.close(slot).into_iter().collect();
            if let Some(next) = replace.then(|| self.queue.next_task()).flatten() {
                entries.push(self.open(tasks, next));
            }
            return entries;
        }
        let task = connection.task;
        match connection.on_complete(&tasks.args, self.addr, slot, res) {
            Next::Submit(entry) => vec![entry],
            Next::Answer(answer) => {
                self.serving[task as usize] = None;
                tasks.finish(task, answer);
                let connection = &mut self.connections[slot];
                match self.queue.next_task() {
                    // The pool's connection takes the next waiting task at once.
                    Some(next) => {
                        tasks.set_deadline(next);
                        self.serving[next as usize] = Some(slot);
                        connection.task = next;
                        connection.query(&tasks.args);
                        vec![connection.send(slot)]
                    }
                    // Nothing waits: say goodbye, then close.
                    None => {
                        connection.leaving = true;
                        connection.session.terminate();
                        vec![connection.send(slot)]
                    }
                }
            }
            Next::Broken(e) => {
                self.serving[task as usize] = None;
                tasks.finish(task, Err(e));
                let mut entries: Vec<_> = self.close(slot).into_iter().collect();
                if let Some(next) = self.queue.next_task() {
                    entries.push(self.open(tasks, next));
                }
                entries
            }
        }
    }

    /// Task `id`'s deadline passed: if it still waits, its result is recorded now and its
    /// connection's operation cancelled; when that completes, the connection closes, and in
    /// a pool a new one opens for the next waiting task.
    fn on_deadline(&mut self, tasks: &mut LoopTasks, id: u32) -> Vec<(Tag, squeue::Entry)> {
        let Some(slot) = self.serving[id as usize].take() else { return Vec::new() };
        let connection = &mut self.connections[slot];
        connection.timed_out = true;
        let cancel = Tag::new(connection.in_flight, slot).cancel();
        tasks.time_out(id, "the query");
        vec![(Tag::new(Op::Cancel, slot), cancel)]
    }

    /// Empty the slot, whose last operation has completed, and close its socket.
    fn close(&mut self, slot: usize) -> Option<(Tag, squeue::Entry)> {
        let connection = self.connections.remove(slot);
        Some((Tag::new(Op::Close, slot), Socket::Fd(connection.fd?).close()))
    }
}

impl Part for Db {
    fn on_complete(&mut self, done: Completion, cx: &mut Cx) -> io::Result<()> {
        let Completion { tag, res, .. } = done;
        let entries = self.on_slot_complete(cx.tasks, tag.slot as usize, res);
        self.submit(entries, cx)
    }

    fn on_timer(&mut self, due: Due, cx: &mut Cx) -> io::Result<()> {
        let Due::Task(id) = due else { return Ok(()) };
        let entries = self.on_deadline(cx.tasks, id);
        self.submit(entries, cx)
    }
}

impl Connection {
    fn on_complete(&mut self, args: &Args, addr: &SockAddr, slot: usize, res: i32) -> Next {
        let error = || io::Error::from_raw_os_error(-res);
        match self.in_flight {
            Op::Socket if res < 0 => Next::Broken(TaskError::starting("socket", &error())),
            Op::Socket => {
                self.fd = Some(res);
                self.in_flight = Op::Connect;
                Next::Submit((Tag::new(Op::Connect, slot), connect(Socket::Fd(res), addr)))
            }
            Op::Connect if res < 0 => Next::Broken(io_error(args, "connect to", &error())),
            Op::Connect => Next::Submit(self.send(slot)),
            Op::Send if res < 0 => Next::Broken(io_error(args, "write to", &error())),
            Op::Send => {
                self.session.sent(res as usize);
                Next::Submit(self.send(slot))
            }
            Op::Recv if res < 0 => Next::Broken(io_error(args, "read from", &error())),
            Op::Recv if res == 0 => Next::Broken(self.session.eof()),
            Op::Recv => match self.session.feed(&self.buf[..res as usize]) {
                Ok(Progress::More) => Next::Submit(self.send(slot)),
                Ok(Progress::Ready) => {
                    self.query(args);
                    Next::Submit(self.send(slot))
                }
                Ok(Progress::Answer(answer)) => Next::Answer(answer),
                Err(e) => Next::Broken(e),
            },
            op => unreachable!("connection {slot}: a {op:?} is not a step of a query"),
        }
    }

    fn query(&mut self, args: &Args) {
        let row = row_of(self.task, args.rows);
        self.session.query(statement(args.ms, args.write), row, args.ms);
    }

    /// A SEND of what the session has to say, or when it has said it all, a RECV.
    fn send(&mut self, slot: usize) -> (Tag, squeue::Entry) {
        let fd = types::Fd(self.fd.expect("connected"));
        let out = self.session.to_send();
        let (op, entry) = if out.is_empty() {
            let recv = opcode::Recv::new(fd, self.buf.as_mut_ptr(), self.buf.len() as u32);
            (Op::Recv, recv.build())
        } else {
            (Op::Send, opcode::Send::new(fd, out.as_ptr(), out.len() as u32).build())
        };
        self.in_flight = op;
        (Tag::new(op, slot), entry)
    }
}
