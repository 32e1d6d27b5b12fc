//! The server loop's state — the epoll instance, the listener, the connections, the offload
//! pool — and what it does when each thing it waits on is ready.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Interest, Poll, Token, Waker};
use thread_pool::ThreadPool;
use workload::serve::listen::{out_of_descriptors, Spare};
use workload::serve::loop_conns::LoopConns;
use workload::serve::{Step, Stop};
use workload::{task, Args};

pub const LISTENER: Token = Token(usize::MAX);
pub const STOP: Token = Token(usize::MAX - 1);
pub const WAKER: Token = Token(usize::MAX - 2);

/// `--offload`: the pool, the results it sends back as (slot, value), and the waker they ring.
pub struct Offload {
    pub pool: ThreadPool,
    done: Sender<(usize, u64)>,
    results: Receiver<(usize, u64)>,
    waker: Arc<Waker>,
}

/// A connection's socket, and whether it may have bytes to read: epoll reports a socket
/// once each time bytes arrive (edge-triggered), so a read that came back short has emptied
/// it, and the next read waits for the next event instead of costing a system call for
/// EAGAIN — one read per request, not two.
pub struct Socket {
    stream: TcpStream,
    pub readable: bool,
}

/// The server's loop: a connection's token is its slot.
pub struct Server {
    pub poll: Poll,
    listener: Option<TcpListener>,
    pub conns: LoopConns<Socket>,
    spare: Spare,
    pub offload: Option<Offload>,
    buf: Box<[u8; 16 * 1024]>,
}

impl Server {
    pub fn new(args: &Args, mut listener: TcpListener, stop: &Stop) -> io::Result<Server> {
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
                Some(Offload { pool, done, results, waker })
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
    pub fn accept_all(&mut self) {
        loop {
            let Some(listener) = &self.listener else { return };
            match listener.accept() {
                Ok((mut stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let slot = self.conns.slots.vacant_key();
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if self.poll.registry().register(&mut stream, Token(slot), interest).is_ok() {
                        self.conns.insert(Socket { stream, readable: true });
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
    pub fn drive(&mut self, slot: usize) {
        loop {
            let conn = &mut self.conns.slots[slot];
            let x = &mut conn.exchange;
            match x.step(Instant::now(), self.conns.stopping) {
                Step::Read { deadline } if !conn.io.readable => {
                    return self.conns.arm(slot, deadline)
                }
                Step::Read { .. } => match conn.io.stream.read(&mut self.buf[..]) {
                    Ok(0) => x.eof(),
                    Ok(n) => {
                        conn.io.readable = n == self.buf.len();
                        x.received(&self.buf[..n])
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.io.readable = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => x.reset(),
                },
                Step::Sleep { until } => return self.conns.arm(slot, until),
                Step::Hash { id, work } => match &self.offload {
                    None => x.hashed(task::sha256_chain(id, work), Instant::now()),
                    Some(Offload { pool, done, waker, .. }) => {
                        let (done, waker) = (done.clone(), waker.clone());
                        pool.submit(move || {
                            let _ = done.send((slot, task::sha256_chain(id, work)));
                            let _ = waker.wake();
                        });
                        return;
                    }
                },
                Step::Busy => return,
                Step::Write { deadline } => match conn.io.stream.write(x.output()) {
                    Ok(n) => x.wrote(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return self.conns.arm(slot, deadline)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => x.reset(),
                },
                Step::Close => {
                    let mut socket = self.conns.close(slot);
                    let _ = self.poll.registry().deregister(&mut socket.stream);
                    return; // dropping the stream closes the socket
                }
            }
        }
    }

    /// The pool has results: answer each, and drive its connection on.
    pub fn take_results(&mut self) {
        let Some(Offload { results, .. }) = &self.offload else { return };
        for (slot, value) in results.try_iter().collect::<Vec<_>>() {
            self.conns.slots[slot].exchange.hashed(value, Instant::now());
            self.drive(slot);
        }
    }

    /// SIGINT or SIGTERM: close the listening socket, and let each connection finish the
    /// request in hand; idle ones close now.
    pub fn stop(&mut self) {
        self.conns.stopping = true;
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        let slots: Vec<usize> = self.conns.slots.iter().map(|(slot, _)| slot).collect();
        slots.into_iter().for_each(|slot| self.drive(slot));
    }
}
