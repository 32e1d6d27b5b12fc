//! `epoll --serve`: the server as connection state machines in the hand-written loop.
//!
//! One thread and one epoll instance hold the listening socket, every connection, the stop
//! descriptor and (with `--offload`) the pool's waker. Each connection is a non-blocking
//! socket and the shared `Exchange`; when epoll says the socket is ready, or its timer is due,
//! the loop *drives* it: reads until the kernel has nothing more, answers what is whole,
//! writes until the socket would block, and arms a timer for the `/query` delay or the
//! slow-client deadline. Sockets are registered once, edge-triggered, for both directions.
//! A `/cpu` request is hashed on the loop's thread — every other connection waits — unless
//! `--offload` hands it to the pool.

use std::error::Error;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use thread_pool::ThreadPool;
use workload::serve::listen::{out_of_descriptors, Spare};
use workload::serve::loop_conns::LoopConns;
use workload::serve::{self, ServeReport, Step, Stop};
use workload::{task, Args};

const LISTENER: Token = Token(usize::MAX);
const STOP: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);

/// The server's loop: a connection's token is its slot.
struct Server {
    poll: Poll,
    listener: Option<TcpListener>,
    conns: LoopConns<TcpStream>,
    spare: Spare,
    /// With `--offload`: the pool, where results go, and the waker they ring.
    offload: Option<(ThreadPool, Sender<(usize, u64)>, Receiver<(usize, u64)>, Arc<Waker>)>,
    buf: Box<[u8; 16 * 1024]>,
}

pub fn run(args: &Args, model: &'static str) -> Result<ServeReport, Box<dyn Error>> {
    workload::measure::raise_nofile_limit()?;
    let stop = Stop::on_signals()?;
    let std_listener = serve::listen(args.serve.expect("--serve"))?;
    std_listener.set_nonblocking(true)?;
    let mut server = Server::new(args, TcpListener::from_std(std_listener), &stop)?;
    let started = Instant::now();
    let mut events = Events::with_capacity(1024);
    while !server.conns.done() {
        // 1. Every connection whose timer is due: a delay ends, or a deadline passes.
        while let Some(slot) = server.conns.next_due() {
            slot.map(|slot| server.drive(slot));
        }
        if server.conns.done() {
            break; // the last connection closed on its timer
        }
        // 2. Sleep in epoll_wait until a socket is ready, a signal or a result comes, or the
        //    next timer is due.
        match server.poll.poll(&mut events, server.conns.wait_at_most()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => server.accept_all(),
                STOP => server.stop(),
                WAKER => server.take_results(),
                Token(slot) if server.conns.slots.contains(slot) => server.drive(slot),
                Token(_) => {} // closed before this event was handed out
            }
        }
    }
    let report = server.conns.counters.report(model, args, 1, started);
    if let Some((pool, ..)) = server.offload {
        pool.join();
    }
    Ok(report)
}

impl Server {
    fn new(args: &Args, mut listener: TcpListener, stop: &Stop) -> io::Result<Server> {
        let poll = Poll::new()?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let stop_fd = stop.as_fd().as_raw_fd();
        poll.registry().register(&mut SourceFd(&stop_fd), STOP, Interest::READABLE)?;
        let offload = match args.offload {
            false => None,
            true => {
                let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
                let pool = ThreadPool::new(std::thread::available_parallelism()?.get())?;
                let (done, results) = crossbeam_channel::unbounded();
                Some((pool, done, results, waker))
            }
        };
        let (conns, spare) = (LoopConns::new(args.timeout()), Spare::new()?);
        Ok(Server {
            poll,
            listener: Some(listener),
            conns,
            spare,
            offload,
            buf: Box::new([0; 16 * 1024]),
        })
    }

    /// Accept until the queue is empty; refuse (and name the limit) when descriptors run out.
    fn accept_all(&mut self) {
        loop {
            let Some(listener) = &self.listener else { return };
            match listener.accept() {
                Ok((mut stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let slot = self.conns.slots.vacant_key();
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if self.poll.registry().register(&mut stream, Token(slot), interest).is_ok() {
                        self.conns.insert(stream);
                        self.drive(slot);
                    }
                }
                Err(e) if out_of_descriptors(&e) => {
                    if !self.spare.refuse(&e, &self.conns.counters, listener.as_fd()) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {} // reset while queued, or a signal
            }
        }
    }

    /// Advance connection `slot` as far as it goes without blocking.
    fn drive(&mut self, slot: usize) {
        loop {
            let conn = &mut self.conns.slots[slot];
            let x = &mut conn.exchange;
            match x.step(Instant::now(), self.conns.stopping) {
                Step::Read { deadline } => match conn.io.read(&mut self.buf[..]) {
                    Ok(0) => x.eof(),
                    Ok(n) => x.received(&self.buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return self.conns.arm(slot, deadline)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => x.reset(),
                },
                Step::Sleep { until } => return self.conns.arm(slot, until),
                Step::Hash { id, work } => match &self.offload {
                    None => x.hashed(task::sha256_chain(id, work), Instant::now()),
                    Some((pool, done, _, waker)) => {
                        let (done, waker) = (done.clone(), waker.clone());
                        pool.submit(move || {
                            let _ = done.send((slot, task::sha256_chain(id, work)));
                            let _ = waker.wake();
                        });
                        return;
                    }
                },
                Step::Busy => return,
                Step::Write { deadline } => match conn.io.write(x.output()) {
                    Ok(n) => x.wrote(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return self.conns.arm(slot, deadline)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => x.reset(),
                },
                Step::Close => {
                    let mut stream = self.conns.close(slot);
                    let _ = self.poll.registry().deregister(&mut stream);
                    return; // dropping the stream closes the socket
                }
            }
        }
    }

    /// The pool has results: answer each, and drive its connection on.
    fn take_results(&mut self) {
        let Some((_, _, results, _)) = &self.offload else { return };
        for (slot, value) in results.try_iter().collect::<Vec<_>>() {
            self.conns.slots[slot].exchange.hashed(value, Instant::now());
            self.drive(slot);
        }
    }

    /// SIGINT or SIGTERM: close the listening socket, and let each connection finish the
    /// request in hand; idle ones close now.
    fn stop(&mut self) {
        self.conns.stopping = true;
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        let slots: Vec<usize> = self.conns.slots.iter().map(|(slot, _)| slot).collect();
        slots.into_iter().for_each(|slot| self.drive(slot));
    }
}
