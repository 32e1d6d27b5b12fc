//! The http task's protocol, sans I/O: bytes in, bytes out.
//!
//! [`request`] gives the bytes to send for task `id`; [`ResponseParser`] takes the bytes as
//! they arrive and says when the answer is complete. Each model supplies only the I/O —
//! a blocking socket, an epoll-driven state machine, an io_uring completion — so the models
//! differ in how they wait, never in what they send or how they read it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::task::TaskError;

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
    /// The connection closed before the response was complete.
    Truncated,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Status(code) => write!(f, "the service answered HTTP {code}"),
            HttpError::Malformed(why) => write!(f, "malformed response: {why}"),
            HttpError::Truncated => {
                f.write_str("truncated response: the connection closed before it was complete")
            }
        }
    }
}

impl From<HttpError> for TaskError {
    fn from(e: HttpError) -> TaskError {
        TaskError::new(e.to_string())
    }
}

/// An incremental HTTP/1.1 response reader for one request.
#[derive(Debug, Default)]
pub struct ResponseParser {
    buf: Vec<u8>,
    /// Where the body starts and how long it is, once the head has been parsed.
    body: Option<(usize, Option<usize>)>,
}

/// Generous caps, so a hostile or broken peer cannot make the client buffer without end.
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;

impl ResponseParser {
    pub fn new() -> ResponseParser {
        ResponseParser::default()
    }

    /// Take the next bytes read from the socket.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Progress, HttpError> {
        self.buf.extend_from_slice(bytes);
        if self.body.is_none() {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut head = httparse::Response::new(&mut headers);
            match head.parse(&self.buf) {
                Ok(httparse::Status::Partial) if self.buf.len() > MAX_HEAD => {
                    return Err(HttpError::Malformed("header section too long".into()))
                }
                Ok(httparse::Status::Partial) => return Ok(Progress::NeedMore),
                Ok(httparse::Status::Complete(head_len)) => {
                    let code = head.code.unwrap_or(0);
                    if code != 200 {
                        return Err(HttpError::Status(code));
                    }
                    self.body = Some((head_len, body_length(head.headers)?));
                }
                Err(e) => return Err(HttpError::Malformed(e.to_string())),
            }
        }
        let (start, length) = self.body.expect("head parsed above");
        let body = &self.buf[start..];
        match length {
            Some(n) if body.len() >= n => value_of(&body[..n]).map(Progress::Done),
            _ if body.len() > MAX_BODY => Err(HttpError::Malformed("body too long".into())),
            _ => Ok(Progress::NeedMore),
        }
    }

    /// The peer closed the connection: complete only if the body was delimited by the close.
    pub fn eof(&mut self) -> Result<u64, HttpError> {
        match self.body {
            Some((start, None)) => value_of(&self.buf[start..]),
            _ => Err(HttpError::Truncated),
        }
    }
}

fn body_length(headers: &[httparse::Header]) -> Result<Option<usize>, HttpError> {
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(HttpError::Malformed("chunked bodies are not expected here".into()));
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| HttpError::Malformed("bad Content-Length".into()))?;
            return Ok(Some(n));
        }
    }
    Ok(None)
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

/// Turn a socket error into a task error that tells the user what to do about it.
pub fn io_error(addr: SocketAddr, stage: &str, err: &io::Error) -> TaskError {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => TaskError::new(format!(
            "connection refused to {addr} (is the service running? `make service`)"
        )),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            TaskError::new(format!("{stage} {addr}: timed out (--timeout-ms)"))
        }
        _ => TaskError::starting(&format!("{stage} {addr}"), err),
    }
}

/// One request on a blocking socket: what `serial`, `procs` and `threads` do.
/// The whole exchange must finish within `timeout`.
pub fn blocking_get(
    addr: SocketAddr,
    id: u32,
    delay_ms: u64,
    timeout: Duration,
) -> Result<u64, TaskError> {
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| TaskError::timed_out("the request", timeout))
    };
    let mut stream =
        TcpStream::connect_timeout(&addr, left()?).map_err(|e| io_error(addr, "connect to", &e))?;
    stream.set_write_timeout(Some(left()?)).map_err(|e| io_error(addr, "write to", &e))?;
    stream.write_all(&request(addr, id, delay_ms)).map_err(|e| io_error(addr, "write to", &e))?;
    let mut parser = ResponseParser::new();
    let mut buf = [0u8; 4096];
    loop {
        stream.set_read_timeout(Some(left()?)).map_err(|e| io_error(addr, "read from", &e))?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(parser.eof()?),
            Ok(n) => {
                if let Progress::Done(value) = parser.feed(&buf[..n])? {
                    return Ok(value);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(addr, "read from", &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 23\r\n\r\n{\"id\":7,\"value\":107}   ";

    #[test]
    fn the_request_names_the_task_and_the_delay() {
        let r = String::from_utf8(request("127.0.0.1:9".parse().unwrap(), 7, 250)).unwrap();
        assert!(r.starts_with("GET /query?id=7&delay_ms=250 HTTP/1.1\r\n"), "{r}");
        assert!(r.ends_with("\r\n\r\n"));
    }

    #[test]
    fn a_response_fed_byte_by_byte_gives_its_value_at_the_last_byte() {
        let mut p = ResponseParser::new();
        for (i, b) in OK.iter().enumerate() {
            let got = p.feed(&[*b]).unwrap();
            if i + 1 < OK.len() {
                assert_eq!(got, Progress::NeedMore, "at byte {i}");
            } else {
                assert_eq!(got, Progress::Done(107));
            }
        }
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
        assert_eq!(p.eof(), Err(HttpError::Truncated));
        assert_eq!(ResponseParser::new().eof(), Err(HttpError::Truncated));
    }

    #[test]
    fn malformed_responses_are_errors() {
        let cases: [&[u8]; 5] = [
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"NOT-HTTP garbage\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        ];
        for case in cases {
            assert!(
                ResponseParser::new().feed(case).is_err(),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
        assert_eq!(
            ResponseParser::new().feed(b"HTTP/1.1 503 Busy\r\n\r\n"),
            Err(HttpError::Status(503))
        );
    }

    #[test]
    fn an_endless_head_is_cut_off() {
        let mut p = ResponseParser::new();
        p.feed(b"HTTP/1.1 200 OK\r\n").unwrap();
        let long = vec![b'x'; MAX_HEAD + 1];
        assert!(p.feed(&long).is_err());
    }
}
