//! The crawl on the readiness loop: every connection a non-blocking socket and a small state
//! machine — connecting, writing the request, reading the response — advanced each time
//! epoll says the socket is ready; a connection whose response leaves it open goes idle, to
//! carry its origin's next URL. The frontier is the loop's own (`workload::crawl`): each
//! page's links are queued in the same turn its last byte arrives, and the next requests
//! start then. A request's `--timeout-ms` and a retry's wait are timers in the loop's heap.
//!
//! The pages are parsed on the loop's thread, so a page being parsed holds up every socket.
//! `--offload` hands the parsing to a pool of one thread per core, each page's links coming
//! back through the waker — the article's `run_in_executor`, where the crawl needs it.
//!
//! Under `strace -f -c`: per page a `sendto`, `recvfrom`s and an `epoll_wait` or so; a
//! `socket`, `connect` and `epoll_ctl` per connection; with `--offload`, `futex` and the
//! eventfd's `write` per page.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Token};
use slab::Slab;
use workload::crawl::{self, Fetch, Fetched, Parsing};
use workload::http::ResponseParser;
use workload::timers::Due;
use workload::{Runner, TaskError};

use crate::event_loop::{Cx, Part, WAKER};

/// The timer key of the next retry's wake-up; every other key is a connection's slot.
const RETRY: u32 = u32::MAX;

pub struct Crawl {
    crawl: crawl::Crawl,
    /// Every open connection, by slot: its token.
    conns: Slab<Connection>,
    /// The idle connections of each origin, by slot.
    idle: HashMap<usize, Vec<usize>>,
    /// With `--offload`: the pool the pages are parsed on.
    parsing: Option<Parsing>,
    /// The retry timer, and whether the crawl's end has been told.
    upkeep: crawl::Upkeep,
    runner: Runner,
}

/// One connection and, while it carries one, its request.
struct Connection {
    stream: TcpStream,
    addr: std::net::SocketAddr,
    origin: usize,
    state: State,
    /// Its request, and when that must be answered.
    fetch: Option<(Fetch, Instant)>,
    /// It carried a request before this one: a close before any answer means the server
    /// had closed it while idle, and the request goes on a new connection.
    reused: bool,
}

enum State {
    Connecting { request: Vec<u8> },
    Writing { request: Vec<u8>, sent: usize },
    Reading { parser: ResponseParser, got_any: bool },
    Idle,
}

impl Crawl {
    pub fn start(cx: &mut Cx) -> std::io::Result<Crawl> {
        let args = cx.tasks.args;
        let crawl = crawl::Crawl::on_loop(cx.tasks);
        let parsing = match args.offload {
            true => {
                let threads = std::thread::available_parallelism()?.get();
                let waker = cx.waker.clone();
                Some(Parsing::start(threads, move || drop(waker.wake()))?)
            }
            false => None,
        };
        let (conns, idle, upkeep) = (Slab::new(), HashMap::new(), crawl::Upkeep::default());
        let runner = Runner::here();
        let mut part = Crawl { crawl, conns, idle, parsing, upkeep, runner };
        part.pump(cx);
        Ok(part)
    }

    /// Start every request the crawl lets start now; set the retry timer; end the run when
    /// the crawl is over.
    fn pump(&mut self, cx: &mut Cx) {
        while let Some(fetch) = self.crawl.next(Instant::now()) {
            self.start_fetch(fetch, cx);
        }
        self.upkeep.after_starting(&mut self.crawl, cx.tasks, Due::Task(RETRY));
    }

    /// `fetch` on an idle connection of its origin, or a new one.
    fn start_fetch(&mut self, fetch: Fetch, cx: &mut Cx) {
        let at = fetch.origin;
        let request = crawl::request(&fetch.url, self.crawl.origin(at));
        let deadline = Instant::now() + cx.tasks.args.timeout();
        let slot = self.idle.get_mut(&at).and_then(Vec::pop);
        let slot = match slot {
            Some(slot) => {
                let conn = &mut self.conns[slot];
                conn.state = State::Writing { request, sent: 0 };
                conn.reused = true;
                slot
            }
            None => match self.connect(at, request, cx) {
                Ok(slot) => slot,
                Err(fetched) => return self.done(fetch, fetched, cx),
            },
        };
        self.conns[slot].fetch = Some((fetch, deadline));
        cx.tasks.set_timer(cx.tasks.now() + cx.tasks.args.timeout(), Due::Task(slot as u32));
        self.advance(slot, cx);
    }

    /// A new connection to origin `at`, registered under its slot's token.
    fn connect(&mut self, at: usize, request: Vec<u8>, cx: &mut Cx) -> Result<usize, Fetched> {
        let origin = self.crawl.origin(at);
        let Some(addr) = origin.addr else {
            let why = TaskError::new(format!("cannot resolve {}", origin.authority));
            return Err(Fetched::Failed(crawl::Failure::Refused, why));
        };
        let mut stream =
            TcpStream::connect(addr).map_err(|e| Fetched::from_io(addr, "connect to", &e))?;
        let slot = self.conns.vacant_key();
        cx.registry
            .register(&mut stream, Token(slot), Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| {
                Fetched::Failed(crawl::Failure::Refused, TaskError::starting("epoll_ctl", &e))
            })?;
        self.crawl.opened(at);
        let state = State::Connecting { request };
        let conn = Connection { stream, addr, origin: at, state, fetch: None, reused: false };
        Ok(self.conns.insert(conn))
    }

    /// Go as far as connection `slot` allows without blocking.
    fn advance(&mut self, slot: usize, cx: &mut Cx) {
        let conn = &mut self.conns[slot];
        match conn.step() {
            Step::Wait => {}
            Step::Answered(response) => {
                let (fetch, _) = conn.fetch.take().expect("a request in flight");
                if response.close {
                    self.close(slot, cx);
                } else {
                    conn.state = State::Idle;
                    conn.reused = true;
                    self.idle.entry(conn.origin).or_default().push(slot);
                }
                self.done(fetch, Fetched::Answer(response), cx);
            }
            Step::Failed(fetched, no_answer) => {
                let (fetch, _) = conn.fetch.take().expect("a request in flight");
                let reused = conn.reused;
                self.close(slot, cx);
                if no_answer && reused {
                    // The server had closed it while it was idle: a new connection.
                    return self.start_fetch(fetch, cx);
                }
                self.done(fetch, fetched, cx);
            }
        }
    }

    /// Close connection `slot` (dropping the stream closes the socket).
    fn close(&mut self, slot: usize, cx: &mut Cx) {
        let mut conn = self.conns.remove(slot);
        let _ = cx.registry.deregister(&mut conn.stream);
        if let Some(idle) = self.idle.get_mut(&conn.origin) {
            idle.retain(|&s| s != slot);
        }
        self.crawl.closed(conn.origin);
    }

    /// `fetch` is over: parse it here, or on the pool; hand it to the crawl.
    fn done(&mut self, fetch: Fetch, fetched: Fetched, cx: &mut Cx) {
        if let (Some(pool), Fetched::Answer(_)) = (&self.parsing, &fetched) {
            return pool.parse(fetch, fetched);
        }
        self.crawl.finish(fetch, fetched, Instant::now()).record(cx.tasks.tally(), self.runner);
        self.pump(cx);
    }
}

impl Part for Crawl {
    fn on_ready(&mut self, token: Token, cx: &mut Cx) {
        if token == WAKER {
            let parsed: Vec<_> = self.parsing.iter().flat_map(Parsing::results).collect();
            for (fetch, fetched) in parsed {
                let ended = self.crawl.finish(fetch, fetched, Instant::now());
                ended.record(cx.tasks.tally(), self.runner);
            }
            return self.pump(cx);
        }
        let Some(conn) = self.conns.get_mut(token.0) else { return };
        if conn.fetch.is_some() {
            return self.advance(token.0, cx);
        }
        // An idle connection is readable: the server closed it (or sent what nobody asked).
        self.close(token.0, cx);
        self.pump(cx);
    }

    fn on_timer(&mut self, due: Due, cx: &mut Cx) {
        match due {
            Due::Task(RETRY) => {
                self.upkeep.timer_fired();
                self.pump(cx);
            }
            Due::Task(slot) => {
                let slot = slot as usize;
                let late = self
                    .conns
                    .get(slot)
                    .and_then(|c| c.fetch.as_ref())
                    .is_some_and(|(_, by)| *by <= Instant::now());
                if late {
                    let (fetch, _) = self.conns[slot].fetch.take().expect("checked");
                    self.close(slot, cx);
                    let why = TaskError::timed_out("the request", cx.tasks.args.timeout());
                    self.done(fetch, Fetched::Failed(crawl::Failure::Timeout, why), cx);
                }
            }
            Due::Pulse => {}
        }
    }
}

/// What a step of a connection led to.
enum Step {
    Wait,
    Answered(workload::http::Response),
    /// No whole response, and whether not one byte of an answer came.
    Failed(Fetched, bool),
}

impl Connection {
    /// Go as far as the socket allows: edge-triggered, so each step runs until it would block.
    fn step(&mut self) -> Step {
        let addr = self.addr;
        loop {
            match &mut self.state {
                State::Connecting { request } => {
                    match (self.stream.take_error(), self.stream.peer_addr()) {
                        (Ok(Some(e)) | Err(e), _) => {
                            return Step::Failed(Fetched::from_io(addr, "connect to", &e), false)
                        }
                        (Ok(None), Ok(_)) => {
                            self.state =
                                State::Writing { request: std::mem::take(request), sent: 0 }
                        }
                        (Ok(None), Err(e)) if e.kind() == io::ErrorKind::NotConnected => {
                            return Step::Wait
                        }
                        (Ok(None), Err(e)) => {
                            return Step::Failed(Fetched::from_io(addr, "connect to", &e), false)
                        }
                    }
                }
                State::Writing { request, sent } => match self.stream.write(&request[*sent..]) {
                    Ok(n) => {
                        *sent += n;
                        if *sent == request.len() {
                            let parser = ResponseParser::any_status(crawl::MAX_BODY);
                            self.state = State::Reading { parser, got_any: false };
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                    Err(e) => return Step::Failed(Fetched::from_io(addr, "write to", &e), true),
                },
                State::Reading { parser, got_any } => {
                    let mut buf = [0u8; 16 * 1024];
                    match self.stream.read(&mut buf) {
                        Ok(0) => {
                            return match parser.eof_response() {
                                Ok(response) => Step::Answered(response),
                                Err(e) => Step::Failed(Fetched::from_http(e), !*got_any),
                            }
                        }
                        Ok(n) => {
                            *got_any = true;
                            match parser.feed_response(&buf[..n]) {
                                Ok(Some(response)) => return Step::Answered(response),
                                Ok(None) => {}
                                Err(e) => return Step::Failed(Fetched::from_http(e), false),
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                        Err(e) => {
                            return Step::Failed(Fetched::from_io(addr, "read from", &e), !*got_any)
                        }
                    }
                }
                State::Idle => return Step::Wait,
            }
        }
    }
}
