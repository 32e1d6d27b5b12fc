//! db on the readiness loop: each connection a non-blocking socket and a protocol
//! [`Session`], advanced each time epoll says the socket is ready, like an http task's.
//!
//! Without `--workers`, a connection per task, opened with the run and closed after its one
//! query. With `--workers W`, W connections, and the tasks waiting their turn in a queue
//! (`workload::db::Queue`): a connection that has its answer binds and executes the next
//! waiting task's query at once, in the same turn of the loop. Each connection's token is
//! its slot in a slab. A query still unanswered `--timeout-ms` after it got its connection
//! fails, and in a pool its connection is replaced for the next waiting task.
//!
//! Under `strace -f -c`: `epoll_wait`, and a `sendto` and `recvfrom` a query; a `connect` and
//! the login's round trips for each connection.

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use slab::Slab;
use workload::db::{io_error, row_of, statement, Progress, Queue, Session};
use workload::loop_tasks::LoopTasks;
use workload::timers::Due;
use workload::{Args, TaskError, Width};

use crate::event_loop::{Cx, Part};

/// One connection: its socket, its protocol state, and the task it serves now.
struct Connection {
    stream: TcpStream,
    session: Session,
    task: u32,
    connected: bool,
}

/// Every connection of the run, and the tasks waiting for one.
pub struct Db {
    connections: Slab<Connection>,
    /// The connection serving each task, while it does; what a deadline looks up.
    serving: Vec<Option<usize>>,
    queue: Queue,
}

impl Db {
    /// Open the run's first connections: one per task, or W for the pool.
    pub fn start(cx: &mut Cx) -> Db {
        let (registry, tasks) = (cx.registry, &mut *cx.tasks);
        let args = tasks.args;
        // W connections: at most W queries wait at once.
        tasks.set_width(Width { workers: 1, at_once: args.workers.unwrap_or(args.tasks) });
        let (queue, first) = Queue::start(&tasks.args);
        let serving = vec![None; tasks.args.tasks as usize];
        let mut db = Db { connections: Slab::with_capacity(first.len()), serving, queue };
        for task in first {
            db.open(registry, tasks, task);
        }
        db
    }

    /// A connection for `task`: a non-blocking connect, registered under its slot's token.
    /// If it fails at once, the task fails and (in a pool) the next waiting task tries.
    fn open(&mut self, registry: &Registry, tasks: &mut LoopTasks, task: u32) {
        let mut next = Some(task);
        while let Some(task) = next.take() {
            tasks.set_deadline(task);
            match self.connect(registry, &tasks.args, task) {
                Ok(slot) => self.serving[task as usize] = Some(slot),
                Err(e) => {
                    tasks.finish(task, Err(e));
                    next = self.queue.next_task();
                }
            }
        }
    }

    fn connect(&mut self, registry: &Registry, args: &Args, task: u32) -> Result<usize, TaskError> {
        let url = args.db();
        let mut stream =
            TcpStream::connect(url.addr).map_err(|e| io_error(args, "connect to", &e))?;
        stream.set_nodelay(true).map_err(|e| io_error(args, "set up", &e))?;
        let slot = self.connections.vacant_key();
        registry
            .register(&mut stream, Token(slot), Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| TaskError::starting("epoll_ctl", &e))?;
        let session = Session::new(url, args.write);
        Ok(self.connections.insert(Connection { stream, session, task, connected: false }))
    }

    /// Epoll says connection `slot` is ready: go as far as it goes without blocking.
    fn on_ready_slot(&mut self, registry: &Registry, tasks: &mut LoopTasks, slot: usize) {
        let Some(connection) = self.connections.get_mut(slot) else {
            return; // closed (answered, broken or timed out) before this event was handed out
        };
        match connection.advance(&tasks.args) {
            Ok(None) => {}
            Ok(Some(answer)) => {
                let task = connection.task;
                self.serving[task as usize] = None;
                tasks.finish(task, answer);
                match self.queue.next_task() {
                    // The pool's connection takes the next waiting task at once.
                    Some(next) => {
                        tasks.set_deadline(next);
                        self.serving[next as usize] = Some(slot);
                        let connection = &mut self.connections[slot];
                        connection.task = next;
                        connection.query(&tasks.args);
                        self.on_ready_slot(registry, tasks, slot);
                    }
                    None => self.close(registry, slot, true),
                }
            }
            Err(e) => {
                let task = connection.task;
                self.close(registry, slot, false);
                self.serving[task as usize] = None;
                tasks.finish(task, Err(e));
                if let Some(next) = self.queue.next_task() {
                    self.open(registry, tasks, next);
                }
            }
        }
    }

    /// Task `id`'s deadline passed: if it still waits for its answer, its connection is
    /// closed and, in a pool, replaced for the next waiting task.
    fn on_deadline(&mut self, registry: &Registry, tasks: &mut LoopTasks, id: u32) {
        if let Some(slot) = self.serving[id as usize].take() {
            self.close(registry, slot, false);
            tasks.time_out(id, "the query");
            if let Some(next) = self.queue.next_task() {
                self.open(registry, tasks, next);
            }
        }
    }

    /// Close connection `slot`; an idle one says goodbye first.
    fn close(&mut self, registry: &Registry, slot: usize, goodbye: bool) {
        let mut connection = self.connections.remove(slot);
        if goodbye {
            connection.session.terminate();
            let _ = connection.stream.write(connection.session.to_send());
        }
        let _ = registry.deregister(&mut connection.stream);
    }
}

impl Part for Db {
    fn on_ready(&mut self, Token(slot): Token, cx: &mut Cx) {
        self.on_ready_slot(cx.registry, cx.tasks, slot);
    }

    fn on_timer(&mut self, due: Due, cx: &mut Cx) {
        if let Due::Task(id) = due {
            self.on_deadline(cx.registry, cx.tasks, id);
        }
    }
}

impl Connection {
    fn query(&mut self, args: &Args) {
        let row = row_of(self.task, args.rows);
        self.session.query(statement(args.ms, args.write), row, args.ms);
    }

    /// Connect, write what the session has to send, read what arrived: `None` while it waits,
    /// `Some` with its task's answer, `Err` when the connection is lost. Edge-triggered, so
    /// each step runs until the socket would block.
    fn advance(&mut self, args: &Args) -> Result<Option<Result<u64, TaskError>>, TaskError> {
        if !self.connected {
            match (self.stream.take_error(), self.stream.peer_addr()) {
                (Ok(Some(e)) | Err(e), _) => return Err(io_error(args, "connect to", &e)),
                (Ok(None), Ok(_)) => self.connected = true,
                (Ok(None), Err(e)) if e.kind() == io::ErrorKind::NotConnected => return Ok(None),
                (Ok(None), Err(e)) => return Err(io_error(args, "connect to", &e)),
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            while !self.session.to_send().is_empty() {
                match self.stream.write(self.session.to_send()) {
                    Ok(n) => self.session.sent(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                    Err(e) => return Err(io_error(args, "write to", &e)),
                }
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(self.session.eof()),
                Ok(n) => match self.session.feed(&buf[..n])? {
                    Progress::More => {}
                    Progress::Ready => self.query(args),
                    Progress::Answer(answer) => return Ok(Some(answer)),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(io_error(args, "read from", &e)),
            }
        }
    }
}
