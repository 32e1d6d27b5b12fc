//! # epoll — a hand-written event loop on `mio`: what asyncio and tokio hide
//!
//! One thread, one `epoll` instance (`mio::Poll`), and a loop that asks the kernel "which of
//! my sockets can make progress, or how long until my next timer?". Every sleeping task is
//! a deadline in a binary heap; the loop sleeps in `epoll_wait` exactly until the nearest
//! one, then finishes every task that is due. Every http task is a non-blocking socket and
//! a small state machine (connecting → writing → reading → done) that the loop advances
//! each time epoll says the socket is ready. Nothing is preempted: a task runs until it
//! would block, then gives the thread back.
//!
//! What it costs: per sleeping task a 16-byte heap entry and nothing else — no stack, no
//! future, no thread — which is why this loop runs a million sleeping tasks in a few dozen
//! MiB. Per http task: a socket, its state, and the request buffer.
//!
//! cpu tasks run on the loop's one thread, one per turn of the loop, and block it: timers
//! and sockets wait until the hashing stops. `--offload` hands each task to a `crossbeam`
//! pool of one thread per core (`thread_pool::ThreadPool`, from the `threads` crate), and
//! each result wakes the loop through a `mio::Waker` (an eventfd): the article's
//! `run_in_executor`, by hand.
//!
//! Under `strace -f -c`: `epoll_wait` and little else for sleep — one thread, no `futex`,
//! no `clone`; for http a `socket`, `connect`, `epoll_ctl`, `sendto`, `recvfrom` and `close`
//! per task; with `--offload`, `clone` for the pool and `write` on the waker's eventfd.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::error::Error;
use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use thread_pool::ThreadPool;
use workload::error::io_error;
use workload::http::{self, Progress, ResponseParser};
use workload::measure::Pulse;
use workload::{task, Args, Model, Report, Runner, Tally, TaskError, Workload};

const MODEL: Model = Model { name: "epoll", has_pool: false, can_offload: true };

/// The token of the waker the offload pool uses; sockets use their task id.
const WAKER: Token = Token(usize::MAX);
/// The id of the loop's own 10 ms pulse timer in the heap; tasks use their id.
const PULSE: u32 = u32::MAX;

fn main() -> ExitCode {
    let args = Args::parse_for(MODEL);
    workload::exit(run(args))
}

fn run(args: Args) -> Result<Report, Box<dyn Error>> {
    workload::measure::raise_nofile_limit()?;
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let n = args.tasks as usize;
    // Timers as (due, task id) with `due` in ns since the start: 16 bytes a task.
    let mut timers: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::with_capacity(n);
    let mut sockets: Vec<Option<Connection>> = Vec::new();
    let mut ready: VecDeque<u32> = VecDeque::new();
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<(u32, u64, Instant, Runner)>();
    // The loop keeps its own handle: were the last worker to close the eventfd, epoll
    // would forget an event it had not yet handed out.
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);

    let runner = Runner::here(); // every task but the offloaded ones runs on this thread
    let mut tally = Tally::start(MODEL.name, &args, 1, args.tasks);
    let mut left = n; // tasks without a result yet
    let due_after = |d: Duration| d.as_nanos() as u64;
    // With --offload, the pool lives until every result is in; dropping it joins its threads.
    let _offload_pool = match args.workload {
        Workload::Sleep => {
            (0..args.tasks).for_each(|id| timers.push(Reverse((due_after(args.sleep()), id))));
            None
        }
        Workload::Http => {
            sockets.resize_with(n, || None);
            for id in 0..args.tasks {
                match Connection::open(&poll, &args, id) {
                    Ok(conn) => sockets[id as usize] = Some(conn),
                    Err(e) => {
                        tally.record(id, Err(e), Instant::now(), runner);
                        left -= 1;
                    }
                }
                timers.push(Reverse((due_after(args.timeout()), id)));
            }
            None
        }
        Workload::Cpu if args.offload => Some(offload(&args, done_tx, &waker)?),
        Workload::Cpu => {
            ready.extend(0..args.tasks);
            None
        }
    };
    // While cpu tasks run, a 10 ms timer shows whether they block the loop.
    let pulse = Pulse::default();
    if args.workload == Workload::Cpu {
        timers.push(Reverse((due_after(Pulse::PERIOD), PULSE)));
        pulse.expect(tally.start + Pulse::PERIOD);
    }

    while left > 0 {
        // 1. One ready cpu task per turn: it blocks the loop for as long as it runs.
        if let Some(id) = ready.pop_front() {
            let value = task::sha256_chain(id, args.work);
            tally.record(id, Ok(value), Instant::now(), runner);
            left -= 1;
        }
        // 2. Every timer that is due: a sleep ends, or a request runs out of time.
        let now = due_after(tally.start.elapsed());
        while let Some(&Reverse((_, id))) = timers.peek().filter(|t| t.0 .0 <= now) {
            timers.pop();
            if id == PULSE {
                pulse.tick();
                let next = now + due_after(Pulse::PERIOD);
                timers.push(Reverse((next, PULSE)));
                pulse.expect(tally.start + Duration::from_nanos(next));
                continue;
            }
            let result = match args.workload {
                Workload::Sleep => Ok(task::sleep_value(id)),
                _ => match sockets[id as usize].take() {
                    Some(_) => Err(TaskError::timed_out("the request", args.timeout())),
                    None => continue, // finished before its deadline
                },
            };
            tally.record(id, result, Instant::now(), runner);
            left -= 1;
        }
        if left == 0 {
            break;
        }
        // 3. Sleep in epoll_wait until a socket is ready or the next timer is due.
        let timeout = match (ready.is_empty(), timers.peek()) {
            (false, _) => Some(Duration::ZERO),
            (true, Some(Reverse((due, _)))) => Some(Duration::from_nanos(due.saturating_sub(now))),
            (true, None) => None,
        };
        poll.poll(&mut events, timeout)?;
        for event in events.iter() {
            if event.token() == WAKER {
                for (id, value, finished, runner) in done_rx.try_iter() {
                    tally.record(id, Ok(value), finished, runner);
                    left -= 1;
                }
                continue;
            }
            let id = event.token().0 as u32;
            let Some(conn) = sockets[id as usize].as_mut() else {
                continue;
            };
            if let Some(result) = conn.advance() {
                sockets[id as usize] = None; // closes the socket
                tally.record(id, result, Instant::now(), runner);
                left -= 1;
            }
        }
    }
    if args.workload == Workload::Cpu {
        tally.loop_lag(pulse.lag());
    }
    Ok(tally.finish())
}

/// Hand every cpu task to a pool of one thread per core — the ThreadPoolExecutor analog
/// the `threads` model runs `--workers` on; each result comes back over `done` and wakes
/// the loop through the waker.
fn offload(
    args: &Args,
    done: crossbeam_channel::Sender<(u32, u64, Instant, Runner)>,
    waker: &Arc<Waker>,
) -> io::Result<ThreadPool> {
    let pool = ThreadPool::new(std::thread::available_parallelism()?.get())?;
    for id in 0..args.tasks {
        let (done, waker, work) = (done.clone(), waker.clone(), args.work);
        // The result travels over `done`, which the loop watches: the handle is not needed.
        drop(pool.submit(move || {
            let value = task::sha256_chain(id, work);
            let _ = done.send((id, value, Instant::now(), Runner::here()));
            let _ = waker.wake();
        }));
    }
    Ok(pool)
}

/// One http task's socket and where it is in the exchange.
struct Connection {
    stream: TcpStream,
    addr: std::net::SocketAddr,
    request: Vec<u8>,
    state: State,
}

enum State {
    Connecting,
    Writing { sent: usize },
    Reading { parser: ResponseParser },
}

impl Connection {
    /// Start a non-blocking connect; epoll reports the socket writable when it completes.
    fn open(poll: &Poll, args: &Args, id: u32) -> Result<Connection, TaskError> {
        let addr = args.addr;
        let mut stream = TcpStream::connect(addr).map_err(|e| io_error(addr, "connect to", &e))?;
        poll.registry()
            .register(&mut stream, Token(id as usize), Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| TaskError::starting("epoll_ctl", &e))?;
        let request = http::request(addr, id, args.ms);
        Ok(Connection { stream, addr, request, state: State::Connecting })
    }

    /// Go as far as the socket allows without blocking: `None` while the task still waits,
    /// or its result. Readiness is edge-triggered, so each step runs until it would block
    /// (a non-blocking socket call returns WouldBlock, never EINTR).
    fn advance(&mut self) -> Option<Result<u64, TaskError>> {
        let addr = self.addr;
        loop {
            match &mut self.state {
                State::Connecting => match (self.stream.take_error(), self.stream.peer_addr()) {
                    (Ok(Some(e)) | Err(e), _) => {
                        return Some(Err(io_error(addr, "connect to", &e)))
                    }
                    (Ok(None), Ok(_)) => self.state = State::Writing { sent: 0 },
                    (Ok(None), Err(e)) if e.kind() == io::ErrorKind::NotConnected => return None,
                    (Ok(None), Err(e)) => return Some(Err(io_error(addr, "connect to", &e))),
                },
                State::Writing { sent } => match self.stream.write(&self.request[*sent..]) {
                    Ok(n) => {
                        *sent += n;
                        if *sent == self.request.len() {
                            self.state = State::Reading { parser: ResponseParser::new() };
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                    Err(e) => return Some(Err(io_error(addr, "write to", &e))),
                },
                State::Reading { parser } => {
                    let mut buf = [0u8; 512];
                    match self.stream.read(&mut buf) {
                        Ok(0) => return Some(parser.eof().map_err(TaskError::from)),
                        Ok(n) => match parser.feed(&buf[..n]) {
                            Ok(Progress::NeedMore) => {}
                            Ok(Progress::Done(value)) => return Some(Ok(value)),
                            Err(e) => return Some(Err(e.into())),
                        },
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                        Err(e) => return Some(Err(io_error(addr, "read from", &e))),
                    }
                }
            }
        }
    }
}
