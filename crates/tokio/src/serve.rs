//! `tokio --serve`: a task per connection on tokio's multi-threaded runtime (`--workers W`
//! worker threads, one per core by default).
//!
//! Each connection is an `async fn` driving the shared `Exchange`: a read that waits in
//! epoll, a `/query` delay on tokio's timer, a `/cpu` hash on the worker itself (it holds that
//! worker, and every connection queued on it, until done) or with `--offload` on the
//! blocking pool. An idle keep-alive connection costs a task, its buffer and a socket — no
//! thread — so 10,000 of them fit where the threads model needs 10,000 stacks.
//!
//! Under `strace -f -c`: `epoll_wait`, `accept4`, `recvfrom`/`sendto` per request, and
//! `futex` between the workers.

use std::error::Error;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout_at};
use workload::serve::{self, Counters, Exchange, ServeReport, Step};
use workload::Args;

pub fn run(args: &'static Args, model: &'static str) -> Result<ServeReport, Box<dyn Error>> {
    let (runtime, width) = crate::runtime(args)?;
    runtime.block_on(async {
        let listener = serve::open(args)?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let counters = Arc::new(Counters::default());
        let spawn = |stream, stopping, alive| {
            let counters = counters.clone();
            tokio::spawn(async move {
                counters.closed(connection(stream, args, stopping).await);
                drop(alive);
            });
        };
        let fd = listener.as_fd();
        tokio_task::accept_until_stopped(fd, || listener.accept(), &counters, spawn).await?;
        Ok(counters.report(model, args, width.workers))
    })
}

/// Serve one connection until the client leaves, breaks, is too slow, or a stop is asked.
async fn connection(
    mut stream: TcpStream,
    args: &'static Args,
    mut stopping: watch::Receiver<bool>,
) -> serve::Counts {
    let _ = stream.set_nodelay(true);
    let mut exchange = Exchange::new(args.timeout(), Instant::now());
    let mut buf = [0u8; 4096];
    loop {
        let stop = *stopping.borrow();
        match exchange.step(Instant::now(), stop) {
            Step::Read { deadline } => tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) => exchange.eof(),
                    Ok(n) => exchange.received(&buf[..n]),
                    Err(_) => exchange.reset(),
                },
                // Either way the next step decides: past the deadline, or stopping, it closes.
                _ = sleep_until(deadline.into()) => {}
                _ = stopping.changed() => {}
            },
            Step::Sleep { until } => sleep_until(until.into()).await,
            Step::Hash { id, work } => {
                let value = tokio_task::hash(args.offload, id, work).await;
                exchange.hashed(value, Instant::now());
            }
            Step::Write { deadline } => {
                match timeout_at(deadline.into(), stream.write(exchange.output())).await {
                    Ok(Ok(n)) => exchange.wrote(n),
                    _ => exchange.reset(), // reset, or the client took too long to read
                }
            }
            Step::Busy => unreachable!("the hash is awaited above"),
            Step::Close => return exchange.counts(),
        }
    }
}
