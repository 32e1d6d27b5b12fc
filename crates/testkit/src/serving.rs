//! A model started with `--serve`, and the clients that test it: well-behaved, pipelining,
//! malformed, silent, resetting.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;

use nix::sys::signal::Signal;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::run::{lower_rlimit, nproc_limited, ReachableCopy, MARK};
use crate::Outcome;

/// A server process, listening; killed with its group on drop if a test did not stop it.
pub struct Server {
    server: child::Group,
    pub addr: SocketAddr,
    /// Its stderr, read to the end on a thread.
    stderr: Option<std::thread::JoinHandle<String>>,
    mark: String,
    started: Instant,
    _copy: Option<ReachableCopy>,
}

/// How to start a server: as it is, with few descriptors, or with few processes.
pub enum Limit {
    None,
    Nofile(u64),
    /// About this many more processes or threads (see [`crate::run_with_nproc_limit`]).
    Nproc(u64),
}

impl Server {
    /// `program leading… --serve 127.0.0.1:0 --timeout-ms T --json extra…`, once it has said
    /// `listening on ADDR`; `None` where the limit cannot be set up here (said on stderr).
    pub fn start(program: &str, leading: &[&str], extra: &[&str], limit: Limit) -> Option<Server> {
        Server::start_reporting(program, leading, extra, limit, true)
    }

    /// As [`Server::start`], with the report as one JSON line (`json`) or its human line.
    pub fn start_reporting(
        program: &str,
        leading: &[&str],
        extra: &[&str],
        limit: Limit,
        json: bool,
    ) -> Option<Server> {
        let mut args = leading.to_vec();
        args.extend(["--serve", "127.0.0.1:0"]);
        if json {
            args.push("--json");
        }
        args.extend(extra);
        let (mut command, copy) = match limit {
            Limit::Nproc(headroom) => nproc_limited(program, &args, headroom)?,
            other => {
                let mut command = child::command(program);
                command.args(&args);
                if let Limit::Nofile(n) = other {
                    lower_rlimit(&mut command, libc::RLIMIT_NOFILE, n);
                }
                (command, None)
            }
        };
        static RUNS: AtomicU32 = AtomicU32::new(0);
        let mark = format!("serve-{}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed));
        command.env(MARK, &mark).stdout(Stdio::piped()).stderr(Stdio::piped());
        let started = Instant::now();
        let mut server = child::Group::spawn(command)
            .unwrap_or_else(|e| panic!("{program} does not start: {e}"));
        let mut stderr_pipe = server.child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text);
            text
        });
        // A server that never says where it listens is killed at the children's limit, so
        // that the test fails instead of hanging.
        let limit = child::limit();
        let addr = match server.listening(limit) {
            Ok(addr) => addr,
            Err(why) => {
                server.kill();
                let stderr = stderr.join().unwrap_or_default();
                panic!("{program} {args:?}: {why}; stderr: {stderr}")
            }
        };
        Some(Server { server, addr, stderr: Some(stderr), mark, started, _copy: copy })
    }

    /// The server's process id.
    pub fn pid(&self) -> i32 {
        self.server.pid().as_raw()
    }

    /// Send SIGTERM and wait (at most 30 s) for it to exit; what it showed.
    pub fn stop(mut self) -> Outcome {
        let status = self.server.stop(Signal::SIGTERM, Duration::from_secs(30)).ok().flatten();
        let stdout = self.server.rest_of_stdout(Duration::from_secs(5)).unwrap_or_default();
        let stderr = self.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
        Outcome {
            code: status.and_then(|s| s.code()),
            stdout,
            stderr,
            elapsed: self.started.elapsed(),
            mark: self.mark.clone(),
        }
    }
}

/// Connect, with a read timeout of 10 s so that no test hangs.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream
}

/// Send `bytes` and read until the server closes (or 10 s pass): everything it answered.
pub fn exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = connect(addr);
    stream.write_all(bytes).expect("send");
    read_to_close(&mut stream)
}

/// Read until EOF, a reset, or the read timeout.
pub fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Read one whole response (Content-Length framed) from a keep-alive connection: its status
/// and body.
pub fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("the connection ended mid-response ({other:?}): {head:?}"),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head[9..12].parse().expect("a status code");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
        })
        .expect("Content-Length")
        .parse()
        .expect("a length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("the body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// `GET path` on a fresh connection: status and body.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = connect(addr);
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").expect("send");
    read_response(&mut stream)
}
