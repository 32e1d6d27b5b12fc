//! # web — a synthetic web to crawl (`CONTRACT.md`, "The web")
//!
//! P pages over H hosts on loopback, each host an origin of its own (its own port), with the
//! links a real site has, pages of realistic sizes, a latency per host, and with `--faults`
//! the hosts and answers a crawler must survive. Everything is drawn from the flags, so the
//! same flags serve the same web, and its answer sheet — what a full crawl must find — is
//! computed from the graph itself, independently of any crawler.
//!
//! # Layout
//!
//! - [`graph`]: the web as a graph — pages, hosts, links, sizes, latency — its pages' HTML,
//!   and the answer sheet.
//! - [`serve`] (below): every host and extra origin served on tokio, by hand: a request's
//!   head read with httparse, the latency waited, the answer written, and the faults.

pub mod graph;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use graph::{Extra, Graph, Ports, Resource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The served web: the graph, where it is served, and the URLs already answered once (a
/// fault strikes a URL's first request only).
struct Web {
    graph: Graph,
    ports: Ports,
    answered: Mutex<HashSet<String>>,
}

/// Bind every host and extra origin: host h on `addr`'s port + h, then the extras, or each on
/// a free port when `addr`'s port is 0. The closed origin's port is bound, then let go.
pub fn bind(
    graph: &Graph,
    addr: SocketAddr,
) -> std::io::Result<(Vec<std::net::TcpListener>, Ports)> {
    let count = graph.shape.hosts as usize + Extra::ALL.len();
    let mut listeners = Vec::with_capacity(count);
    let mut ports = Vec::with_capacity(count);
    for i in 0..count {
        let port = if addr.port() == 0 { 0 } else { addr.port() + i as u16 };
        let listener = std::net::TcpListener::bind(SocketAddr::new(addr.ip(), port))?;
        ports.push(listener.local_addr()?.port());
        listeners.push(listener);
    }
    let extras = Extra::ALL
        .iter()
        .zip(&ports[graph.shape.hosts as usize..])
        .map(|(e, p)| (*e, *p))
        .collect();
    let ports = Ports { hosts: ports[..graph.shape.hosts as usize].to_vec(), extras };
    Ok((listeners, ports))
}

/// The ports `web --answer` reports for `addr`'s fixed port, binding nothing.
pub fn fixed_ports(graph: &Graph, addr: SocketAddr) -> Ports {
    let hosts = graph.shape.hosts as u16;
    let port = |i: u16| addr.port() + i;
    Ports {
        hosts: (0..hosts).map(port).collect(),
        extras: Extra::ALL.iter().enumerate().map(|(i, e)| (*e, port(hosts + i as u16))).collect(),
    }
}

/// Serve every listener (from [`bind`]) until `stop` completes.
pub async fn serve(
    graph: Graph,
    ports: Ports,
    listeners: Vec<std::net::TcpListener>,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let web = Arc::new(Web { graph, ports, answered: Mutex::new(HashSet::new()) });
    let hosts = web.graph.shape.hosts as usize;
    for (i, listener) in listeners.into_iter().enumerate() {
        let role = i.checked_sub(hosts).map(|e| Extra::ALL[e]);
        if role == Some(Extra::Closed) {
            continue; // dropped: its port refuses
        }
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let web = web.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(web.clone(), i as u32, role, stream));
            }
        });
    }
    stop.await;
    Ok(())
}

/// One connection to host `h` (or to an extra origin): answer its requests in turn.
async fn connection(web: Arc<Web>, h: u32, role: Option<Extra>, mut stream: TcpStream) {
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        let (target, close, used) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(&pending) {
                Ok(httparse::Status::Complete(used)) => {
                    let close = request.headers.iter().any(|h| {
                        h.name.eq_ignore_ascii_case("connection")
                            && h.value.eq_ignore_ascii_case(b"close")
                    });
                    break (request.path.unwrap_or("/").to_string(), close, used);
                }
                Ok(httparse::Status::Partial) if pending.len() < 16 * 1024 => {}
                _ => return, // not HTTP, or a head past any bound: hang up
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        };
        pending.drain(..used);
        match role {
            Some(Extra::Blackhole) => return std::future::pending().await,
            Some(Extra::Drip) => return drip(&mut stream).await,
            _ => {}
        }
        if !answer(&web, h, role, &target, close, &mut stream).await || close {
            return;
        }
    }
}

/// Answer a byte every 100 ms, without end.
async fn drip(stream: &mut TcpStream) {
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000000\r\n\r\n";
    if stream.write_all(head).await.is_err() {
        return;
    }
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stream.write_all(b".").await.is_err() {
            return;
        }
    }
}

/// Answer `target` on host `h`; `false` when the connection is to be dropped.
async fn answer(
    web: &Web,
    h: u32,
    role: Option<Extra>,
    target: &str,
    close: bool,
    stream: &mut TcpStream,
) -> bool {
    let g = &web.graph;
    let (path, _query) = target.split_once('?').unwrap_or((target, ""));
    let url = format!("http://127.0.0.1:{}{target}", stream.local_addr().map_or(0, |a| a.port()));
    let first = web.answered.lock().unwrap_or_else(|e| e.into_inner()).insert(url);
    if role.is_none() {
        tokio::time::sleep(g.delay(h)).await;
    }
    let (status, content_type, location, body) = match role {
        Some(Extra::Trap) => match path.strip_prefix("/trap/").and_then(|n| n.parse().ok()) {
            Some(n) => (200, "text/html; charset=utf-8", None, graph::trap_html(g, n).into_bytes()),
            None => (404, "text/plain", None, b"not here\n".to_vec()),
        },
        Some(_) => (404, "text/plain", None, b"not here\n".to_vec()),
        None => {
            match g.resource(h, path) {
                Resource::Page(j) => {
                    let key =
                        workload::disk::splitmix64(g.shape.graph ^ u64::from(j) ^ 0x6661_756c);
                    if g.shape.faults && first && key % 10 == 3 {
                        let head = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 5\r\n\r\nbusy\n";
                        return stream.write_all(head.as_bytes()).await.is_ok();
                    }
                    let html = graph::page_html(g, &web.ports, j).into_bytes();
                    if g.shape.faults && first && key % 10 == 7 {
                        // Half the body, then a reset (SO_LINGER 0): the crawler retries.
                        let head = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n", html.len());
                        let _ = stream.write_all(head.as_bytes()).await;
                        let _ = stream.write_all(&html[..html.len() / 2]).await;
                        // Linger 0: the close sends a reset at once, and blocks nothing.
                        let _ = socket2::SockRef::from(&*stream).set_linger(Some(Duration::ZERO));
                        return false;
                    }
                    (200, "text/html; charset=utf-8", None, html)
                }
                Resource::Image => (200, "image/png", None, PNG.to_vec()),
                Resource::Redirect(t) => {
                    let to = match g.host_of(t) == h {
                        true => g.path_of(t).to_string(),
                        false => format!("{}{}", web.ports.origin(g.host_of(t)), g.path_of(t)),
                    };
                    (301, "text/plain", Some(to), Vec::new())
                }
                Resource::Missing => (404, "text/plain", None, b"not here\n".to_vec()),
            }
        }
    };
    let reason = match status {
        200 => "OK",
        301 => "Moved Permanently",
        _ => "Not Found",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(to) = location {
        head.push_str(&format!("Location: {to}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    stream.write_all(&out).await.is_ok()
}

/// A 1×1 PNG: an image, served as `image/png`, which a crawler fetches and does not parse.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x01, 0x54, 0xa2, 0x4f, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];
