//! The soak's mixed load, one thread per kind of client and server: the project's own load
//! generator. Checked clients verify every answer; the hostile ones try what a stranger
//! might, and count what the server did about it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::wire::{reset, Answer, Conn};

/// What one server's clients saw, counted as they go, and kept in soak.json as it ended.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    /// Checked requests (keep-alive, pipelined, `/cpu`) answered correctly.
    pub answered: AtomicU64,
    /// Answers that were not what the request asked for: the one figure that must stay 0.
    pub wrong: AtomicU64,
    /// Checked requests with no answer: a timeout, a refused or closed connection.
    pub unanswered: AtomicU64,
    /// Hostile requests (garbage, 10 KiB heads) refused with a 4xx or a close.
    pub refused: AtomicU64,
    /// Slowloris connections the server closed.
    pub slow_closed: AtomicU64,
    /// Connections reset mid-request.
    pub resets: AtomicU64,
    /// The most connections one flood held open at once.
    pub flood_peak: AtomicU64,
    /// A flood is open now (or closed less than a second ago).
    #[serde(skip)]
    pub flooding: AtomicBool,
    pub wrong_examples: Mutex<Vec<String>>,
    /// Checked keep-alive requests' round trips, in µs: soak.json keeps their p50 and p99.
    #[serde(skip)]
    pub latencies_us: Mutex<Vec<u32>>,
    /// Their p50 and p99 in ms, taken when the load ends.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl Tally {
    fn wrong(&self, what: String) {
        self.wrong.fetch_add(1, Relaxed);
        let mut examples = self.wrong_examples.lock().expect("not poisoned");
        if examples.len() < 5 {
            examples.push(what);
        }
    }
}

/// What a correct answer is. nginx answers every path with one fixed body.
#[derive(Clone, Copy)]
pub enum Expect {
    Model,
    Nginx,
}

const NGINX_BODY: &str = r#"{"id":1,"value":101}"#;
/// The `/cpu` work a soak request asks for: about 0.3 ms of one core.
const CPU_WORK: u32 = 1_000;

impl Expect {
    fn body(self, id: u32, cpu: bool) -> String {
        match self {
            Expect::Nginx => NGINX_BODY.into(),
            Expect::Model if cpu => {
                format!(r#"{{"id":{id},"value":{}}}"#, workload::task::sha256_chain(id, CPU_WORK))
            }
            Expect::Model => {
                format!(r#"{{"id":{id},"value":{}}}"#, workload::task::sleep_value(id))
            }
        }
    }
}

/// Everything a client thread needs.
pub struct Client<'a> {
    pub addr: SocketAddr,
    pub expect: Expect,
    pub tally: &'a Tally,
    pub stop: &'a AtomicBool,
    /// The server's descriptor limit: a flood opens more connections than this.
    pub nofile: u64,
    pub flood_every: Duration,
    /// After the first flood (in the warm-up), the next start here, when the window just
    /// after the warm-up has been sampled; none starts after `floods_until`, so that the
    /// soak's last window is quiet.
    pub floods_from: Instant,
    pub floods_until: Instant,
}

/// A small xorshift: ids and garbage bytes, reproducible per thread.
struct Rng(u64);
impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn request(id: u32, cpu: bool) -> String {
    let target =
        if cpu { format!("/cpu?id={id}&work={CPU_WORK}") } else { format!("/query?id={id}") };
    format!("GET {target} HTTP/1.1\r\nHost: soak\r\n\r\n")
}

impl Client<'_> {
    fn running(&self) -> bool {
        !self.stop.load(Relaxed)
    }

    /// Check one answer against what request `id` asked for.
    fn check(&self, id: u32, cpu: bool, answer: anyhow::Result<Answer>) -> bool {
        match answer {
            Ok(Answer::Response(200, body)) if body == self.expect.body(id, cpu).as_bytes() => {
                self.tally.answered.fetch_add(1, Relaxed);
                true
            }
            Ok(Answer::Response(503, _)) | Ok(Answer::Closed) | Err(_) => {
                self.tally.unanswered.fetch_add(1, Relaxed);
                false
            }
            Ok(Answer::Response(status, body)) => {
                let body = String::from_utf8_lossy(&body);
                self.tally.wrong(format!("id {id}: HTTP {status} {body:.80}"));
                false
            }
        }
    }

    /// Keep-alive requests one after another, 100 to a connection, each answer checked and
    /// timed; `pipelined` sends them 16 at a time and reads the answers back in order.
    pub fn checked(&self, seed: u64, pipelined: bool, cpu: bool) {
        let mut rng = Rng(seed | 1);
        while self.running() {
            let Ok(mut conn) = Conn::open(self.addr) else {
                self.tally.unanswered.fetch_add(1, Relaxed);
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            let batch = if pipelined { 16 } else { 1 };
            'conn: for _ in 0..100 / batch {
                let ids: Vec<u32> = (0..batch).map(|_| rng.next_u64() as u32).collect();
                let bytes: String = ids.iter().map(|&id| request(id, cpu)).collect();
                let started = Instant::now();
                if conn.send(bytes.as_bytes()).is_err() {
                    self.tally.unanswered.fetch_add(batch as u64, Relaxed);
                    break;
                }
                for &id in &ids {
                    if !self.check(id, cpu, conn.response()) || !self.running() {
                        break 'conn;
                    }
                }
                if !pipelined && !cpu {
                    let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
                    self.tally.latencies_us.lock().expect("not poisoned").push(us);
                }
            }
        }
    }

    /// Bytes that are not HTTP, 10 KiB heads and resets mid-request, in turn, a few hundred
    /// a second: each must be refused (a 4xx or a close), never answered 200.
    pub fn hostile(&self, seed: u64) {
        let mut rng = Rng(seed | 1);
        let big = format!(
            "GET /query?id=1 HTTP/1.1\r\nHost: soak\r\nX-Pad: {}\r\n\r\n",
            "a".repeat(10 * 1024)
        );
        for round in 0u64.. {
            if !self.running() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
            let Ok(mut conn) = Conn::open(self.addr) else { continue };
            match round % 3 {
                0 => {
                    let len = 16 + rng.next_u64() as usize % 512;
                    let garbage: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8 & 0x7f).collect();
                    self.refused_or_wrong(&mut conn, &garbage, "garbage");
                }
                1 => self.refused_or_wrong(&mut conn, big.as_bytes(), "a 10 KiB head"),
                _ => {
                    // Half a request, or a whole one whose answer is not waited for.
                    let whole = request(rng.next_u64() as u32, rng.next_u64().is_multiple_of(2));
                    let cut = if round % 2 == 0 { whole.len() / 2 } else { whole.len() };
                    let _ = conn.send(&whole.as_bytes()[..cut]);
                    reset(conn.stream);
                    self.tally.resets.fetch_add(1, Relaxed);
                }
            }
        }
    }

    fn refused_or_wrong(&self, conn: &mut Conn, bytes: &[u8], what: &str) {
        let _ = conn.send(bytes);
        let _ = conn.stream.shutdown(std::net::Shutdown::Write);
        match conn.response() {
            Ok(Answer::Response(status, body)) if (200..300).contains(&status) => {
                let body = String::from_utf8_lossy(&body);
                self.tally.wrong(format!("{what} answered HTTP {status} {body:.80}"))
            }
            _ => {
                self.tally.refused.fetch_add(1, Relaxed);
            }
        }
    }

    /// Slowloris: 16 connections that send one byte of an endless head every 200 ms. The
    /// server must close each at its `--timeout-ms`; a closed one is opened again.
    pub fn slowloris(&self) {
        let mut conns: Vec<TcpStream> = Vec::new();
        while self.running() {
            while conns.len() < 16 {
                let Ok(s) = TcpStream::connect(self.addr) else { break };
                let _ = s.set_nonblocking(true);
                let _ = (&s).write_all(b"GET /query?id=1 HTTP/1.1\r\nX-Slow: ");
                conns.push(s);
            }
            std::thread::sleep(Duration::from_millis(200));
            conns.retain(|s| {
                let mut buf = [0u8; 4096];
                let alive = match (&*s).read(&mut buf) {
                    Ok(0) => false,
                    Ok(_) => true, // an answer (408, 431) comes before the close
                    Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                } && (&*s).write(b"a").is_ok();
                if !alive {
                    self.tally.slow_closed.fetch_add(1, Relaxed);
                }
                alive
            });
        }
    }

    /// A flood every `flood_every`, `offset` into the period: connections opened until
    /// `nofile` + 256 or a failure, held 2 s, then closed. The server must refuse what it
    /// cannot hold and go on serving.
    pub fn flood(&self, offset: Duration) {
        let mut next = Instant::now() + offset;
        while self.running() {
            if Instant::now() < next {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            next = (next + self.flood_every).max(self.floods_from);
            if Instant::now() > self.floods_until {
                continue;
            }
            self.tally.flooding.store(true, Relaxed);
            let mut held = Vec::new();
            while (held.len() as u64) < self.nofile + 256 && self.running() {
                match TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) {
                    Ok(s) => held.push(s),
                    Err(_) => break,
                }
            }
            self.tally.flood_peak.fetch_max(held.len() as u64, Relaxed);
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until && self.running() {
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(held);
            std::thread::sleep(Duration::from_secs(1));
            self.tally.flooding.store(false, Relaxed);
        }
    }
}
