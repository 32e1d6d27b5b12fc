//! `monoio --serve`: a listener per core, and a task per connection on the core that
//! accepted it.
//!
//! Thread-per-core, as monoio's own benchmark serves: R sockets bound to one port with
//! SO_REUSEPORT, so the kernel deals each connection to a core's accept queue, and the core
//! serves it to its end. No connection ever moves, and no two cores touch the same socket.
//! Each connection is `uring`'s, on monoio: a read hands the kernel an owned buffer and gets
//! it back with the result, a `/query` delay is a timeout on the core's ring, and a `/cpu`
//! hash holds the core (there is no pool to offload to). The stop is a completion too: each
//! core polls the signal's descriptor on its ring, beside its accepts.

use std::error::Error;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use monoio::net::{TcpListener, UnixStream};
use monoio::time::sleep;
use tokio::sync::{mpsc, watch};
use workload::serve::listen::{listen_each, out_of_descriptors, Spare};
use workload::serve::{Counters, ServeReport, Stop};
use workload::Args;

use crate::cores::{Cores, Job};
use crate::wire::Monoio;

pub fn run(args: &'static Args, model: &'static str) -> Result<ServeReport, Box<dyn Error>> {
    let cores = args
        .workers
        .map_or_else(|| std::thread::available_parallelism().map(|n| n.get() as u32), Ok)?;
    workload::limits::headroom(workload::limits::Worker::Thread)
        .admit(cores.into(), "runtimes (--workers)")?;
    let running = Cores::start(cores)?;
    workload::measure::raise_nofile_limit()?;
    let mut listeners =
        listen_each(args.serve.expect("serving: --serve was given"), cores)?.into_iter();
    let stop = Stop::on_signals()?;
    let counters = Arc::new(Counters::default());
    let mut each = Vec::new();
    for listener in listeners.by_ref() {
        let stop = stop.as_fd().try_clone_to_owned()?;
        each.push(Some((listener, stop, Spare::new()?)));
    }
    let running = running.run(|core| {
        let (listener, stop, spare) = each[core.index as usize].take().expect("one each");
        let counters = counters.clone();
        let job: Job =
            Box::new(move || Box::pin(accept_until_stopped(args, listener, stop, spare, counters)));
        job
    });
    running.join();
    Ok(counters.report(model, args, cores))
}

/// One core: accept on its own listener until SIGINT or SIGTERM, a task per connection, then
/// wait for every connection to close. At EMFILE a connection is refused (the spare
/// descriptor's trick), and with none queued the core waits 10 ms: accept fails at EMFILE
/// even when no client is waiting, and would spin.
async fn accept_until_stopped(
    args: &'static Args,
    listener: std::net::TcpListener,
    stop: OwnedFd,
    mut spare: Spare,
    counters: Arc<Counters>,
) {
    let own = listener.as_fd().try_clone_to_owned(); // for refusing at EMFILE
    let (Ok(listener), Ok(stop), Ok(own)) =
        (TcpListener::from_std(listener), UnixStream::from_std(stop.into()), own)
    else {
        return; // the descriptors were there a moment ago: the stop is the one way out
    };
    let (stopping, watching) = watch::channel(false);
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    let signalled = stop.readable(false);
    let mut signalled = std::pin::pin!(signalled);
    loop {
        monoio::select! {
            _ = &mut signalled => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    counters.accepted();
                    let (counters, watching, alive) = (counters.clone(), watching.clone(), alive.clone());
                    // The shared loop of `tokio_task::serving`, on monoio's socket and timer;
                    // a `/cpu` hash holds the core.
                    let hash = |id, work| std::future::ready(workload::task::sha256_chain(id, work));
                    let wire = Monoio::accepted(stream);
                    monoio::spawn(async move {
                        counters.closed(tokio_task::serving::connection(wire, args, watching, hash).await);
                        drop(alive);
                    });
                }
                Err(e) if out_of_descriptors(&e) => {
                    if !spare.refuse(&e, &counters, own.as_fd()) {
                        sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
                Err(_) => {} // a connection reset while in the accept queue
            },
        }
    }
    let _ = stopping.send(true);
    drop(alive);
    let _ = all_done.recv().await; // None once every connection has dropped its sender
}
