//! The crawl on monoio: on one core. The frontier is one thing — which URLs are known, which
//! are due, which origin has a connection free — and a crawl spread over cores would have to
//! share it, which is what thread-per-core does not do. So one runtime runs the dispatcher
//! (`tokio_task::crawl`) and a task per request, each socket's writes and reads io_uring
//! entries with owned buffers, each page parsed in its task, on that one thread: `uring`'s
//! crawl, on monoio.
//!
//! Under `strace -f -c`: `io_uring_enter`, a `socket` per connection, and no `epoll_wait`.

use std::net::SocketAddr;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use tokio_task::crawl::NoAnswer;
use workload::crawl::{Fetched, MAX_BODY};
use workload::http::{Response, ResponseParser};
use workload::{Args, Tally};

use crate::cores::MonoioTimer;

pub async fn run(args: &'static Args, tally: &mut Tally) {
    tokio_task::crawl::run::<MonoioTimer, _>(args, tally, |fetch, origin, reused, back| {
        monoio::spawn(async move {
            let connect = |addr| async move {
                let stream = TcpStream::connect_addr(addr).await?;
                stream.set_nodelay(true)?;
                Ok((stream, addr))
            };
            let done = tokio_task::crawl::fetch::<MonoioTimer, _, _, _>(
                fetch,
                origin,
                reused,
                args.timeout(),
                connect,
                exchange,
            )
            .await;
            let _ = back.send(done);
        });
    })
    .await;
}

/// Write `request` on the connection and read its whole response, the ring holding each
/// buffer while its operation is in flight.
async fn exchange(
    (mut stream, addr): (TcpStream, SocketAddr),
    request: Vec<u8>,
) -> Result<(Response, (TcpStream, SocketAddr)), NoAnswer> {
    let (written, _) = stream.write_all(request).await;
    if let Err(e) = written {
        return Err((Fetched::from_io(addr, "write to", &e), true));
    }
    let mut parser = ResponseParser::any_status(MAX_BODY);
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut got_any = false;
    loop {
        // The read fills the Vec's spare capacity, so it goes in empty each time.
        let (read, returned) = stream.read(buf).await;
        let n = match read {
            Ok(n) => n,
            Err(e) => return Err((Fetched::from_io(addr, "read from", &e), !got_any)),
        };
        if n == 0 {
            return match parser.eof_response() {
                Ok(response) => Ok((response, (stream, addr))),
                Err(e) => Err((Fetched::from_http(e), !got_any)),
            };
        }
        got_any = true;
        match parser.feed_response(&returned[..n]) {
            Ok(Some(response)) => return Ok((response, (stream, addr))),
            Ok(None) => {}
            Err(e) => return Err((Fetched::from_http(e), false)),
        }
        buf = returned;
        buf.clear();
    }
}
