//! The db task on an async socket, and the pool of connections `--workers W` makes: what
//! `tokio`, `uring` and `monoio` share. They differ only in how a socket moves bytes and in
//! whose timer bounds a query, which each says by implementing [`Wire`].
//!
//! The pool is the article's pattern applied to connections: W permits (a semaphore), and
//! the idle connections on a stack. A task takes a permit, then an idle connection, or opens
//! one if fewer than W exist yet; it puts the connection back unless the exchange broke it.
//! Without `--workers`, each task opens its own connection, as each http task opens its
//! own socket, and says goodbye after its query.

use std::sync::Mutex;

use tokio::sync::Semaphore;
use workload::db::{io_error, row_of, statement, Progress, Session};
use workload::{Args, TaskError};

use crate::wire::Wire;

/// A logged-in connection.
pub struct Connection<W> {
    wire: W,
    session: Session,
    buf: Vec<u8>,
}

impl<W: Wire> Connection<W> {
    pub async fn open(args: &'static Args) -> Result<Connection<W>, TaskError> {
        let url = args.db();
        let wire = W::connect(url.addr).await.map_err(|e| io_error(args, "connect to", &e))?;
        let session = Session::new(url, args.write);
        let mut connection = Connection { wire, session, buf: Vec::with_capacity(4096) };
        match connection.exchange(args).await? {
            Progress::Ready => Ok(connection),
            _ => Err(TaskError::new("PostgreSQL answered a login with a query's answer")),
        }
    }

    pub async fn query(&mut self, args: &'static Args, id: u32) -> Result<u64, TaskError> {
        self.session.query(statement(args.ms, args.write), row_of(id, args.rows), args.ms);
        match self.exchange(args).await? {
            Progress::Answer(answer) => answer,
            _ => Err(TaskError::new("PostgreSQL answered a query with a login")),
        }
    }

    /// Say goodbye, so the backend ends now rather than when it notices the close.
    pub async fn close(mut self) {
        self.session.terminate();
        let _ = self.wire.write_all(self.session.to_send().to_vec()).await;
    }

    async fn exchange(&mut self, args: &Args) -> Result<Progress, TaskError> {
        loop {
            let to_send = self.session.to_send();
            if !to_send.is_empty() {
                let n = to_send.len();
                let (written, _) = self.wire.write_all(to_send.to_vec()).await;
                written.map_err(|e| io_error(args, "write to", &e))?;
                self.session.sent(n);
            }
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            let (n, buf) = self.wire.read(buf).await;
            self.buf = buf;
            match n.map_err(|e| io_error(args, "read from", &e))? {
                0 => return Err(self.session.eof()),
                n => match self.session.feed(&self.buf[..n])? {
                    Progress::More => {}
                    news => return Ok(news),
                },
            }
        }
    }
}

/// `--workers W`: W connections that the tasks take in turn.
pub struct Pool<W> {
    permits: Semaphore,
    idle: Mutex<Vec<Connection<W>>>,
}

impl<W: Wire> Pool<W> {
    pub fn new(size: u32) -> Pool<W> {
        Pool { permits: Semaphore::new(size as usize), idle: Mutex::new(Vec::new()) }
    }
}

/// Task `id`'s query: through `pool` when there is one, else on a connection of its own;
/// bounded by `--timeout-ms` from when it has a connection's permit.
pub async fn query<W: Wire>(
    pool: Option<&Pool<W>>,
    args: &'static Args,
    id: u32,
) -> Result<u64, TaskError> {
    // Each query's future is boxed, made only once it may run: N tasks wait for W permits,
    // and a waiting task's future would otherwise carry a connection, its login and its
    // exchange, over 3 KB, most of it never touched (at N = 100,000, 330 MB to page in).
    let Some(pool) = pool else {
        return within_timeout::<W::Timer>(
            args,
            Box::pin(async {
                let mut connection = Connection::<W>::open(args).await?;
                let answer = connection.query(args, id).await;
                connection.close().await;
                answer
            }),
        )
        .await;
    };
    let _permit = pool.permits.acquire().await.expect("the pool's semaphore is never closed");
    within_timeout::<W::Timer>(
        args,
        Box::pin(async {
            let idle = pool.idle.lock().expect("no panic holds the pool").pop();
            let mut connection = match idle {
                Some(connection) => connection,
                None => Connection::open(args).await?,
            };
            let answer = connection.query(args, id).await;
            if !connection.session.busy() {
                // Idle again, even after an SQL error: it goes back. Mid-exchange, it is lost.
                pool.idle.lock().expect("no panic holds the pool").push(connection);
            }
            answer
        }),
    )
    .await
}

async fn within_timeout<T: crate::Timer>(
    args: &Args,
    query: impl std::future::Future<Output = Result<u64, TaskError>>,
) -> Result<u64, TaskError> {
    match T::timeout(args.timeout(), query).await {
        Some(answer) => answer,
        None => Err(TaskError::timed_out("the query", args.timeout())),
    }
}

#[cfg(test)]
mod tests {
    use workload::{Args, Model};

    /// A task waiting for one of the pool's permits holds its query's future: that future
    /// must not carry the connection, login and exchange it makes only once it may run (it
    /// was 3,376 bytes before they were boxed, 330 MB at N = 100,000).
    #[test]
    fn a_query_waiting_for_its_permit_is_small() {
        let args = Args::try_parse_for(Model::named("tokio"), ["tokio", "--workload", "db"]);
        let args: &'static Args = Box::leak(Box::new(args.expect("valid arguments")));
        let pool: &'static super::Pool<tokio::net::TcpStream> =
            Box::leak(Box::new(super::Pool::new(10)));
        let query = super::query::<tokio::net::TcpStream>(Some(pool), args, 0);
        let size = std::mem::size_of_val(&query);
        let permit = std::mem::size_of_val(&pool.permits.acquire());
        assert!(
            size <= permit + 160,
            "a waiting query's future is {size} bytes, its permit's {permit}"
        );
    }
}
