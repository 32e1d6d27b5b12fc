//! How a model's sockets move bytes: the one place `tokio`, `uring` and `monoio` differ for
//! the http request, the crawl's exchange and the db's, which are written once over a
//! [`Wire`].
//!
//! The contract is the completion model's, since it is the stricter: a buffer is moved in,
//! owned by the runtime (and the kernel) while its operation is in flight, and moved back
//! with the result. A read is handed an empty `Vec` whose capacity is the room, and gives it
//! back holding what it read: tokio-uring and monoio read into a buffer from its start (and
//! would overwrite what a non-empty one held), tokio's `read_buf` after its end, which for an
//! empty `Vec` is the same.

use std::io;
use std::net::SocketAddr;

use workload::error::io_error;
use workload::http::{self, Progress, ResponseParser};
use workload::{Args, TaskError};

/// A connected socket of a runtime.
#[allow(async_fn_in_trait)] // each model awaits its own wire: no bound on Send is needed
pub trait Wire: Sized {
    /// The runtime's timer, which bounds an exchange by `--timeout-ms`.
    type Timer: crate::Timer;
    /// Connect to `addr`, with TCP_NODELAY: a request is written whole, then waited for.
    async fn connect(addr: SocketAddr) -> io::Result<Self>;
    /// Write all of `bytes`; they come back with the result, for the next write to reuse.
    async fn write_all(&mut self, bytes: Vec<u8>) -> (io::Result<()>, Vec<u8>);
    /// Read into `buf`, empty, up to its capacity; the count, and `buf` back holding it.
    async fn read(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>);
    /// The connection is done with: end what the runtime may still hold of it. Nothing,
    /// unless the runtime keeps a cancelled read's socket open until the read completes.
    fn shut_down(&self) {}
}

/// tokio's sockets: readiness underneath, so the buffer stays ours throughout.
impl Wire for tokio::net::TcpStream {
    type Timer = crate::TokioTimer;

    async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn write_all(&mut self, bytes: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        (tokio::io::AsyncWriteExt::write_all(self, &bytes).await, bytes)
    }

    async fn read(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let n = tokio::io::AsyncReadExt::read_buf(self, &mut buf).await;
        (n, buf)
    }
}

/// The http task on a wire: connect to the service, write the request, read the answer into
/// a 512-byte buffer, reused; unbounded (the caller's timer bounds it).
pub async fn http_get<W: Wire>(args: &'static Args, id: u32) -> Result<u64, TaskError> {
    let addr = args.addr;
    let mut wire = W::connect(addr).await.map_err(|e| io_error(addr, "connect to", &e))?;
    let request = http::request(addr, id, args.ms);
    wire.write_all(request).await.0.map_err(|e| io_error(addr, "write to", &e))?;
    let mut parser = ResponseParser::new();
    let mut buf = Vec::with_capacity(512);
    loop {
        let (read, returned) = wire.read(buf).await;
        let n = read.map_err(|e| io_error(addr, "read from", &e))?;
        if n == 0 {
            return Ok(parser.eof()?);
        }
        if let Progress::Done(value) = parser.feed(&returned)? {
            return Ok(value);
        }
        buf = returned;
        buf.clear();
    }
}
