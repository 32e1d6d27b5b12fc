//! A model started with `--serve`, and the clients that test it: well-behaved, pipelining,
//! malformed, silent, resetting.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::run::{lower_rlimit, nproc_limited, ReachableCopy, MARK};
use crate::Outcome;

/// A server process, listening; killed on drop if a test did not stop it.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    stdout: Option<BufReader<std::process::ChildStdout>>,
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
                let mut command = Command::new(program);
                command.args(&args);
                if let Limit::Nofile(n) = other {
                    lower_rlimit(&mut command, libc::RLIMIT_NOFILE, n);
                }
                (command, None)
            }
        };
        static RUNS: AtomicU32 = AtomicU32::new(0);
        let mark = format!("serve-{}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed));
        command.env(MARK, &mark).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = crate::run::retry_while_busy(|| command.spawn())
            .unwrap_or_else(|e| panic!("{program} does not start: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        // A server that never says where it listens is killed at the suite's limit, so that
        // the read below ends (at EOF) and the test fails instead of hanging.
        let (heard, listen) = std::sync::mpsc::channel::<()>();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let limit = crate::run::kill_after();
        let watchdog = std::thread::spawn(move || {
            if listen.recv_timeout(limit).is_err() {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
            }
        });
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let _ = heard.send(());
        let _ = watchdog.join();
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "{program} {args:?} did not say `listening on ADDR` within {} s: {line:?} {}",
                limit.as_secs(),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let addr = addr.parse().expect("listening on a socket address");
        Some(Server { child: Some(child), addr, stdout: Some(stdout), mark, started, _copy: copy })
    }

    /// The server's process id.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// Send SIGTERM and wait (at most 30 s) for it to exit; what it showed.
    pub fn stop(mut self) -> Outcome {
        let mut child = self.child.take().expect("running");
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        let _ = self.stdout.take().expect("piped").read_to_string(&mut stdout);
        let mut stderr = String::new();
        let _ = child.stderr.take().expect("piped").read_to_string(&mut stderr);
        Outcome {
            code: status.and_then(|s| s.code()),
            stdout,
            stderr,
            elapsed: self.started.elapsed(),
            mark: self.mark.clone(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
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
