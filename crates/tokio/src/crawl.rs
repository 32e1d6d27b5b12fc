//! The crawl on tokio: a task per request on the runtime's workers, parsing its page where it
//! ran; one dispatcher task owns the frontier (`tokio_task::crawl`). `--workers` is the
//! requests in flight, and the runtime keeps a worker per core.
//!
//! Under `strace -f -c`: per page a `sendto` and `recvfrom`s on a non-blocking socket,
//! `epoll_wait` on the workers, and `futex` as they hand results to the dispatcher and wake
//! each other; a `connect` and an `epoll_ctl` per connection.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_task::crawl::NoAnswer;
use tokio_task::TokioTimer;
use workload::crawl::{Fetched, MAX_BODY};
use workload::http::{Response, ResponseParser};
use workload::{Args, Tally};

pub async fn run(args: &'static Args, tally: &mut Tally) {
    tokio_task::crawl::run::<TokioTimer, _>(args, tally, |fetch, origin, reused, back| {
        tokio::spawn(async move {
            let connect = |addr| TcpStream::connect(addr);
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

/// Write `request` on `stream` and read its whole response.
async fn exchange(
    mut stream: TcpStream,
    request: Vec<u8>,
) -> Result<(Response, TcpStream), NoAnswer> {
    let addr = stream.peer_addr().map_err(|e| no_answer(stream_addr(), "write to", &e, true))?;
    stream.set_nodelay(true).ok();
    if let Err(e) = stream.write_all(&request).await {
        return Err(no_answer(addr, "write to", &e, true));
    }
    let mut parser = ResponseParser::any_status(MAX_BODY);
    let mut buf = vec![0u8; 16 * 1024];
    let mut got_any = false;
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => {
                return match parser.eof_response() {
                    Ok(response) => Ok((response, stream)),
                    Err(e) => Err((Fetched::from_http(e), !got_any)),
                }
            }
            Ok(n) => {
                got_any = true;
                match parser.feed_response(&buf[..n]) {
                    Ok(Some(response)) => return Ok((response, stream)),
                    Ok(None) => {}
                    Err(e) => return Err((Fetched::from_http(e), false)),
                }
            }
            Err(e) => return Err(no_answer(addr, "read from", &e, !got_any)),
        }
    }
}

fn stream_addr() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([0, 0, 0, 0], 0))
}

fn no_answer(addr: std::net::SocketAddr, stage: &str, e: &std::io::Error, none: bool) -> NoAnswer {
    (Fetched::from_io(addr, stage, e), none)
}
