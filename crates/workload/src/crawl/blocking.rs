//! One fetch on a blocking socket: what `serial`, `threads` and `procs` run. The thread waits
//! in `connect`, `write` and `read` for the whole of it, bounded by `--timeout-ms`; a
//! connection the response leaves open goes back to its origin's idle list, to carry the
//! next request there.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::{request, Failure, Fetched, Origin, MAX_BODY};
use crate::error::TaskError;
use crate::http::ResponseParser;

/// Kept-alive connections, idle, by origin index.
#[derive(Default)]
pub struct Idle {
    by_origin: HashMap<usize, Vec<TcpStream>>,
}

/// What a fetch did to the connections: one opened, one closed (for `--per-host`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Churn {
    pub opened: u32,
    pub closed: u32,
}

impl Idle {
    /// Take an idle connection to `origin`, if there is one.
    pub fn take(&mut self, origin: usize) -> Option<TcpStream> {
        self.by_origin.get_mut(&origin)?.pop()
    }

    /// Keep `stream` for `origin`'s next request.
    pub fn keep(&mut self, origin: usize, stream: TcpStream) {
        self.by_origin.entry(origin).or_default().push(stream);
    }
}

/// Fetch `url` (normalized) from `origin` within `timeout`, on `reused` if given (an idle
/// connection of the origin) or a new one: what came of it, the connection if it stays open,
/// and the connections opened and closed. A reused connection the server had closed
/// meanwhile (no byte of an answer on it) is replaced by a new one, as every HTTP client
/// does; that is not a retry.
pub fn fetch(
    url: &str,
    origin: &Origin,
    reused: Option<TcpStream>,
    timeout: Duration,
) -> (Fetched, Option<TcpStream>, Churn) {
    let deadline = Instant::now() + timeout;
    let mut churn = Churn::default();
    let mut stream = reused;
    loop {
        let was_reused = stream.is_some();
        let Some(addr) = origin.addr else {
            let why = TaskError::new(format!("{url}: cannot resolve {}", origin.authority));
            return (Fetched::Failed(Failure::Refused, why), None, churn);
        };
        let s = match stream.take() {
            Some(s) => s,
            None => {
                let left = deadline.saturating_duration_since(Instant::now());
                match TcpStream::connect_timeout(&addr, left.max(Duration::from_millis(1))) {
                    Ok(s) => {
                        churn.opened += 1;
                        s
                    }
                    Err(e) => return (Fetched::from_io(addr, "connect to", &e), None, churn),
                }
            }
        };
        match exchange(&s, url, origin, deadline) {
            // The server had closed the idle connection: try once more, on a new one.
            Err((_, true)) if was_reused => {
                churn.closed += 1;
            }
            Err((fetched, _)) => {
                churn.closed += 1;
                return (fetched, None, churn);
            }
            Ok(response) => {
                let keep = !response.close;
                if !keep {
                    churn.closed += 1;
                }
                return (Fetched::Answer(response), keep.then_some(s), churn);
            }
        }
    }
}

/// Write the request on `s` and read its whole response by `deadline`; on failure, what it
/// means and whether not one byte of an answer had come.
fn exchange(
    mut s: &TcpStream,
    url: &str,
    origin: &Origin,
    deadline: Instant,
) -> Result<crate::http::Response, (Fetched, bool)> {
    let addr = origin.addr.expect("connected");
    let left = || {
        let left = deadline.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    };
    let timed_out = || {
        let e = io::Error::from(io::ErrorKind::TimedOut);
        (Fetched::from_io(addr, "read from", &e), false)
    };
    s.set_nodelay(true).ok();
    s.set_write_timeout(Some(left().ok_or_else(timed_out)?)).ok();
    if let Err(e) = s.write_all(&request(url, origin)) {
        return Err((Fetched::from_io(addr, "write to", &e), true));
    }
    let mut parser = ResponseParser::any_status(MAX_BODY);
    let mut buf = [0u8; 16 * 1024];
    let mut got_any = false;
    loop {
        s.set_read_timeout(Some(left().ok_or_else(timed_out)?)).ok();
        match s.read(&mut buf) {
            Ok(0) => {
                return parser.eof_response().map_err(|e| (Fetched::from_http(e), !got_any));
            }
            Ok(n) => {
                got_any = true;
                match parser.feed_response(&buf[..n]) {
                    Ok(Some(response)) => return Ok(response),
                    Ok(None) => {}
                    Err(e) => return Err((Fetched::from_http(e), false)),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(timed_out());
            }
            Err(e) => return Err((Fetched::from_io(addr, "read from", &e), !got_any)),
        }
    }
}
