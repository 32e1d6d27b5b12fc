//! `serial --serve`: the iterative server. One connection at a time, from accept to close;
//! the next client waits in the kernel's accept queue until this one leaves — with
//! keep-alive, until it closes or goes quiet for `--timeout-ms`. A `/query` delay is a
//! `thread::sleep` that holds up everyone, which is the point: N clients of 100 ms take
//! N × 100 ms.
//!
//! Under `strace -f -c`: `poll`, `accept4`, then `poll`/`recvfrom`/`sendto` per request and
//! `clock_nanosleep` for a delay — one thread, no `clone`.

use std::error::Error;

use workload::serve::blocking::{accept_each, serve_connection};
use workload::serve::{self, Counters, ServeReport, Stop};
use workload::Args;

pub fn run(args: &Args, model: &'static str) -> Result<ServeReport, Box<dyn Error>> {
    let stop = Stop::on_signals()?;
    let listener = serve::open(args)?;
    let counters = Counters::default();
    accept_each(&listener, &stop, &counters, |stream| {
        if let Some(stream) = stream {
            counters.closed(serve_connection(stream, args.timeout(), &stop));
        }
        Ok(())
    })?;
    Ok(counters.report(model, args, 1))
}
