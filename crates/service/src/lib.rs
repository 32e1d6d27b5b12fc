//! # service — the local HTTP/1.1 service the http workload queries
//!
//! The `service` binary runs it; the tests start it in-process on a free port. It is a
//! fixture, not a model: the models are its clients.
//!
//! `GET /query?id=I&delay_ms=D` answers after D ms with `{"id":I,"value":I+100}`;
//! `GET /health` answers `ok` at once; anything else gets 400 or 404. Built on hyper, a real
//! HTTP/1.1 implementation, so the models' hand-written clients are checked against one.
//!
//! It must hold tens of thousands of connections that arrive all at once: it asks for the
//! largest listen backlog (the kernel caps it at net.core.somaxconn), because an overflowing
//! accept queue turns into 1 s SYN retransmits on the client side and would be blamed on the
//! model under test.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A listening socket with the largest backlog the kernel allows. Call inside a tokio runtime.
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let bind = || -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(65_535)?;
        socket.set_nonblocking(true)?;
        TcpListener::from_std(socket.into())
    };
    bind().map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Answer connections until `shutdown` completes; one tokio task per connection.
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut last_complaint: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(async move {
                        let conn = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), hyper::service::service_fn(answer));
                        // A client that hangs up early is its own business, not the service's.
                        let _ = conn.await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors: say so (once a second, not once per try), and
                    // give closing connections a moment instead of spinning on accept.
                    if last_complaint.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                        eprintln!("service: accept: {e} — limit to raise: RLIMIT_NOFILE (`ulimit -n`)");
                        last_complaint = Some(tokio::time::Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
}

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        Ok(r)
    };
    if req.method() != hyper::Method::GET {
        return reply(StatusCode::BAD_REQUEST, "only GET\n".into());
    }
    match req.uri().path() {
        "/health" => reply(StatusCode::OK, "ok".into()),
        "/query" => match query(req.uri().query().unwrap_or("")) {
            Some((id, delay_ms)) => {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                let value = id + 100;
                reply(StatusCode::OK, format!("{{\"id\":{id},\"value\":{value}}}"))
            }
            None => reply(StatusCode::BAD_REQUEST, "expected /query?id=I&delay_ms=D\n".into()),
        },
        _ => reply(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

/// `id=I&delay_ms=D`, both required, as numbers.
fn query(q: &str) -> Option<(u64, u64)> {
    let (mut id, mut delay) = (None, None);
    for pair in q.split('&') {
        match pair.split_once('=')? {
            ("id", v) => id = v.parse().ok(),
            ("delay_ms", v) => delay = v.parse().ok(),
            _ => {}
        }
    }
    Some((id?, delay?))
}

#[cfg(test)]
mod tests {
    use super::query;

    #[test]
    fn query_needs_both_numbers() {
        assert_eq!(query("id=7&delay_ms=100"), Some((7, 100)));
        assert_eq!(query("delay_ms=0&id=3&x=y"), Some((3, 0)));
        assert_eq!(query("id=7"), None);
        assert_eq!(query("id=x&delay_ms=1"), None);
        assert_eq!(query(""), None);
    }
}
