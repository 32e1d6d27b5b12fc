//! The db task (`CONTRACT.md`, "The db workload"): one query to PostgreSQL, spoken sans I/O.
//!
//! Task `i` reads row `(i mod R) + 1` of `items(id int primary key, value bigint, hits
//! bigint)`, where `value` is `splitmix64(id) >> 1`, the disk workload's mix. With `--ms`
//! the row is read by a statement that also waits `--ms` in the server (`pg_sleep`), so the
//! wait is the database's, as a slow query's would be. With `--write` the statement is an
//! `UPDATE … RETURNING value`, committed (durably) on its own.
//!
//! [`Session`] is one connection's side of the protocol, on the `postgres-protocol` crate
//! (what rust-postgres is built on): it makes the bytes to send and takes the bytes
//! received, and never touches a socket, so every model moves the same bytes its own way,
//! as with HTTP. A session logs in (trust, password, MD5 or SCRAM-SHA-256), prepares the
//! statement once with its first query, as `pgbench -M prepared` does, and then only binds
//! and executes it: one round trip a query.
//!
//! [`blocking`] is the same exchange on a blocking socket, for `serial`, `procs` and
//! `threads`.

pub mod blocking;
mod session;

pub use session::{Progress, Session, MAX_MESSAGE};

use crate::cli::Args;
use crate::disk::splitmix64;
use crate::error::TaskError;

pub use crate::db_url::{DEFAULT_ROWS, MANAGED_URL_FILE};

/// The row task `id` reads: `(id mod rows) + 1`.
pub fn row_of(id: u32, rows: u32) -> u32 {
    id % rows + 1
}

/// The `value` column of row `row`, as seeded: `splitmix64(row) >> 1` (a bigint holds it).
pub fn value_of(row: u32) -> u64 {
    splitmix64(u64::from(row)) >> 1
}

/// The checksum of N tasks over `rows` rows.
pub fn expected_checksum(tasks: u32, rows: u32) -> u64 {
    (0..tasks).map(|id| value_of(row_of(id, rows))).fold(0, u64::wrapping_add)
}

/// The statement a task runs, with `$1` the row and `$2` the seconds to wait.
pub fn statement(ms: u64, write: bool) -> &'static str {
    match (ms, write) {
        (0, false) => "SELECT value FROM items WHERE id = $1",
        (_, false) => "SELECT value FROM items, pg_sleep($2) WHERE id = $1",
        (0, true) => "UPDATE items SET hits = hits + 1 WHERE id = $1 RETURNING value",
        (_, true) => {
            "UPDATE items SET hits = hits + 1 FROM pg_sleep($2) AS s WHERE id = $1 RETURNING value"
        }
    }
}

/// Which task each of the hand-written loops' connections (`epoll`, `ring`) serves, and
/// which one it serves next: without `--workers`, a connection per task, opened with the
/// run and closed after its one query; with `--workers W`, W connections, each taking the
/// next waiting task when it is done with one, and closed when none waits.
pub struct Queue {
    waiting: std::collections::VecDeque<u32>,
    pooled: bool,
}

impl Queue {
    /// The queue, and the tasks to open a connection for at the start.
    pub fn start(args: &Args) -> (Queue, Vec<u32>) {
        let width = args.workers.map_or(args.tasks, |w| w.min(args.tasks));
        let mut waiting: std::collections::VecDeque<u32> = (0..args.tasks).collect();
        let first = waiting.drain(..width as usize).collect();
        (Queue { waiting, pooled: args.workers.is_some() }, first)
    }

    /// A connection is done with its task (answered, or broken and replaced by a new one):
    /// the task it serves next, if any.
    pub fn next_task(&mut self) -> Option<u32> {
        if self.pooled {
            self.waiting.pop_front()
        } else {
            None
        }
    }
}

/// The error for a socket that failed at `stage` ("connect to", "read from").
pub fn io_error(args: &Args, stage: &str, err: &std::io::Error) -> TaskError {
    let url = args.db();
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => TaskError::new(format!(
            "connection refused by {} (is PostgreSQL running? `make db`, or --db-url)",
            url.host
        )),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            TaskError::new(format!("{stage} PostgreSQL at {}: timed out (--timeout-ms)", url.host))
        }
        _ => TaskError::starting(&format!("{stage} PostgreSQL at {}", url.host), err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_wrap_and_values_are_the_seeded_mix() {
        assert_eq!((row_of(0, 10), row_of(9, 10), row_of(10, 10)), (1, 10, 1));
        // splitmix64(1) = 0x910a2dec89025cc1, so row 1 holds it shifted right by one.
        assert_eq!(value_of(1), 0x910a_2dec_8902_5cc1 >> 1);
        assert!(value_of(u32::MAX) <= i64::MAX as u64);
        assert_eq!(expected_checksum(3, 2), 2 * value_of(1) + value_of(2));
    }
}
