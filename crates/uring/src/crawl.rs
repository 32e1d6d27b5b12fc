//! The crawl on tokio-uring: a task per request on the one thread, each socket's writes and
//! reads io_uring entries with owned buffers, the page parsed in its task — on the one
//! thread, so a page being parsed holds up every other request. A dispatcher task owns the
//! frontier (`tokio_task::crawl`), as in `tokio`.
//!
//! Under `strace -f -c`: `io_uring_enter` where `tokio` shows `sendto` and `recvfrom`, a
//! `socket` per connection, and `epoll_wait` for tokio's timers; no `clone`.

use tokio_task::crawl::NoAnswer;
use tokio_task::TokioTimer;
use tokio_uring::net::TcpStream;
use workload::crawl::{Fetched, MAX_BODY};
use workload::http::{Response, ResponseParser};
use workload::{Args, Tally};

pub async fn run(args: &'static Args, tally: &mut Tally) {
    tokio_task::crawl::run::<TokioTimer, _>(args, tally, |fetch, origin, reused, back| {
        tokio_uring::spawn(async move {
            let connect = |addr| async move {
                let stream = TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                Ok((stream, addr))
            };
            let done = tokio_task::crawl::fetch::<TokioTimer, _, _, _>(
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
    (stream, addr): (TcpStream, std::net::SocketAddr),
    request: Vec<u8>,
) -> Result<(Response, (TcpStream, std::net::SocketAddr)), NoAnswer> {
    let (written, _) = stream.write_all(request).await;
    if let Err(e) = written {
        return Err((Fetched::from_io(addr, "write to", &e), true));
    }
    let mut parser = ResponseParser::any_status(MAX_BODY);
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut got_any = false;
    loop {
        // The read fills the Vec's spare capacity, so it starts empty each time.
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
