//! One connection of `--serve` with owned buffers: `uring`'s and `monoio`'s, which differ only
//! in their [`Wire`] and its timer. `tokio`'s own (`tokio/src/serve.rs`) reads into a borrowed
//! buffer; here a read hands the runtime a `Vec` and gets it back with the result, because the
//! kernel holds it while the read is in flight.

use std::future::Future;
use std::time::Instant;

use tokio::sync::watch;
use workload::serve::{self, Exchange, Step};
use workload::Args;

use crate::wire::Wire;
use crate::Timer;

/// Serve one connection until the client leaves, breaks, is too slow, or a stop is asked;
/// `hash` computes a `/cpu` answer (on the loop's thread, or a pool).
pub async fn connection<W: Wire, H: Future<Output = u64>>(
    mut wire: W,
    args: &'static Args,
    mut stopping: watch::Receiver<bool>,
    hash: impl Fn(u32, u32) -> H,
) -> serve::Counts {
    let mut exchange = Exchange::new(args.timeout(), Instant::now());
    let (mut input, mut output) = (Some(Vec::with_capacity(4096)), Vec::with_capacity(256));
    loop {
        let stop = *stopping.borrow();
        match exchange.step(Instant::now(), stop) {
            Step::Read { deadline } => {
                let buf = input.take().expect("the buffer is back after every read");
                tokio::select! {
                    (read, mut buf) = wire.read(buf) => {
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
                    () = W::Timer::sleep_until(deadline) => input = Some(Vec::with_capacity(4096)),
                    _ = stopping.changed() => input = Some(Vec::with_capacity(4096)),
                }
            }
            Step::Sleep { until } => W::Timer::sleep_until(until).await,
            Step::Hash { id, work } => {
                let value = hash(id, work).await;
                exchange.hashed(value, Instant::now());
            }
            Step::Write { deadline } => {
                output.extend_from_slice(exchange.output());
                let len = output.len();
                let left = deadline.saturating_duration_since(Instant::now());
                match W::Timer::timeout(left, wire.write_all(output)).await {
                    Some((Ok(()), mut buf)) => {
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
                wire.shut_down();
                return exchange.counts();
            }
        }
    }
}
