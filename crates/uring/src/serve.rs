//! `uring --serve`: a task per connection on tokio-uring's one thread, each read and write a
//! completion on the ring.
//!
//! The pair of `tokio/src/serve.rs`, differing where the models differ: the runtime is one
//! thread, and a read hands its buffer to the kernel and gets it back with the result, so
//! the buffer is owned (a `Vec` moved in and out), not borrowed. The wait for a `/query`
//! delay is tokio's timer — tokio-uring 0.5 has no timeout operation — and `--offload` is
//! tokio's blocking pool, as in `tokio`.

use std::error::Error;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::time::Instant;

use tokio::sync::watch;
use tokio::time::{sleep_until, timeout_at};
use tokio_uring::net::{TcpListener, TcpStream};
use workload::serve::{self, Counters, Exchange, ServeReport, Step};
use workload::Args;

pub fn run(args: &'static Args, model: &'static str) -> Result<ServeReport, Box<dyn Error>> {
    tokio_uring::builder().entries(4096).start(async {
        let std_listener = serve::open(args)?;
        let fd = std_listener.as_fd().try_clone_to_owned()?; // for refusing at EMFILE
        let listener = TcpListener::from_std(std_listener);
        let counters = Rc::new(Counters::default());
        let spawn = |stream, stopping, alive| {
            let counters = counters.clone();
            tokio_uring::spawn(async move {
                counters.closed(connection(stream, args, stopping).await);
                drop(alive);
            });
        };
        tokio_task::accept_until_stopped(fd.as_fd(), || listener.accept(), &counters, spawn)
            .await?;
        Ok(counters.report(model, args, 1))
    })
}

/// Serve one connection until the client leaves, breaks, is too slow, or a stop is asked.
async fn connection(
    stream: TcpStream,
    args: &'static Args,
    mut stopping: watch::Receiver<bool>,
) -> serve::Counts {
    let _ = stream.set_nodelay(true);
    let mut exchange = Exchange::new(args.timeout(), Instant::now());
    // Owned buffers: the ring holds each while its operation is in flight.
    let (mut input, mut output) = (Some(Vec::with_capacity(4096)), Vec::with_capacity(256));
    loop {
        let stop = *stopping.borrow();
        match exchange.step(Instant::now(), stop) {
            Step::Read { deadline } => {
                let buf = input.take().expect("the buffer is back after every read");
                tokio::select! {
                    (read, mut buf) = stream.read(buf) => {
                        match read {
                            Ok(0) => exchange.eof(),
                            Ok(_) => exchange.received(&buf),
                            Err(_) => exchange.reset(),
                        }
                        buf.clear();
                        input = Some(buf);
                    }
                    // Past the deadline or stopping, the next step closes; the cancelled
                    // read keeps its buffer until the kernel is done with it.
                    _ = sleep_until(deadline.into()) => input = Some(Vec::with_capacity(4096)),
                    _ = stopping.changed() => input = Some(Vec::with_capacity(4096)),
                }
            }
            Step::Sleep { until } => sleep_until(until.into()).await,
            Step::Hash { id, work } => {
                let value = tokio_task::hash(args.offload, id, work).await;
                exchange.hashed(value, Instant::now());
            }
            Step::Write { deadline } => {
                output.extend_from_slice(exchange.output());
                let len = output.len();
                match timeout_at(deadline.into(), stream.write_all(output)).await {
                    Ok((Ok(()), mut buf)) => {
                        exchange.wrote(len);
                        buf.clear();
                        output = buf;
                    }
                    _ => {
                        exchange.reset(); // reset, or the client took too long to read
                        output = Vec::new();
                    }
                }
            }
            Step::Busy => unreachable!("the hash is awaited above"),
            Step::Close => {
                // A cancelled read still holds the socket in the kernel, and tokio-uring
                // closes it only when that read completes: shutting it down completes it.
                let _ = stream.shutdown(std::net::Shutdown::Both);
                return exchange.counts();
            }
        }
    }
}
