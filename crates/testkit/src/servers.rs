//! Servers for the http tests: the project's own service, run in the test process, and
//! servers that misbehave on purpose, each in a few lines of blocking std code, so that
//! what they do wrong is plain to read.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// The project's HTTP service, running in this test process on a free port until dropped.
pub struct Service {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    /// Start it, after raising this process's soft RLIMIT_NOFILE to its hard limit, as the
    /// `service` binary does: it holds a descriptor per connection, and a user's default
    /// soft limit (often 1024) is far below the thousands of connections a test may open.
    pub fn start() -> Service {
        workload::measure::raise_nofile_limit().expect("getrlimit and setrlimit on RLIMIT_NOFILE");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = service::listen("127.0.0.1:0".parse().unwrap()).expect("listen");
                ready_tx.send(listener.local_addr().unwrap()).unwrap();
                service::serve(listener, async move {
                    let _ = stop_rx.await;
                })
                .await;
            });
        });
        let addr = ready_rx.recv().expect("the service starts");
        Service { addr, stop: Some(stop_tx), thread: Some(thread) }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.stop.take().map(|stop| stop.send(()));
        let _ = self.thread.take().map(|t| t.join());
    }
}

/// An address where nothing listens: connecting is refused at once.
pub fn refusing_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
    // The listener closes here; the port stays free for the test's short life.
}

/// A server that accepts every connection and never answers: only a timeout ends a request.
/// It listens, and holds every connection open, for the rest of the test process.
pub fn silent_server() -> SocketAddr {
    serve_each(|stream| {
        // Hold the connection open without a word until the client gives up.
        let mut request = Vec::new();
        let _ = (&stream).read_to_end(&mut request);
    })
}

/// A server that answers every request with a response cut short: the headers promise a
/// 100-byte body, 10 bytes arrive, then the connection closes.
pub fn truncating_server() -> SocketAddr {
    serve_each(|mut stream| {
        let _ = read_request(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\":0,\"v");
    })
}

/// A server that streams the right answer as Node's `http` or Go's `net/http` would when a
/// handler writes in pieces: `Transfer-Encoding: chunked`, three chunks (one with an
/// extension) and a trailer, sent in several writes with pauses between them, so that the
/// client reads a chunk, and a chunk-size line, split across reads.
pub fn chunked_server() -> SocketAddr {
    serve_each(|mut stream| {
        let Some(id) = read_request(&mut stream) else {
            return;
        };
        let body = format!("{{\"id\":{id},\"value\":{}}}", id + 100);
        let (a, b) = body.split_at(5);
        let (b, c) = b.split_at(b.len() - 3);
        let pieces = [
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                .to_string(),
            format!("{:x}\r\n{a}", a.len()),
            format!("\r\n{:X};note=split", b.len()),
            format!("\r\n{b}\r\n{:x}\r", c.len()),
            format!("\n{c}\r\n0\r\nX-Trailer: ignored\r\n"),
            "\r\n".to_string(),
        ];
        stream.set_nodelay(true).unwrap();
        for piece in pieces {
            if stream.write_all(piece.as_bytes()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(15));
        }
    })
}

/// Listen on a free loopback port and run `answer` on a thread per connection, for the rest
/// of the test process.
fn serve_each(answer: fn(TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    addr
}

/// Read a request's head and return the `id` it asks for, if it names one.
fn read_request(stream: &mut TcpStream) -> Option<u64> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head).lines().next()?.to_string();
    let id = line.split_once("id=")?.1;
    id.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}
