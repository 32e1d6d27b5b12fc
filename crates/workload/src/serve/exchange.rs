//! One server connection's HTTP/1.1, sans I/O: bytes in, bytes out, and what to wait for.
//!
//! Every model serves with the same [`Exchange`]; a model only moves bytes and waits. It
//! asks [`Exchange::step`] what to do next — read (until a deadline), sleep (until the
//! `/query` delay ends), hash (the `/cpu` work), write, or close — does it its own way,
//! and reports back (`received`, `wrote`, `hashed`, `eof`, `reset`). So a request is
//! parsed, answered, framed and timed out identically in all eight, and they differ only in
//! how they wait (`CONTRACT.md`, "Serving").

use std::time::{Duration, Instant};

use crate::task;

/// A request line and headers longer than this get 431 and the connection is closed.
pub const MAX_HEAD: usize = 8 * 1024;
/// The longest `/query` delay a client may ask for: a server holds a connection that long.
pub const MAX_DELAY_MS: u64 = 60_000;
/// The most SHA-256 rounds a `/cpu` request may ask for (about 5 s of one core).
pub const MAX_WORK: u32 = 10_000_000;

/// What a well-formed request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /query?id=I&delay_ms=D`: `{"id":I,"value":I+100}` after D ms.
    Query { id: u32, delay_ms: u64 },
    /// `GET /cpu?id=I&work=K`: the cpu workload's value of task I.
    Cpu { id: u32, work: u32 },
    /// `GET /health`: answered at once.
    Health,
}

/// One request parsed from the front of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole request head yet.
    Partial,
    /// A request head of `len` bytes; the route, or the status to answer instead.
    Request { len: usize, route: Result<Route, (u16, String)>, keep_alive: bool, http10: bool },
    /// Not HTTP we can frame: answer this status and close.
    Bad(u16),
}

/// Parse the request at the front of `buf` (`httparse`), and check its route and framing.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    // Only the first MAX_HEAD bytes are read: what lies past the bound must not decide
    // between 400 and 431, or the answer would depend on how the bytes were split into reads.
    let len = match req.parse(&buf[..buf.len().min(MAX_HEAD)]) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(_) if buf.len() <= MAX_HEAD => return Parsed::Partial,
        Ok(_) | Err(httparse::Error::TooManyHeaders) => return Parsed::Bad(431),
        Err(_) => return Parsed::Bad(400),
    };
    let http10 = req.version == Some(0);
    let header = |name: &'static str| {
        req.headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value)
    };
    // Connection is a list of tokens; HTTP/1.1 keeps the connection unless told to close,
    // HTTP/1.0 closes it unless told to keep it.
    let has_token = |token: &str| {
        header("connection").any(|v| {
            v.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    let keep_alive = if http10 { has_token("keep-alive") } else { !has_token("close") };
    // No route takes a body, and one we did not read would be parsed as the next request.
    let has_body = header("transfer-encoding").next().is_some()
        || header("content-length").any(|v| v.trim_ascii() != b"0");
    // A request target is ASCII (RFC 9112 §3.2, RFC 3986); httparse takes bytes past it, as
    // nginx does, but a line that is not a request line is answered 400 (RFC 9112 §3).
    let target = req.path.unwrap_or("");
    if req.method != Some("GET") || has_body || !target.is_ascii() {
        return Parsed::Bad(400);
    }
    let route = route(target);
    Parsed::Request { len, route, keep_alive, http10 }
}

/// The route of a path, or why not: 404 (unknown path) or 400 (bad parameters), with the
/// words of the answer's `error`.
fn route(target: &str) -> Result<Route, (u16, String)> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|p| p.1)
    };
    let number = |name: &str, default: Option<u64>, max: u64| -> Result<u64, (u16, String)> {
        let bad = || (400, format!("{path} needs {name}, a whole number from 0 to {max}"));
        match param(name) {
            None => default.ok_or_else(bad),
            Some(v) => v.parse::<u64>().ok().filter(|&n| n <= max).ok_or_else(bad),
        }
    };
    match path {
        "/health" => Ok(Route::Health),
        "/query" => Ok(Route::Query {
            id: number("id", None, u32::MAX.into())? as u32,
            delay_ms: number("delay_ms", Some(0), MAX_DELAY_MS)?,
        }),
        "/cpu" => Ok(Route::Cpu {
            id: number("id", None, u32::MAX.into())? as u32,
            work: number("work", Some(100_000), MAX_WORK.into())? as u32,
        }),
        _ => Err((404, format!("no route {path}: /query, /cpu and /health are served"))),
    }
}

/// Append a whole response to `out`.
pub fn respond(out: &mut Vec<u8>, status: u16, body: &str, keep_alive: bool, http10: bool) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let connection = match (keep_alive, http10) {
        (false, _) => "Connection: close\r\n",
        (true, true) => "Connection: keep-alive\r\n",
        (true, false) => "",
    };
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n{connection}\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

/// What the model should do next for this connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Read more, but only until `deadline`; then call `step` again, which closes a client
    /// that has not sent a whole request by then (slowloris is bounded).
    Read { deadline: Instant },
    /// A `/query` answer is due at `until`: wait the model's way, then `step` again.
    Sleep { until: Instant },
    /// A `/cpu` request: compute `task::sha256_chain(id, work)` — here or on a pool — and
    /// hand the value to [`Exchange::hashed`].
    Hash { id: u32, work: u32 },
    /// The hash is out on a pool: nothing to do for this connection until it is back.
    Busy,
    /// Write [`Exchange::output`], and report with `wrote`; give up at `deadline`.
    Write { deadline: Instant },
    /// Close the connection (then hand [`Exchange::counts`] to the server's tally).
    Close,
}

/// What one connection did, added to the server's tally when it closes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests answered with 200.
    pub requests: u64,
    /// Requests answered 400, 404 or 431: answers, not failures of the server.
    pub rejected: u64,
    /// Requests cut short by the client, and clients closed for sending too slowly or taking
    /// their answer too slowly.
    pub errors: u64,
}

/// A request accepted and not yet answered.
#[derive(Clone, Copy, Debug)]
struct Pending {
    id: u32,
    keep_alive: bool,
    http10: bool,
    work: Work,
}

#[derive(Clone, Copy, Debug)]
enum Work {
    Delay { until: Instant },
    Hash { work: u32, handed_out: bool },
}

/// One connection's protocol state.
pub struct Exchange {
    input: Vec<u8>,
    /// How much of `input` has been looked at for the end of a line.
    scanned: usize,
    /// Parse at the next step whatever came: the first bytes of a request (garbage is
    /// answered at once), or what is left after a pipelined request.
    fresh: bool,
    output: Vec<u8>,
    written: usize,
    pending: Option<Pending>,
    /// Close once the output is written: the client asked, or it sent something unframeable.
    close_after_output: bool,
    /// The client sent EOF: answer what it sent, then close.
    peer_done: bool,
    /// The connection broke (a reset, a failed write): close at once.
    broken: bool,
    /// The next request must arrive, or the output be taken, by then.
    deadline: Instant,
    timeout: Duration,
    counts: Counts,
}

impl Exchange {
    /// A connection accepted at `now`; its first request must arrive within `timeout`.
    pub fn new(timeout: Duration, now: Instant) -> Exchange {
        Exchange {
            input: Vec::new(),
            scanned: 0,
            fresh: true,
            output: Vec::new(),
            written: 0,
            pending: None,
            close_after_output: false,
            peer_done: false,
            broken: false,
            deadline: now + timeout,
            timeout,
            counts: Counts::default(),
        }
    }

    /// Bytes that came from the client.
    pub fn received(&mut self, bytes: &[u8]) {
        self.fresh |= self.input.is_empty();
        self.input.extend_from_slice(bytes);
    }

    /// The client closed its side: what it sent is still answered.
    pub fn eof(&mut self) {
        self.peer_done = true;
    }

    /// The connection broke (a reset, a failed write, a write past its deadline).
    pub fn reset(&mut self) {
        if !self.broken {
            self.counts.errors += 1;
            self.broken = true;
        }
    }

    /// Bytes received and not yet parsed into a request. While the exchange asks to
    /// [`Step::Read`], never more than [`MAX_HEAD`]; the fuzz targets hold it to that.
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// What is left to write.
    pub fn output(&self) -> &[u8] {
        &self.output[self.written..]
    }

    /// `n` bytes of [`Exchange::output`] were written.
    pub fn wrote(&mut self, n: usize) {
        self.written += n;
        if self.written == self.output.len() {
            self.output.clear();
            self.written = 0;
        }
    }

    /// The value of the `/cpu` request handed out by [`Step::Hash`].
    pub fn hashed(&mut self, value: u64, now: Instant) {
        if let Some(p) = self.pending.take() {
            let body = format!(r#"{{"id":{},"value":{value}}}"#, p.id);
            self.answer(200, &body, p.keep_alive, p.http10, now);
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// What to do next, at `now`. With `stopping`, the request in hand is finished and
    /// answered, and then the connection closes instead of reading another.
    pub fn step(&mut self, now: Instant, stopping: bool) -> Step {
        loop {
            if self.broken {
                return Step::Close;
            }
            if !self.output().is_empty() {
                return Step::Write { deadline: self.deadline };
            }
            if self.close_after_output {
                return Step::Close;
            }
            match self.pending {
                Some(Pending { work: Work::Delay { until }, .. }) if now < until => {
                    return Step::Sleep { until }
                }
                Some(p @ Pending { work: Work::Delay { .. }, .. }) => {
                    let body = format!(r#"{{"id":{},"value":{}}}"#, p.id, task::sleep_value(p.id));
                    self.pending = None;
                    // Stopping: the answer says the connection will close.
                    self.answer(200, &body, p.keep_alive && !stopping, p.http10, now);
                    continue;
                }
                Some(Pending { work: Work::Hash { handed_out: true, .. }, .. }) => {
                    return Step::Busy
                }
                Some(ref mut p) => {
                    let Work::Hash { work, ref mut handed_out } = p.work else { unreachable!() };
                    *handed_out = true;
                    return Step::Hash { id: p.id, work };
                }
                None => {}
            }
            if stopping {
                return Step::Close;
            }
            // A request head can only become whole when a line ends, so between line ends
            // (past its first bytes) it is not parsed again: parsing it on every read would
            // cost O(n²) for a head dripped a byte at a time (the request fuzz target ran at
            // 1,600 inputs a second for it). A bad byte in a line is then answered when the
            // line ends, the head passes the bound, the client closes or the deadline comes.
            let line_ended = self.input[self.scanned.min(self.input.len())..].contains(&b'\n');
            self.scanned = self.input.len();
            let look = std::mem::take(&mut self.fresh)
                || line_ended
                || self.peer_done
                || now >= self.deadline
                || self.input.len() > MAX_HEAD;
            if !look {
                return Step::Read { deadline: self.deadline };
            }
            match parse(&self.input) {
                Parsed::Partial if self.peer_done || now >= self.deadline => {
                    // A request cut short, or one that did not come in time; a client that
                    // simply went quiet after its answers is no error.
                    if !self.input.is_empty() || self.counts == Counts::default() {
                        self.counts.errors += 1;
                    }
                    return Step::Close;
                }
                Parsed::Partial => return Step::Read { deadline: self.deadline },
                Parsed::Bad(status) => {
                    let body = if status == 431 { "header too large" } else { "bad request" };
                    self.answer(status, &format!(r#"{{"error":"{body}"}}"#), false, false, now);
                }
                Parsed::Request { len, route, keep_alive, http10 } => {
                    self.input.drain(..len);
                    (self.scanned, self.fresh) = (0, true);
                    let p = |id, work| Pending { id, keep_alive, http10, work };
                    match route {
                        Ok(Route::Health) => {
                            self.answer(200, r#"{"status":"ok"}"#, keep_alive, http10, now)
                        }
                        Ok(Route::Query { id, delay_ms }) => {
                            let until = now + Duration::from_millis(delay_ms);
                            self.pending = Some(p(id, Work::Delay { until }));
                        }
                        Ok(Route::Cpu { id, work }) => {
                            self.pending = Some(p(id, Work::Hash { work, handed_out: false }))
                        }
                        Err((status, why)) => {
                            let body = serde_json::json!({ "error": why }).to_string();
                            // A 404 is well framed: the connection stays; a bad parameter closes it.
                            self.answer(status, &body, keep_alive && status == 404, http10, now);
                        }
                    }
                }
            }
        }
    }

    /// Queue an answer; the taking of it, and the next request, must come within the
    /// timeout from now.
    fn answer(&mut self, status: u16, body: &str, keep_alive: bool, http10: bool, now: Instant) {
        respond(&mut self.output, status, body, keep_alive, http10);
        if status == 200 {
            self.counts.requests += 1;
        } else {
            self.counts.rejected += 1;
        }
        self.close_after_output |= !keep_alive;
        self.deadline = now + self.timeout;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(1);

    /// Feed `input`, run the steps a model would (no waiting: time is `now`), and collect
    /// what was written until the exchange asks to read, sleep or close.
    fn run(x: &mut Exchange, input: &[u8], now: Instant) -> (String, Step) {
        x.received(input);
        let mut out = Vec::new();
        loop {
            match x.step(now, false) {
                Step::Write { .. } => {
                    out.extend_from_slice(x.output());
                    let n = x.output().len();
                    x.wrote(n);
                }
                Step::Hash { id, work } => x.hashed(task::sha256_chain(id, work), now),
                other => return (String::from_utf8(out).unwrap(), other),
            }
        }
    }

    #[test]
    fn routes_are_parsed_with_their_parameters_and_limits() {
        assert_eq!(route("/health"), Ok(Route::Health));
        assert_eq!(route("/query?id=7&delay_ms=30"), Ok(Route::Query { id: 7, delay_ms: 30 }));
        assert_eq!(route("/query?delay_ms=30&id=7"), Ok(Route::Query { id: 7, delay_ms: 30 }));
        assert_eq!(route("/query?id=7"), Ok(Route::Query { id: 7, delay_ms: 0 }));
        assert_eq!(route("/cpu?id=3"), Ok(Route::Cpu { id: 3, work: 100_000 }));
        assert_eq!(route("/nope").map_err(|e| e.0), Err(404));
        for (bad, named) in [
            ("/query", "id"),
            ("/query?id=x", "id"),
            ("/query?id=-1", "id"),
            ("/query?id=1&delay_ms=60001", "delay_ms"),
            ("/cpu?work=10", "id"),
            ("/cpu?id=1&work=10000001", "work"),
            ("/query?id=4294967296", "id"),
        ] {
            let (status, why) = route(bad).unwrap_err();
            assert_eq!(status, 400, "{bad}");
            // The answer says which parameter is missing or wrong, and what it must be.
            assert!(why.contains(&format!("needs {named}, a whole number")), "{bad}: {why}");
        }
    }

    #[test]
    fn keep_alive_and_close_follow_the_version_and_connection_header() {
        let keep = |req: &str| match parse(req.as_bytes()) {
            Parsed::Request { keep_alive, .. } => keep_alive,
            other => panic!("{req:?}: {other:?}"),
        };
        assert!(keep("GET /health HTTP/1.1\r\n\r\n"));
        assert!(!keep("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n"));
        assert!(!keep("GET /health HTTP/1.1\r\nConnection: foo, Close\r\n\r\n"));
        assert!(!keep("GET /health HTTP/1.0\r\n\r\n"));
        assert!(keep("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    }

    /// A head is parsed when a line ends, not on every byte; garbage's first bytes are still
    /// answered at once, and a bad byte in a line that never ends is answered at the close.
    #[test]
    fn heads_are_parsed_at_line_ends_and_garbage_at_once() {
        let now = Instant::now();
        let mut x = Exchange::new(TIMEOUT, now);
        let (out, _) = run(&mut x, b"\x16\x03\x01\x02\x00", now);
        assert!(out.starts_with("HTTP/1.1 400"), "{out}");

        let mut x = Exchange::new(TIMEOUT, now);
        let head = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut answered = String::new();
        for b in head {
            answered += &run(&mut x, std::slice::from_ref(b), now).0;
        }
        assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");

        let mut x = Exchange::new(TIMEOUT, now);
        assert_eq!(run(&mut x, b"GET /health HTTP/1.1\r\nX: a", now).0, "");
        assert_eq!(run(&mut x, b"\x01b", now).0, "", "no line has ended");
        x.eof();
        assert!(run(&mut x, b"", now).0.starts_with("HTTP/1.1 400"));
    }

    /// Found by the `request` fuzz target (results/fuzz): a bad byte past the bound made the
    /// answer 400 when the head came in one read and 431 when it came in pieces.
    #[test]
    fn past_the_bound_the_answer_is_431_however_the_bytes_arrive() {
        let mut head = format!("GET /health HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD)).into_bytes();
        head.extend_from_slice(b"\x01\r\n\r\n");
        assert_eq!(parse(&head), Parsed::Bad(431));
        assert_eq!(parse(&head[..MAX_HEAD + 1]), Parsed::Bad(431));
    }

    #[test]
    fn bodies_methods_garbage_and_big_heads_are_refused() {
        assert_eq!(parse(b"POST /health HTTP/1.1\r\n\r\n"), Parsed::Bad(400));
        assert_eq!(
            parse(b"GET /health HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
            Parsed::Bad(400)
        );
        assert_eq!(
            parse(b"GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Parsed::Bad(400)
        );
        assert_eq!(parse(b"\x01\x02 / HTTP/1.1\r\n\r\n"), Parsed::Bad(400));
        // A target past ASCII, which the fuzzer's differential against h11 found answered 404.
        assert_eq!(parse("GET /\u{44f}eal HTTP/1.1\r\n\r\n".as_bytes()), Parsed::Bad(400));
        assert_eq!(parse(b"GET /health HTTP/1.1\r\nHost: x\r\n"), Parsed::Partial);
        let big = format!("GET /health HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD));
        assert_eq!(parse(big.as_bytes()), Parsed::Bad(431));
    }

    #[test]
    fn pipelined_requests_are_answered_in_order_after_their_delays() {
        let t0 = Instant::now();
        let mut x = Exchange::new(TIMEOUT, t0);
        let (out, step) = run(
            &mut x,
            b"GET /query?id=1&delay_ms=50 HTTP/1.1\r\n\r\nGET /query?id=2 HTTP/1.1\r\n\r\n",
            t0,
        );
        assert_eq!(
            (out.as_str(), step),
            ("", Step::Sleep { until: t0 + Duration::from_millis(50) })
        );
        let later = t0 + Duration::from_millis(50);
        let (out, step) = run(&mut x, b"", later);
        let first = out.find(r#"{"id":1,"value":101}"#).expect("the first answer");
        let second = out.find(r#"{"id":2,"value":102}"#).expect("the second answer");
        assert!(first < second, "{out}");
        assert_eq!(step, Step::Read { deadline: later + TIMEOUT });
        assert_eq!(x.counts(), Counts { requests: 2, rejected: 0, errors: 0 });
    }

    #[test]
    fn a_request_split_anywhere_is_answered_once_whole() {
        let request = b"GET /cpu?id=3&work=10 HTTP/1.1\r\nHost: x\r\n\r\n";
        let answer = format!(r#"{{"id":3,"value":{}}}"#, task::sha256_chain(3, 10));
        for split in 1..request.len() {
            let now = Instant::now();
            let mut x = Exchange::new(TIMEOUT, now);
            let (out, step) = run(&mut x, &request[..split], now);
            assert_eq!(
                (out.as_str(), step),
                ("", Step::Read { deadline: now + TIMEOUT }),
                "split {split}"
            );
            let (out, _) = run(&mut x, &request[split..], now);
            assert!(out.ends_with(&answer), "split {split}: {out}");
        }
    }

    #[test]
    fn errors_close_and_404_keeps_the_connection() {
        let now = Instant::now();
        let mut x = Exchange::new(TIMEOUT, now);
        let (out, step) = run(&mut x, b"GET /nope HTTP/1.1\r\n\r\n", now);
        assert!(out.starts_with("HTTP/1.1 404 Not Found\r\n") && !out.contains("close"), "{out}");
        assert!(matches!(step, Step::Read { .. }));
        let (out, step) = run(&mut x, b"GET /query?id=x HTTP/1.1\r\n\r\n", now);
        assert!(out.starts_with("HTTP/1.1 400") && out.contains("Connection: close"), "{out}");
        assert_eq!(step, Step::Close);
        // Two answers, 404 and 400: rejected requests, not errors of the server.
        assert_eq!(x.counts(), Counts { requests: 0, rejected: 2, errors: 0 });
    }

    #[test]
    fn a_slow_client_is_closed_at_its_deadline_and_a_quiet_one_is_no_error() {
        let t0 = Instant::now();
        let mut x = Exchange::new(TIMEOUT, t0);
        assert_eq!(run(&mut x, b"GET /hea", t0 + TIMEOUT).1, Step::Close);
        assert_eq!(x.counts().errors, 1);
        let mut x = Exchange::new(TIMEOUT, t0);
        run(&mut x, b"GET /health HTTP/1.1\r\n\r\n", t0);
        assert_eq!(run(&mut x, b"", t0 + TIMEOUT * 2).1, Step::Close);
        assert_eq!(x.counts(), Counts { requests: 1, rejected: 0, errors: 0 });
    }

    #[test]
    fn stopping_finishes_the_request_in_hand_then_closes() {
        let t0 = Instant::now();
        let mut x = Exchange::new(TIMEOUT, t0);
        x.received(b"GET /query?id=5&delay_ms=10 HTTP/1.1\r\n\r\nGET /health HTTP/1.1\r\n\r\n");
        assert!(matches!(x.step(t0, false), Step::Sleep { .. }));
        let later = t0 + Duration::from_millis(10);
        assert!(matches!(x.step(later, true), Step::Write { .. }));
        assert!(String::from_utf8_lossy(x.output()).ends_with(r#"{"id":5,"value":105}"#));
        let n = x.output().len();
        x.wrote(n);
        assert_eq!(x.step(later, true), Step::Close);
    }
}
