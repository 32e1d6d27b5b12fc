//! `service`: the local HTTP/1.1 service the http workload queries.
//!
//! `GET /query?id=I&delay_ms=D` answers after D ms with `{"id":I,"value":I+100}`;
//! `GET /health` answers `ok` at once; anything else gets 400 or 404. Built on hyper, a real
//! HTTP/1.1 implementation, so the models' hand-written clients are checked against one.
//!
//! It must hold tens of thousands of connections that arrive all at once: it raises
//! RLIMIT_NOFILE to the hard limit and asks for the largest listen backlog (the kernel caps
//! it at net.core.somaxconn), because an overflowing accept queue turns into 1 s SYN
//! retransmits on the client side and would be blamed on the model under test.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

/// Serve the http workload's queries on loopback.
#[derive(Parser)]
struct Cli {
    /// Where to listen; port 0 picks a free one (the `listening on` line tells which)
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the tokio runtime: {e}")),
    };
    match runtime.block_on(serve(cli.addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("Error: {message}");
    ExitCode::from(1)
}

async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    if let Err(e) = workload::measure::raise_nofile_limit() {
        eprintln!("warning: cannot raise RLIMIT_NOFILE: {e}");
    }
    let listener = listen(addr).map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    println!("listening on {}", listener.local_addr()?);
    let (mut sigint, mut sigterm) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
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
                    // Out of file descriptors: say so, and give closing connections a moment
                    // instead of spinning on accept.
                    eprintln!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        }
    }
    eprintln!("service: stopping");
    Ok(())
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(65_535)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
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
