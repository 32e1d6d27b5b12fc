//! The crawl on the completion loop: every connection a chain of io_uring operations —
//! SOCKET, CONNECT, then a SEND and RECVs for each request it carries, and a CLOSE — kept
//! alive between requests to its origin. On the multishot rung (`crawl_path.rs`, the
//! default) one RECV, posted with the connection's first SEND, reads every page it carries
//! and stays posted while it idles; one-shot, a RECV is posted for each read, and nothing is in
//! flight while the connection idles. The
//! frontier is the loop's own (`workload::crawl`), as in `epoll`: a page's links are queued
//! in the turn its last bytes complete, and the next requests submitted in the same batch.
//! A request's `--timeout-ms` is a timer in the loop's heap that cancels the operation in
//! flight (ASYNC_CANCEL); a retry's wait, another timer.
//!
//! The pages are parsed on the loop's thread; `--offload` hands the parsing to a pool of one
//! thread per core, whose results wake the loop through a posted eventfd READ (`wake.rs`).
//!
//! A RECV names the loop's pool of provided buffers (`buffers.rs`, 16 KiB each) rather than
//! a buffer of the connection's own: the kernel takes one only when bytes come, and the loop
//! gives it back once the parser has them, so a connection waiting for its answer or idle
//! between requests holds no buffer (with its own, W = 10,000 held 160 MiB).
//!
//! While an operation is in flight the kernel holds pointers into its connection — the
//! request — and to its origin's address; each lives on the heap (the addresses leaked once
//! an origin, for the run). A connection has at most two operations in flight, a step of
//! its chain (SOCKET, CONNECT or SEND) and a RECV; it leaves its slot only once neither is.
//! Retired — past its deadline, failed, told to close, or at the crawl's end — it cancels
//! what it has in flight, and closes when the last of it completes.
//!
//! Under `strace -f -c`: `io_uring_enter` and nothing else — no `socket`, `connect`,
//! `sendto` or `recvfrom`.

use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

use io_uring::{opcode, squeue, types};
use slab::Slab;
use socket2::SockAddr;
use workload::crawl::{self, Failure, Fetch, Fetched, Parsing};
use workload::http::{Response, ResponseParser};
use workload::timers::Due;
use workload::{Runner, TaskError};

use super::crawl_path::CrawlPath;
use super::http::{connect, socket};
use crate::buffers::{self, ProvidedBuffers};
use crate::event_loop::{Cx, Part};
use crate::queues::{Completion, Op, Tag};
use crate::socket::Socket;
use crate::wake::Wake;

/// Bytes in a buffer of the crawl's pool: a page is tens of kilobytes, read as the
/// connection's own 16 KiB buffer read it before, in as many RECVs.
const PAGE_SIZE: usize = 16 * 1024;

/// The timer key of the next retry's wake-up; every other key is a connection's slot.
const RETRY: u32 = u32::MAX;

pub struct Crawl {
    crawl: crawl::Crawl,
    conns: Slab<Connection>,
    /// The idle connections of each origin, by slot.
    idle: HashMap<usize, Vec<usize>>,
    /// Each origin's address, as the kernel reads it: leaked once, for the run.
    addrs: HashMap<usize, &'static SockAddr>,
    /// With `--offload`: the pool the pages are parsed on, and the eventfd it wakes us by.
    parsing: Option<(Parsing, Wake)>,
    /// The retry timer, and whether the crawl's end has been told.
    upkeep: crawl::Upkeep,
    runner: Runner,
    /// The buffers every RECV takes from when bytes come: a connection holds none while it
    /// waits for its answer, or idles kept alive between requests.
    buffers: ProvidedBuffers,
    /// How its RECVs read.
    reads: Reads,
}

/// How the crawl's RECVs read: one-shot or multishot, into the pool's buffers of `size`
/// bytes.
#[derive(Clone, Copy)]
struct Reads {
    path: CrawlPath,
    size: usize,
}

struct Connection {
    origin: usize,
    addr: std::net::SocketAddr,
    fd: Option<RawFd>,
    /// The step of its chain in flight: its SOCKET, CONNECT or SEND.
    step: Option<Op>,
    /// A RECV is in flight: a one-shot one until it completes, a multishot one until a
    /// completion says it will not complete again.
    receiving: bool,
    /// Its request, and when that must be answered.
    fetch: Option<(Fetch, Instant)>,
    request: Vec<u8>,
    sent: usize,
    parser: ResponseParser,
    got_any: bool,
    /// It carried a request before: a close before any answer means the server had closed
    /// it while idle, and the request goes on a new connection.
    reused: bool,
    /// Retired: it carries no more requests, and closes once nothing of it is in flight.
    retired: bool,
}

/// What a completion of a connection led to.
enum Next {
    Submit((Op, squeue::Entry)),
    /// Nothing to submit: the multishot RECV in flight reads what comes next.
    Wait,
    Answered(Response),
    /// No whole response, and whether not one byte of an answer came.
    Failed(Fetched, bool),
    /// It cannot carry a request: an idle connection's server closed it, or sent bytes
    /// that answer nothing.
    Retire,
}

impl Crawl {
    pub fn start(cx: &mut Cx) -> io::Result<Crawl> {
        let args = cx.tasks.args;
        let crawl = crawl::Crawl::on_loop(cx.tasks);
        let parsing = match args.offload {
            true => {
                let mut wake = Wake::new()?;
                let pool =
                    Parsing::start(std::thread::available_parallelism()?.get(), wake.notifier())?;
                // SAFETY: the READ points into `wake`, which the part keeps to the loop's end.
                unsafe { cx.submit(Wake::TAG, wake.read())? };
                Some((pool, wake))
            }
            false => None,
        };
        let buffers = cx.provided_buffers(PAGE_SIZE)?;
        let mut part = Crawl {
            crawl,
            conns: Slab::new(),
            idle: HashMap::new(),
            addrs: HashMap::new(),
            parsing,
            upkeep: crawl::Upkeep::default(),
            runner: Runner::here(),
            reads: Reads { path: crate::ladder::chosen(), size: buffers.size() },
            buffers,
        };
        part.pump(cx)?;
        Ok(part)
    }

    /// Start every request the crawl lets start now; set the retry timer; end the run when
    /// the crawl is over.
    fn pump(&mut self, cx: &mut Cx) -> io::Result<()> {
        while let Some(fetch) = self.crawl.next(Instant::now()) {
            self.start_fetch(fetch, cx)?;
        }
        let ended = self.upkeep.after_starting(&mut self.crawl, cx.tasks, Due::Task(RETRY));
        if ended && self.parsing.is_some() {
            // SAFETY: an ASYNC_CANCEL points to nothing.
            unsafe { cx.submit(Tag::new(Op::Cancel, 0u32), Wake::TAG.cancel())? };
        }
        if ended {
            // The idle connections' multishot RECVs would keep the loop waiting.
            let idle: Vec<usize> = self.idle.values().flatten().copied().collect();
            for slot in idle {
                self.retire(slot, cx)?;
            }
        }
        Ok(())
    }

    /// `fetch` on an idle connection of its origin (its SEND), or a new one (its SOCKET).
    fn start_fetch(&mut self, fetch: Fetch, cx: &mut Cx) -> io::Result<()> {
        let at = fetch.origin;
        let origin = self.crawl.origin(at);
        let Some(addr) = origin.addr else {
            let why = TaskError::new(format!("cannot resolve {}", origin.authority));
            return self.done(fetch, Fetched::Failed(Failure::Refused, why), cx);
        };
        let request = crawl::request(&fetch.url, origin);
        let deadline = Instant::now() + cx.tasks.args.timeout();
        let (slot, entry) = match self.idle.get_mut(&at).and_then(Vec::pop) {
            Some(slot) => {
                let conn = &mut self.conns[slot];
                conn.reused = true;
                (slot, conn.ready(request))
            }
            None => {
                let sockaddr = *self
                    .addrs
                    .entry(at)
                    .or_insert_with(|| Box::leak(Box::new(SockAddr::from(addr))));
                self.crawl.opened(at);
                let conn = Connection::new(at, addr, request);
                (self.conns.insert(conn), (Op::Socket, socket(sockaddr, false)))
            }
        };
        self.conns[slot].fetch = Some((fetch, deadline));
        cx.tasks.set_timer(cx.tasks.now() + cx.tasks.args.timeout(), Due::Task(slot as u32));
        self.submit(slot, entry, cx)
    }

    /// Submit connection `slot`'s next operation; with its first SEND on the multishot rung,
    /// the RECV that reads every answer the connection will carry.
    fn submit(
        &mut self,
        slot: usize,
        (op, entry): (Op, squeue::Entry),
        cx: &mut Cx,
    ) -> io::Result<()> {
        let conn = &mut self.conns[slot];
        match op {
            Op::Recv => conn.receiving = true,
            _ => conn.step = Some(op),
        }
        // SAFETY: the entry points into the connection's request, which stays put in the
        // slab until nothing of it is in flight, or to its origin's leaked address.
        unsafe { cx.submit(Tag::new(op, slot), entry)? };
        if op == Op::Send && self.reads.path == CrawlPath::MultishotRecv {
            self.listen(slot, cx)?;
        }
        Ok(())
    }

    /// On the multishot rung, post connection `slot`'s RECV, unless it is in flight.
    fn listen(&mut self, slot: usize, cx: &mut Cx) -> io::Result<()> {
        let conn = &mut self.conns[slot];
        if self.reads.path != CrawlPath::MultishotRecv || conn.receiving {
            return Ok(());
        }
        let entry = conn.receive(self.reads);
        self.submit(slot, entry, cx)
    }

    /// Connection `slot` carries no more requests: cancel what it has in flight, or close it
    /// now if nothing is. It stops counting against its origin's `--per-host` here, not when
    /// its socket closes a turn later: a request that takes its place may start in this turn.
    fn retire(&mut self, slot: usize, cx: &mut Cx) -> io::Result<()> {
        let conn = &mut self.conns[slot];
        conn.retired = true;
        self.crawl.closed(conn.origin);
        if let Some(idle) = self.idle.get_mut(&conn.origin) {
            idle.retain(|&s| s != slot);
        }
        let in_flight: Vec<Op> = conn.in_flight().collect();
        for &op in &in_flight {
            // SAFETY: an ASYNC_CANCEL points to nothing.
            unsafe { cx.submit(Tag::new(Op::Cancel, slot), Tag::new(op, slot).cancel())? };
        }
        match in_flight.is_empty() {
            true => self.close(slot, cx),
            false => Ok(()),
        }
    }

    /// Close connection `slot`, nothing of it in flight: it leaves its slot, and its
    /// socket's CLOSE is submitted.
    fn close(&mut self, slot: usize, cx: &mut Cx) -> io::Result<()> {
        let conn = self.conns.remove(slot);
        match conn.fd {
            // SAFETY: a CLOSE points to nothing.
            Some(fd) => unsafe { cx.submit(Tag::new(Op::Close, slot), Socket::Fd(fd).close()) },
            None => Ok(()),
        }
    }

    /// `fetch` is over: parse it here, or on the pool; hand it to the crawl.
    fn done(&mut self, fetch: Fetch, fetched: Fetched, cx: &mut Cx) -> io::Result<()> {
        if let (Some((pool, _)), Fetched::Answer(_)) = (&self.parsing, &fetched) {
            pool.parse(fetch, fetched);
            return Ok(());
        }
        self.crawl.finish(fetch, fetched, Instant::now()).record(cx.tasks.tally(), self.runner);
        self.pump(cx)
    }

    /// The pool parsed pages: hand them to the crawl, and read the eventfd again.
    fn parsed(&mut self, cx: &mut Cx) -> io::Result<()> {
        let Some((pool, wake)) = &mut self.parsing else { return Ok(()) };
        let parsed: Vec<_> = pool.results().collect();
        if !self.upkeep.is_over() {
            // SAFETY: as in `start`.
            unsafe { cx.submit(Wake::TAG, wake.read())? };
        }
        for (fetch, fetched) in parsed {
            self.crawl.finish(fetch, fetched, Instant::now()).record(cx.tasks.tally(), self.runner);
        }
        self.pump(cx)
    }
}

impl Part for Crawl {
    fn on_complete(&mut self, done: Completion, cx: &mut Cx) -> io::Result<()> {
        let Completion { tag, res, more, buffer } = done;
        if tag.op == Op::Wake {
            return self.parsed(cx);
        }
        let slot = tag.slot as usize;
        let conn = &mut self.conns[slot];
        match tag.op {
            Op::Recv => conn.receiving = more,
            _ => conn.step = None,
        }
        // The page's bytes, in a buffer of the pool: read below, and given back at once.
        let bytes = match buffer {
            Some(id) => self.buffers.bytes(id, res.max(0) as usize),
            None => &[],
        };
        if conn.retired && tag.op == Op::Socket && res >= 0 {
            conn.fd = Some(res); // made after it was retired: the close below closes it
        }
        let next = match conn.retired {
            true => None,
            // The pool was empty when bytes came: grow it and ask again. (The kernel ends a
            // multishot RECV on ENOBUFS; one that said it goes on needs no second.)
            false if tag.op == Op::Recv && res == -libc::ENOBUFS && !more => {
                self.buffers.grow();
                Some(Next::Submit(conn.receive(self.reads)))
            }
            false => {
                Some(conn.on_complete(tag.op, res, bytes, self.addrs[&conn.origin], self.reads))
            }
        };
        if let Some(id) = buffer {
            self.buffers.give_back(id);
        }
        let conn = &mut self.conns[slot];
        let Some(next) = next else {
            // Retired: closed once the last of it completes.
            return match conn.in_flight().next().is_none() {
                true => self.close(slot, cx),
                false => Ok(()),
            };
        };
        match next {
            Next::Submit(step) => self.submit(slot, step, cx),
            Next::Wait => Ok(()),
            Next::Retire => self.retire(slot, cx),
            Next::Answered(response) => {
                let (fetch, _) = conn.fetch.take().expect("a request in flight");
                // An answer before its request was all sent leaves the connection unsure.
                if response.close || conn.step.is_some() {
                    self.retire(slot, cx)?;
                } else {
                    conn.reused = true;
                    self.idle.entry(conn.origin).or_default().push(slot);
                    self.listen(slot, cx)?;
                }
                self.done(fetch, Fetched::Answer(response), cx)
            }
            Next::Failed(fetched, no_answer) => {
                let (fetch, _) = conn.fetch.take().expect("a request in flight");
                let reused = conn.reused;
                self.retire(slot, cx)?;
                if no_answer && reused {
                    // The server had closed it while it was idle: a new connection.
                    return self.start_fetch(fetch, cx);
                }
                self.done(fetch, fetched, cx)
            }
        }
    }

    fn on_timer(&mut self, due: Due, cx: &mut Cx) -> io::Result<()> {
        let Due::Task(key) = due else { return Ok(()) };
        if key == RETRY {
            self.upkeep.timer_fired();
            return self.pump(cx);
        }
        let slot = key as usize;
        let Some(conn) = self.conns.get_mut(slot) else { return Ok(()) };
        let late = conn.fetch.as_ref().is_some_and(|(_, by)| *by <= Instant::now());
        if !late || conn.retired {
            return Ok(());
        }
        let (fetch, _) = conn.fetch.take().expect("checked");
        self.retire(slot, cx)?;
        let why = TaskError::timed_out("the request", cx.tasks.args.timeout());
        self.done(fetch, Fetched::Failed(Failure::Timeout, why), cx)
    }
}

impl Connection {
    fn new(origin: usize, addr: std::net::SocketAddr, request: Vec<u8>) -> Connection {
        Connection {
            origin,
            addr,
            fd: None,
            step: None,
            receiving: false,
            fetch: None,
            request,
            sent: 0,
            parser: ResponseParser::any_status(crawl::MAX_BODY),
            got_any: false,
            reused: false,
            retired: false,
        }
    }

    /// Ready to carry `request`: its SEND.
    fn ready(&mut self, request: Vec<u8>) -> (Op, squeue::Entry) {
        self.request = request;
        self.sent = 0;
        self.parser = ResponseParser::any_status(crawl::MAX_BODY);
        self.got_any = false;
        self.send()
    }

    fn send(&mut self) -> (Op, squeue::Entry) {
        let fd = types::Fd(self.fd.expect("connected"));
        let rest = &self.request[self.sent..];
        (Op::Send, opcode::Send::new(fd, rest.as_ptr(), rest.len() as u32).build())
    }

    /// What of it the kernel holds: the step of its chain, its RECV.
    fn in_flight(&self) -> impl Iterator<Item = Op> {
        self.step.into_iter().chain(self.receiving.then_some(Op::Recv))
    }

    /// A RECV into a buffer the kernel takes from the pool when bytes come: one read, or on
    /// the multishot rung every read until it fails or EOF.
    fn receive(&mut self, reads: Reads) -> (Op, squeue::Entry) {
        let fd = types::Fd(self.fd.expect("connected"));
        let recv = match reads.path {
            CrawlPath::OneShot => opcode::Recv::new(fd, std::ptr::null_mut(), reads.size as u32)
                .buf_group(buffers::GROUP)
                .build()
                .flags(squeue::Flags::BUFFER_SELECT),
            CrawlPath::MultishotRecv => opcode::RecvMulti::new(fd, buffers::GROUP).build(),
        };
        (Op::Recv, recv)
    }

    /// A RECV, unless one is in flight that will read what comes next.
    fn read_on(&mut self, reads: Reads) -> Next {
        match self.receiving {
            true => Next::Wait,
            false => Next::Submit(self.receive(reads)),
        }
    }

    /// Its operation `op` completed with `res`; `bytes`, what a RECV brought; `reads`, how
    /// the next RECV reads.
    fn on_complete(
        &mut self,
        op: Op,
        res: i32,
        bytes: &[u8],
        sockaddr: &SockAddr,
        reads: Reads,
    ) -> Next {
        let error = || io::Error::from_raw_os_error(-res);
        let failed = |stage: &str, no_answer: bool| {
            Next::Failed(Fetched::from_io(self.addr, stage, &error()), no_answer)
        };
        let next = Next::Submit;
        if op == Op::Recv && self.fetch.is_none() {
            // Idle, kept alive: its server closed it, or sent what no request asked for.
            return Next::Retire;
        }
        match op {
            Op::Socket if res < 0 => Next::Failed(
                Fetched::Failed(Failure::Refused, TaskError::starting("socket", &error())),
                false,
            ),
            Op::Socket => {
                self.fd = Some(res);
                Next::Submit((Op::Connect, connect(Socket::Fd(res), sockaddr)))
            }
            Op::Connect if res < 0 => failed("connect to", false),
            Op::Connect => next(self.send()),
            Op::Send if res < 0 => failed("write to", true),
            Op::Send => {
                self.sent += res as usize;
                match self.sent == self.request.len() {
                    true => self.read_on(reads),
                    false => next(self.send()),
                }
            }
            Op::Recv if res < 0 => failed("read from", !self.got_any),
            Op::Recv if res == 0 => match self.parser.eof_response() {
                Ok(response) => Next::Answered(response),
                Err(e) => Next::Failed(Fetched::from_http(e), !self.got_any),
            },
            Op::Recv => {
                self.got_any = true;
                match self.parser.feed_response(bytes) {
                    Ok(Some(response)) => Next::Answered(response),
                    Ok(None) => self.read_on(reads),
                    Err(e) => Next::Failed(Fetched::from_http(e), false),
                }
            }
            op => unreachable!("a {op:?} is not a step of a fetch"),
        }
    }
}
