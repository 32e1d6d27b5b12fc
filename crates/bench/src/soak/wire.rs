//! One client connection of the soak: requests out, responses in, on a blocking socket with
//! a deadline. Responses are split with httparse and `Content-Length`, so that a pipelined
//! batch is read back one answer at a time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a soak client waits on any one read or write before it counts a timeout.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// What came back for one request.
pub enum Answer {
    /// Status and body.
    Response(u16, Vec<u8>),
    /// The server closed (or reset) the connection before a whole response.
    Closed,
}

pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, PATIENCE)?;
        stream.set_read_timeout(Some(PATIENCE))?;
        stream.set_write_timeout(Some(PATIENCE))?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, buf: Vec::new() })
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next response; `Err` for a timeout or an unparseable answer (what it was).
    pub fn response(&mut self) -> anyhow::Result<Answer> {
        loop {
            if let Some((used, status, length)) = head(&self.buf)? {
                if self.buf.len() >= used + length {
                    let body = self.buf[used..used + length].to_vec();
                    self.buf.drain(..used + length);
                    return Ok(Answer::Response(status, body));
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(Answer::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Ok(Answer::Closed)
                }
                Err(e) => {
                    return Err(anyhow::anyhow!("no answer in {} s: {e}", PATIENCE.as_secs()))
                }
            }
        }
    }
}

/// A complete head at the front of `buf`: its length, the status and the body's length.
fn head(buf: &[u8]) -> anyhow::Result<Option<(usize, u16, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(used)) => {
            let length = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                .ok_or_else(|| anyhow::anyhow!("a response without Content-Length"))?;
            Ok(Some((used, response.code.unwrap_or(0), length)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("not HTTP: {e}")),
    }
}

/// Reset the connection: SO_LINGER 0, then close, so that the server reads ECONNRESET.
pub fn reset(stream: TcpStream) {
    let socket = socket2::Socket::from(stream);
    let _ = socket.set_linger(Some(Duration::ZERO));
}
