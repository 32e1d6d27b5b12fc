//! The db task on a blocking socket: what `serial`, `procs` and `threads` run.
//!
//! Without `--workers`, each task opens its own connection, logs in, runs its query and
//! says goodbye, as each http task opens its own socket. With `--workers W`, the model's W
//! threads or processes each keep one connection (thread-local here) and hand it every task
//! they take: W connections, the pool.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::TcpStream;

use super::{io_error, row_of, statement, Progress, Session};
use crate::cli::Args;
use crate::error::TaskError;

/// A logged-in connection on a blocking socket.
pub struct Connection {
    stream: TcpStream,
    session: Session,
}

impl Connection {
    /// Connect and log in, each step within `--timeout-ms`.
    pub fn open(args: &Args) -> Result<Connection, TaskError> {
        let url = args.db();
        let stream = TcpStream::connect_timeout(&url.addr, args.timeout())
            .map_err(|e| io_error(args, "connect to", &e))?;
        let set = |r: io::Result<()>| r.map_err(|e| io_error(args, "set up", &e));
        set(stream.set_nodelay(true))?;
        set(stream.set_read_timeout(Some(args.timeout())))?;
        set(stream.set_write_timeout(Some(args.timeout())))?;
        let mut connection = Connection { stream, session: Session::new(url, args.write) };
        match connection.exchange(args)? {
            Progress::Ready => Ok(connection),
            _ => Err(TaskError::new("PostgreSQL answered a login with a query's answer")),
        }
    }

    /// Task `id`'s query, on this connection.
    pub fn query(&mut self, args: &Args, id: u32) -> Result<u64, TaskError> {
        let row = row_of(id, args.rows);
        self.session.query(statement(args.ms, args.write), row, args.ms);
        match self.exchange(args)? {
            Progress::Answer(answer) => answer,
            _ => Err(TaskError::new("PostgreSQL answered a query with a login")),
        }
    }

    /// Write what the session has to send, then read until it has news.
    fn exchange(&mut self, args: &Args) -> Result<Progress, TaskError> {
        let mut buf = [0u8; 4096];
        loop {
            if !self.session.to_send().is_empty() {
                let n = self.stream.write(self.session.to_send());
                let n = n.map_err(|e| io_error(args, "write to", &e))?;
                self.session.sent(n);
                continue;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(self.session.eof()),
                Ok(n) => match self.session.feed(&buf[..n])? {
                    Progress::More => {}
                    news => return Ok(news),
                },
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(args, "read from", &e)),
            }
        }
    }
}

impl Drop for Connection {
    /// Say goodbye, so the server's backend ends now rather than when it notices the close.
    fn drop(&mut self) {
        self.session.terminate();
        let _ = self.stream.write_all(self.session.to_send());
    }
}

thread_local! {
    /// The connection this thread (or process) keeps with `--workers`.
    static KEPT: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

/// Task `id`: on a connection of its own, or with `--workers` on the one this thread keeps
/// (opened by its first task, and opened again after an error that broke it).
pub fn run(args: &Args, id: u32) -> Result<u64, TaskError> {
    if args.workers.is_none() {
        return Connection::open(args)?.query(args, id);
    }
    KEPT.with_borrow_mut(|kept| {
        let connection = match kept {
            Some(connection) => connection,
            None => kept.insert(Connection::open(args)?),
        };
        let answer = connection.query(args, id);
        if answer.is_err() && connection.session.busy() {
            *kept = None; // the exchange broke mid-query: the connection is lost
        }
        answer
    })
}
