//! The http task's protocol, sans I/O: bytes in, bytes out.
//!
//! [`request`] gives the bytes to send for task `id`; [`ResponseParser`] takes the bytes as
//! they arrive, split anywhere, and says when the answer is complete. Each model supplies only
//! the I/O — a blocking socket, an epoll-driven state machine, an io_uring completion — so the
//! models differ in how they wait, never in what they send or how they read it.
//!
//! The parser reads the three ways an HTTP/1.1 response can end its body (RFC 9112 §6.3):
//! `Transfer-Encoding: chunked` (what Node's `http` and Go's `net/http` send when a handler
//! writes in pieces), `Content-Length`, and the close of the connection.
//!
//! The crawl reads with the same parser, made by [`ResponseParser::any_status`]: every final
//! status is an answer, its body may be larger, and a whole [`Response`] comes back — status,
//! the head fields a crawler acts on, and the body — from [`ResponseParser::feed_response`].

use std::net::SocketAddr;

/// `GET /query?id=ID&delay_ms=MS` on a connection the service closes after answering.
pub fn request(addr: SocketAddr, id: u32, delay_ms: u64) -> Vec<u8> {
    format!(
        "GET /query?id={id}&delay_ms={delay_ms} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// What feeding bytes to a [`ResponseParser`] has led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// The response is not complete yet: read more.
    NeedMore,
    /// The `value` field of a complete `200` response.
    Done(u64),
}

/// Why a response was rejected.
#[derive(Debug, PartialEq, Eq)]
pub enum HttpError {
    Status(u16),
    Malformed(String),
    /// The body is at least this long, over the parser's bound.
    TooLarge(u64),
    /// The connection closed before the response was complete; says what was still missing.
    Truncated(&'static str),
}

/// A whole response, as the crawl reads it: its status, the head fields it acts on, its body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Response {
    pub status: u16,
    /// `Location`, as sent.
    pub location: Option<String>,
    /// `Retry-After` in whole seconds (the date form is not read).
    pub retry_after: Option<u64>,
    /// `Content-Type` is `text/html`, whatever its parameters.
    pub html: bool,
    /// The server closes the connection after it (`Connection: close`, or the body ended by
    /// the close): it cannot carry the next request.
    pub close: bool,
    pub body: Vec<u8>,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Status(code) => write!(f, "the service answered HTTP {code}"),
            HttpError::Malformed(why) => write!(f, "malformed response: {why}"),
            HttpError::TooLarge(size) => {
                write!(f, "malformed response: body of {size} bytes or more is over the bound")
            }
            HttpError::Truncated(before) => {
                write!(f, "truncated response: the connection closed before {before}")
            }
        }
    }
}

impl std::error::Error for HttpError {}

/// Generous caps, so a hostile or broken peer cannot make the client buffer without end.
pub const MAX_HEAD: usize = 16 * 1024;
pub const MAX_BODY: usize = 64 * 1024;

/// An incremental HTTP/1.1 response reader for one request.
#[derive(Debug)]
pub struct ResponseParser {
    /// The most body bytes taken: [`MAX_BODY`] for the http task.
    max_body: usize,
    /// Whether any final status is an answer (the crawl's), or only `200` (the http task's).
    any_status: bool,
    /// The final response's status and head fields, once its head is parsed.
    head: Option<Response>,
    /// Bytes read but not yet taken: the head until it parses, then what the framing has
    /// not consumed (a chunk-size line split across reads, say).
    pending: Vec<u8>,
    /// The body so far, with any chunk framing removed.
    body: Vec<u8>,
    /// How much of `pending` has been searched for the empty line that ends a head.
    scanned: usize,
    state: State,
}

/// Where the parser is in the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    /// `Content-Length`: this many body bytes still to come.
    Length(usize),
    /// No length: the body is whatever arrives before the close.
    UntilClose,
    /// Chunked: waiting for a `size[;ext]\r\n` line.
    ChunkSize,
    /// Chunked: this many bytes of the current chunk still to come.
    ChunkData(usize),
    /// Chunked: the `\r\n` that ends a chunk's data.
    ChunkEnd,
    /// Chunked: after the last (zero-size) chunk, trailer lines up to an empty line.
    Trailers,
    Complete,
}

impl Default for ResponseParser {
    fn default() -> Self {
        ResponseParser {
            max_body: MAX_BODY,
            any_status: false,
            head: None,
            pending: Vec::new(),
            body: Vec::new(),
            scanned: 0,
            state: State::Head,
        }
    }
}

impl ResponseParser {
    /// The http task's parser: a `200` whose body is the service's JSON, within [`MAX_BODY`].
    pub fn new() -> ResponseParser {
        ResponseParser::default()
    }

    /// The crawl's parser: any final status is an answer, with a body of at most `max_body`.
    pub fn any_status(max_body: usize) -> ResponseParser {
        ResponseParser { max_body, any_status: true, ..ResponseParser::default() }
    }

    /// Take the next bytes read from the socket: the whole response once it is complete.
    pub fn feed_response(&mut self, bytes: &[u8]) -> Result<Option<Response>, HttpError> {
        self.pending.extend_from_slice(bytes);
        while self.step()? {}
        Ok((self.state == State::Complete).then(|| self.response()))
    }

    /// The peer closed the connection: the whole response, if the close ended it.
    pub fn eof_response(&mut self) -> Result<Response, HttpError> {
        self.ended_by_close()?;
        let mut response = self.response();
        response.close = true;
        Ok(response)
    }

    /// The response whose head was parsed, with the body taken so far.
    fn response(&mut self) -> Response {
        let mut response = self.head.take().unwrap_or(Response {
            status: 0,
            location: None,
            retry_after: None,
            html: false,
            close: true,
            body: Vec::new(),
        });
        response.body = std::mem::take(&mut self.body);
        response
    }

    /// Take the next bytes read from the socket.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Progress, HttpError> {
        self.pending.extend_from_slice(bytes);
        while self.step()? {}
        match self.state {
            State::Complete => value_of(&self.body).map(Progress::Done),
            _ => Ok(Progress::NeedMore),
        }
    }

    /// Bytes held: the unparsed input and the body so far. Never more than [`MAX_HEAD`] +
    /// [`MAX_BODY`] plus the last read; the fuzz targets hold the parser to that.
    pub fn buffered(&self) -> usize {
        self.pending.len() + self.body.len()
    }

    /// The body read so far, without its chunk framing.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The peer closed the connection: complete only if the body was delimited by the close,
    /// or had already ended. A line that never ended may still hold a byte that is not
    /// HTTP: that is said first, so that the verdict does not depend on where the reads
    /// were cut.
    pub fn eof(&mut self) -> Result<u64, HttpError> {
        self.ended_by_close()?;
        value_of(&self.body)
    }

    /// Whether the close ended the response (else why not).
    fn ended_by_close(&mut self) -> Result<(), HttpError> {
        match self.state {
            State::UntilClose | State::Complete => Ok(()),
            State::Head => {
                self.parse_head()?;
                Err(HttpError::Truncated("the head was complete"))
            }
            State::Length(_) => Err(HttpError::Truncated("the Content-Length body was complete")),
            State::ChunkSize => {
                self.parse_chunk_size()?;
                Err(HttpError::Truncated("the last chunk"))
            }
            State::Trailers => {
                self.parse_trailers()?;
                Err(HttpError::Truncated("the last chunk"))
            }
            _ => Err(HttpError::Truncated("the last chunk")),
        }
    }

    /// One step of the state machine over `pending`: `true` if it moved and may move again.
    ///
    /// A head, a chunk-size line or a trailer section is complete only once the line that
    /// ends it has arrived, so each is parsed only then (or past the bound, or at the
    /// close): parsing it again on every read would cost O(n²) for one dripped a byte at a
    /// time (the `response` fuzz target found a 16 KiB head that took seconds).
    fn step(&mut self) -> Result<bool, HttpError> {
        match self.state {
            State::Head => {
                if !self.arrived(&[b"\n\n", b"\n\r\n"]) {
                    return Ok(false);
                }
                let Some((used, next)) = self.parse_head()? else { return Ok(false) };
                self.state = next;
                self.consume(used);
                Ok(true)
            }
            State::Length(left) => {
                let n = self.take_body(left)?;
                self.state = if n == left { State::Complete } else { State::Length(left - n) };
                Ok(false)
            }
            State::UntilClose => {
                self.take_body(usize::MAX)?;
                Ok(false)
            }
            // httparse reads an empty size (a bare CRLF, or spaces and an extension) as 0;
            // the grammar asks for 1*HEXDIG first.
            State::ChunkSize if self.pending.first().is_some_and(|b| !b.is_ascii_hexdigit()) => {
                Err(HttpError::Malformed("a chunk-size line must start with a hex digit".into()))
            }
            State::ChunkSize => {
                if !self.arrived(&[b"\n"]) {
                    return Ok(false);
                }
                let Some((used, size)) = self.parse_chunk_size()? else { return Ok(false) };
                self.consume(used);
                let size = usize::try_from(size)
                    .ok()
                    .filter(|s| self.body.len().saturating_add(*s) <= self.max_body)
                    .ok_or(HttpError::TooLarge(size))?;
                self.state = if size == 0 { State::Trailers } else { State::ChunkData(size) };
                Ok(true)
            }
            State::ChunkData(left) => {
                let n = self.take_body(left)?;
                self.state = if n == left { State::ChunkEnd } else { State::ChunkData(left - n) };
                Ok(n == left)
            }
            State::ChunkEnd => {
                let have = self.pending.len().min(2);
                if self.pending[..have] != b"\r\n"[..have] {
                    return Err(HttpError::Malformed(
                        "a chunk's data is not followed by CRLF".into(),
                    ));
                }
                if have == 2 {
                    self.consume(2);
                    self.state = State::ChunkSize;
                }
                Ok(have == 2)
            }
            // Trailer fields are read as header fields (and then ignored), up to the empty
            // line that ends the message: at once if there are none.
            State::Trailers => {
                let none = self.pending.starts_with(b"\n") || self.pending.starts_with(b"\r\n");
                if !self.arrived(&[b"\n\n", b"\n\r\n"]) && !none {
                    return Ok(false);
                }
                let Some(used) = self.parse_trailers()? else { return Ok(false) };
                self.consume(used);
                self.state = State::Complete;
                Ok(false)
            }
            State::Complete => Ok(false),
        }
    }

    /// Whether one of `ends` is in the bytes that arrived since the last look (or the two
    /// before them), or `pending` is past the bound; either way it is time to parse.
    fn arrived(&mut self, ends: &[&[u8]]) -> bool {
        let new = &self.pending[self.scanned.saturating_sub(2)..];
        let found = ends.iter().any(|end| new.windows(end.len()).any(|w| w == *end));
        self.scanned = self.pending.len();
        found || self.pending.len() > MAX_HEAD
    }

    /// Drop `n` bytes from the front of `pending`: what is left is looked at afresh.
    fn consume(&mut self, n: usize) {
        self.pending.drain(..n);
        self.scanned = 0;
    }

    /// A complete item's length within the bound; `None` if it needs more bytes; an error
    /// past the bound or for bytes that are not HTTP. The bound holds however the bytes
    /// arrived: an item over it is refused even when it came in one read and parses whole.
    fn bounded<T>(
        &self,
        parsed: Result<httparse::Status<T>, String>,
        used: impl Fn(&T) -> usize,
        what: &str,
    ) -> Result<Option<T>, HttpError> {
        match parsed {
            Ok(httparse::Status::Complete(item)) if used(&item) <= MAX_HEAD => Ok(Some(item)),
            Ok(_) if self.pending.len() > MAX_HEAD => {
                Err(HttpError::Malformed(format!("{what} over {MAX_HEAD} bytes")))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(HttpError::Malformed(format!("bad {what}: {e}"))),
        }
    }

    /// Parse the head in `pending`: its length and the state after it, if it is complete.
    fn parse_head(&mut self) -> Result<Option<(usize, State)>, HttpError> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut head = httparse::Response::new(&mut headers);
        // A field line continued on the next (obs-fold): RFC 9112 §5.2 has a user agent take
        // it, each fold read as spaces, where a server must refuse it.
        let mut config = httparse::ParserConfig::default();
        config.allow_obsolete_multiline_headers_in_responses(true);
        let parsed = config.parse_response(&mut head, &self.pending).map_err(|e| e.to_string());
        let Some(used) = self.bounded(parsed, |&used| used, "header section")? else {
            return Ok(None);
        };
        let code = head.code.unwrap_or(0);
        let next = match code {
            // An interim response (100 Continue, 103 Early Hints): the real one follows.
            100..=199 if code != 101 => State::Head,
            // No body, whatever the head says (RFC 9112 §6.3).
            204 | 304 if self.any_status => State::Complete,
            200 => framing(head.headers, self.max_body)?,
            _ if self.any_status => framing(head.headers, self.max_body)?,
            _ => return Err(HttpError::Status(code)),
        };
        if self.any_status && next != State::Head {
            self.head = Some(head_fields(code, head.headers, next));
        }
        Ok(Some((used, next)))
    }

    /// Parse a chunk-size line: its length and the size, if it is complete.
    fn parse_chunk_size(&self) -> Result<Option<(usize, u64)>, HttpError> {
        let parsed = httparse::parse_chunk_size(&self.pending).map_err(|_| {
            let start = &self.pending[..self.pending.len().min(40)];
            format!("{:?}", String::from_utf8_lossy(start))
        });
        self.bounded(parsed, |&(used, _)| used, "chunk-size line")
    }

    /// Parse the trailer section: its length, if it is complete.
    fn parse_trailers(&self) -> Result<Option<usize>, HttpError> {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let parsed = httparse::parse_headers(&self.pending, &mut fields)
            .map(|status| match status {
                httparse::Status::Complete((used, _)) => httparse::Status::Complete(used),
                httparse::Status::Partial => httparse::Status::Partial,
            })
            .map_err(|e| e.to_string());
        self.bounded(parsed, |&used| used, "trailer section")
    }

    /// Move up to `limit` pending bytes into the body, within its bound; how many moved.
    fn take_body(&mut self, limit: usize) -> Result<usize, HttpError> {
        let n = self.pending.len().min(limit);
        if self.body.len() + n > self.max_body {
            return Err(HttpError::TooLarge((self.body.len() + n) as u64));
        }
        self.body.extend(self.pending.drain(..n));
        self.scanned = 0;
        Ok(n)
    }
}

/// How the body ends (RFC 9112 §6.3): chunked if the response says so (it overrides any
/// Content-Length), else by a Content-Length all of whose values agree, else by the close.
fn framing(headers: &[httparse::Header], max_body: usize) -> Result<State, HttpError> {
    // Every comma-separated value of every header field named `name`, trimmed, lower case.
    let values = |name: &'static str| {
        headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .flat_map(|h| h.value.split(|&b| b == b','))
            .map(|v| String::from_utf8_lossy(v).trim().to_ascii_lowercase())
    };
    // The request offers no transfer coding (no `TE` header), so chunked is the only one a
    // server may apply (RFC 9112 §7.4); any other would leave bytes this parser cannot read.
    // Every Content-Length must be a number, and all must agree, even where chunked
    // overrides them: a response with a broken one is not to be trusted (RFC 9112 §6.3).
    let mut length = None;
    for value in values("content-length") {
        let n: u64 = value
            .parse()
            .map_err(|_| HttpError::Malformed(format!("bad Content-Length {value:?}")))?;
        if length.is_some_and(|l| l != n) {
            return Err(HttpError::Malformed("Content-Length values disagree".into()));
        }
        length = Some(n);
    }
    let codings: Vec<String> = values("transfer-encoding").collect();
    if !codings.is_empty() {
        return match codings.as_slice() {
            [only] if only == "chunked" => Ok(State::ChunkSize),
            _ => Err(HttpError::Malformed(format!(
                "transfer coding {:?} was not asked for",
                codings.join(", ")
            ))),
        };
    }
    match length {
        None => Ok(State::UntilClose),
        Some(0) => Ok(State::Complete),
        Some(n) if n > max_body as u64 => Err(HttpError::TooLarge(n)),
        Some(n) => Ok(State::Length(n as usize)),
    }
}

/// The head fields the crawl acts on, of a final response with status `code`.
fn head_fields(code: u16, headers: &[httparse::Header], framing: State) -> Response {
    let field = |name: &str| {
        let h = headers.iter().find(|h| h.name.eq_ignore_ascii_case(name))?;
        Some(String::from_utf8_lossy(h.value).trim().to_string())
    };
    let html = field("content-type").is_some_and(|t| {
        t.split(';').next().is_some_and(|media| media.trim().eq_ignore_ascii_case("text/html"))
    });
    let close = field("connection")
        .is_some_and(|c| c.split(',').any(|token| token.trim().eq_ignore_ascii_case("close")))
        || framing == State::UntilClose;
    Response {
        status: code,
        location: field("location"),
        retry_after: field("retry-after").and_then(|v| v.parse().ok()),
        html,
        close,
        body: Vec::new(),
    }
}

fn value_of(body: &[u8]) -> Result<u64, HttpError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        value: u64,
    }
    serde_json::from_slice::<Answer>(body)
        .map(|a| a.value)
        .map_err(|e| HttpError::Malformed(format!("body is not the expected JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 23\r\n\r\n{\"id\":7,\"value\":107}   ";

    /// The same answer as three chunks, with an extension, upper-case hex and a trailer.
    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        7\r\n{\"id\":7\r\n\
        A;name=\"x\"\r\n,\"value\":1\r\n\
        3\r\n07}\r\n\
        0\r\nX-Checksum: 1\r\n\r\n";

    /// Chunks of one byte each, no trailer, and both Content-Length and chunked (chunked wins).
    const TINY_CHUNKS: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\
        Transfer-Encoding: chunked\r\n\r\n\
        1\r\n{\r\n1\r\n\"\r\n1\r\nv\r\n1\r\na\r\n1\r\nl\r\n1\r\nu\r\n1\r\ne\r\n1\r\n\"\r\n\
        1\r\n:\r\n1\r\n9\r\n1\r\n}\r\n0\r\n\r\n";

    /// Feed `response` in two reads split at `at`, then in as many reads as it has bytes:
    /// only the last byte completes it, and the value is always `want`.
    fn every_split_gives(response: &[u8], want: u64) {
        for at in 0..=response.len() {
            let mut p = ResponseParser::new();
            let first = p.feed(&response[..at]).unwrap();
            let second = p.feed(&response[at..]).unwrap();
            if at < response.len() {
                assert_eq!(first, Progress::NeedMore, "split at {at}");
            }
            assert_eq!(
                if at == response.len() { first } else { second },
                Progress::Done(want),
                "split at {at}"
            );
        }
        let mut p = ResponseParser::new();
        for (i, b) in response.iter().enumerate() {
            let got = p.feed(&[*b]).unwrap();
            let want =
                if i + 1 < response.len() { Progress::NeedMore } else { Progress::Done(want) };
            assert_eq!(got, want, "byte {i}");
        }
    }

    #[test]
    fn the_request_names_the_task_and_the_delay() {
        let r = String::from_utf8(request("127.0.0.1:9".parse().unwrap(), 7, 250)).unwrap();
        assert!(r.starts_with("GET /query?id=7&delay_ms=250 HTTP/1.1\r\n"), "{r}");
        assert!(r.ends_with("\r\n\r\n"));
    }

    #[test]
    fn a_content_length_response_split_anywhere_gives_its_value_at_the_last_byte() {
        every_split_gives(OK, 107);
    }

    #[test]
    fn a_chunked_response_split_anywhere_gives_its_value_at_the_last_byte() {
        every_split_gives(CHUNKED, 107);
        every_split_gives(TINY_CHUNKS, 9);
    }

    #[test]
    fn an_interim_response_is_skipped() {
        let mut response = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
        response.extend_from_slice(OK);
        every_split_gives(&response, 107);
    }

    #[test]
    fn a_body_delimited_by_close_completes_at_eof() {
        let mut p = ResponseParser::new();
        assert_eq!(p.feed(b"HTTP/1.1 200 OK\r\n\r\n{\"value\":5}").unwrap(), Progress::NeedMore);
        assert_eq!(p.eof(), Ok(5));
    }

    #[test]
    fn a_truncated_response_is_an_error() {
        let mut p = ResponseParser::new();
        assert_eq!(p.feed(&OK[..30]).unwrap(), Progress::NeedMore);
        assert!(matches!(p.eof(), Err(HttpError::Truncated(_))));
        assert!(matches!(ResponseParser::new().eof(), Err(HttpError::Truncated(_))));
    }

    #[test]
    fn eof_before_the_last_chunk_is_an_error_at_every_split() {
        for at in 0..CHUNKED.len() {
            let mut p = ResponseParser::new();
            assert_eq!(p.feed(&CHUNKED[..at]).unwrap(), Progress::NeedMore, "at {at}");
            let err = p.eof().unwrap_err();
            assert!(matches!(err, HttpError::Truncated(_)), "at {at}: {err}");
        }
    }

    #[test]
    fn malformed_responses_are_errors() {
        let cases: [&[u8]; 10] = [
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"NOT-HTTP garbage\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n-1\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabXY",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
        ];
        for case in cases {
            let got = ResponseParser::new().feed(case);
            assert!(got.is_err(), "{:?} gave {got:?}", String::from_utf8_lossy(case));
        }
        assert_eq!(
            ResponseParser::new().feed(b"HTTP/1.1 503 Busy\r\n\r\n"),
            Err(HttpError::Status(503))
        );
    }

    /// What the fuzz targets found (`results/fuzz`): each was once taken, and h11 refused
    /// it, or it was taken whole and refused in pieces.
    #[test]
    fn what_the_fuzzers_found_is_refused() {
        let long_head = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        let long_extension = format!(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1;x={}\r\na\r\n0\r\n\r\n",
            "a".repeat(MAX_HEAD)
        );
        let cases: [&[u8]; 6] = [
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n{\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 9x\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n ;x\r\n\r\n",
            long_head.as_bytes(),
            long_extension.as_bytes(),
        ];
        for case in cases {
            let mut p = ResponseParser::new();
            let got = p.feed(case).and_then(|_| p.eof());
            assert!(got.is_err(), "{:?} gave {got:?}", String::from_utf8_lossy(case));
        }
    }

    /// A field line folded onto the next (obs-fold), which the fuzzer's differential against
    /// h11 found refused: a user agent reads it (RFC 9112 §5.2).
    #[test]
    fn a_folded_field_line_is_read() {
        let folded = b"HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\ncontent-length: 12\r\n\r\n{\"value\": 7}";
        let mut p = ResponseParser::new();
        assert_eq!(p.feed(folded), Ok(Progress::Done(7)));
    }

    #[test]
    fn a_body_over_the_bound_is_rejected_however_it_is_framed() {
        let stated = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", MAX_BODY + 1);
        let huge_chunk = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n";
        let overflow =
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n";
        for case in [stated.as_str(), huge_chunk, overflow] {
            let err = ResponseParser::new().feed(case.as_bytes()).unwrap_err();
            let over = matches!(err, HttpError::Malformed(_) | HttpError::TooLarge(_));
            assert!(over, "{case:?}: {err}");
        }
        let mut endless = ResponseParser::new();
        endless.feed(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        let err = endless.feed(&vec![b'x'; MAX_BODY + 1]).unwrap_err();
        assert!(err.to_string().contains("bound"), "{err}");
        let mut many = ResponseParser::new();
        many.feed(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").unwrap();
        let chunk = format!("{:x}\r\n{}\r\n", 1024, "x".repeat(1024));
        let err = (0..100).find_map(|_| many.feed(chunk.as_bytes()).err()).expect("bounded");
        assert!(err.to_string().contains("bound"), "{err}");
    }

    #[test]
    fn an_endless_head_is_cut_off() {
        let mut p = ResponseParser::new();
        p.feed(b"HTTP/1.1 200 OK\r\n").unwrap();
        let long = vec![b'x'; MAX_HEAD + 1];
        assert!(p.feed(&long).is_err());
    }

    #[test]
    fn the_crawl_reads_any_final_status_with_the_fields_it_acts_on() {
        let mut p = ResponseParser::any_status(1 << 20);
        let moved = b"HTTP/1.1 301 Moved\r\nLocation: /p/1.html\r\nContent-Length: 0\r\n\r\n";
        let r = p.feed_response(moved).unwrap().expect("whole");
        assert_eq!((r.status, r.location.as_deref(), r.close), (301, Some("/p/1.html"), false));
        let mut p = ResponseParser::any_status(1 << 20);
        let page = b"HTTP/1.1 200 OK\r\nContent-Type: Text/HTML; charset=utf-8\r\n\
            Connection: close\r\nContent-Length: 5\r\n\r\n<a>x";
        assert_eq!(p.feed_response(page).unwrap(), None);
        let r = p.feed_response(b"!").unwrap().expect("whole");
        assert!(r.html && r.close && r.body == b"<a>x!", "{r:?}");
        let mut p = ResponseParser::any_status(1 << 20);
        let busy = b"HTTP/1.1 503 Busy\r\nRetry-After: 1\r\nContent-Length: 2\r\n\r\nno";
        let r = p.feed_response(busy).unwrap().expect("whole");
        assert_eq!((r.status, r.retry_after, r.html), (503, Some(1), false));
        let mut p = ResponseParser::any_status(4);
        let big = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(p.feed_response(big), Err(HttpError::TooLarge(5)));
        let mut p = ResponseParser::any_status(1 << 20);
        let closed = b"HTTP/1.1 404 Not Found\r\n\r\nnot here";
        assert_eq!(p.feed_response(closed).unwrap(), None);
        let r = p.eof_response().unwrap();
        assert_eq!((r.status, r.close, r.body.as_slice()), (404, true, &b"not here"[..]));
    }
}
