//! What every server must do (`CONTRACT.md`, "Serving"), as functions of the program and
//! its leading arguments, so that the models (through the `serve_tests!` macros) and the
//! peers (`crates/bench/tests/peers.rs`) are held to the same checks.

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::serving::{connect, exchange, get, read_response, read_to_close, Limit, Server};

/// The checks of this file that every server passes given only its program and leading
/// arguments, by name, once: `every_serve_check!([then] before…)` expands to
/// `then!(before… serve_checks: [name, …])`, which the models' `serve_tests!` make tests of
/// and `bench conform` a list.
#[macro_export]
#[doc(hidden)]
macro_rules! every_serve_check {
    ([$($then:tt)+] $($before:tt)*) => {
        $($then)+! { $($before)* serve_checks: [
            routes_answer_on_one_keep_alive_connection,
            pipelined_requests_are_answered_in_order,
            http_1_0_and_connection_close_end_the_connection,
            an_oversized_head_gets_431_and_garbage_400,
            a_silent_client_is_closed_after_the_timeout,
            a_reset_client_leaves_the_server_serving,
            sigterm_finishes_the_request_in_flight_and_reports,
            the_report_names_the_port_bound_and_counts_4xx_apart,
            a_bad_parameter_is_named_in_the_answer,
        ] }
    };
}

fn start(program: &str, leading: &[&str], extra: &[&str]) -> Server {
    Server::start(program, leading, extra, Limit::None).expect("no limit to set up")
}

/// Stop the server with SIGTERM: exit 0, one JSON report, no process left; the report.
pub fn stop_cleanly(server: Server) -> serde_json::Value {
    let outcome = server.stop();
    assert_eq!(outcome.code, Some(0), "exit status after SIGTERM; stderr: {}", outcome.stderr);
    let report = outcome.report();
    assert!(outcome.processes_left().is_empty(), "left behind: {:?}", outcome.processes_left());
    for field in crate::SERVE_FIELDS {
        assert!(report.get(field).is_some(), "missing {field} in {report}");
    }
    report
}

pub fn routes_answer_on_one_keep_alive_connection(program: &str, leading: &[&str]) {
    let server = start(program, leading, &[]);
    let mut stream = connect(server.addr);
    let cpu = workload::task::sha256_chain(3, 1000);
    for (path, status, body) in [
        ("/health", 200, r#"{"status":"ok"}"#.to_string()),
        ("/query?id=7&delay_ms=30", 200, r#"{"id":7,"value":107}"#.to_string()),
        ("/query?id=8", 200, r#"{"id":8,"value":108}"#.to_string()),
        ("/cpu?id=3&work=1000", 200, format!(r#"{{"id":3,"value":{cpu}}}"#)),
        ("/nowhere", 404, String::new()),
        ("/health", 200, r#"{"status":"ok"}"#.to_string()),
    ] {
        write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").expect("send");
        let (got_status, got_body) = read_response(&mut stream);
        assert_eq!(got_status, status, "{path}: {got_body}");
        if status == 200 {
            assert_eq!(got_body, body, "{path}");
        }
    }
    let report = stop_cleanly(server);
    assert_eq!(report["requests"], 5, "{report}");
    assert_eq!(report["connections"], 1, "{report}");
}

/// The report gives the address listened on (the port the kernel chose for port 0), counts
/// 4xx answers apart from errors, and says "1 request on 1 connection".
pub fn the_report_names_the_port_bound_and_counts_4xx_apart(program: &str, leading: &[&str]) {
    let server = start(program, leading, &[]);
    let mut stream = connect(server.addr);
    for path in ["/health", "/nowhere"] {
        write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").expect("send");
        read_response(&mut stream);
    }
    drop(stream);
    let addr = server.addr.to_string();
    let report = stop_cleanly(server);
    assert_eq!(report["serve"], addr, "{report}");
    assert_eq!(
        (&report["requests"], &report["rejected"], &report["errors"]),
        (&1.into(), &1.into(), &0.into()),
        "{report}"
    );
    // Without --json, the human line says it in words.
    let server = Server::start_reporting(program, leading, &[], Limit::None, false).expect("start");
    assert_eq!(get(server.addr, "/health").0, 200);
    let outcome = server.stop();
    let line = outcome.stdout.lines().last().unwrap_or("").to_string();
    assert!(line.contains("served 1 request on 1 connection ·"), "{line}");
}

/// A request with a missing or bad parameter is answered 400 naming the parameter.
pub fn a_bad_parameter_is_named_in_the_answer(program: &str, leading: &[&str]) {
    let server = start(program, leading, &[]);
    for (path, named) in [("/cpu", "id"), ("/query?id=x", "id"), ("/cpu?id=1&work=lots", "work")] {
        let (status, body) = get(server.addr, path);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(named), "{path}: {body}");
    }
    stop_cleanly(server);
}

pub fn pipelined_requests_are_answered_in_order(program: &str, leading: &[&str]) {
    let server = start(program, leading, &[]);
    let mut stream = connect(server.addr);
    // The first waits longest: an answer out of order would show as a wrong id.
    stream
        .write_all(
            b"GET /query?id=1&delay_ms=200 HTTP/1.1\r\nHost: t\r\n\r\n\
              GET /query?id=2 HTTP/1.1\r\nHost: t\r\n\r\n\
              GET /query?id=3&delay_ms=50 HTTP/1.1\r\nHost: t\r\n\r\n",
        )
        .expect("send");
    for id in 1..=3 {
        let (status, body) = read_response(&mut stream);
        assert_eq!(status, 200);
        assert_eq!(body, format!(r#"{{"id":{id},"value":{}}}"#, id + 100));
    }
    stop_cleanly(server);
}

pub fn http_1_0_and_connection_close_end_the_connection(program: &str, leading: &[&str]) {
    let server = start(program, leading, &[]);
    for request in [
        "GET /query?id=4 HTTP/1.0\r\n\r\n",
        "GET /query?id=4 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ] {
        // The answer, then the server's close: read_to_close returns before its 10 s timeout.
        let started = Instant::now();
        let answer = exchange(server.addr, request.as_bytes());
        assert!(answer.ends_with(r#"{"id":4,"value":104}"#), "{request:?}: {answer}");
        assert!(started.elapsed() < Duration::from_secs(8), "{request:?}: the server kept it open");
    }
    stop_cleanly(server);
}

pub fn an_oversized_head_gets_431_and_garbage_400(program: &str, leading: &[&str]) {
    let server = start(program, leading, &[]);
    let big = format!("GET /health HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n", "a".repeat(9000));
    let answer = exchange(server.addr, big.as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 431") || answer.starts_with("HTTP/1.0 431"),
        "{answer:.80}"
    );
    for garbage in [
        "GARBAGE\r\n\r\n",
        "GET /query?id=x HTTP/1.1\r\nHost: t\r\n\r\n",
        "\x01\x02\x03 / HTTP/9\r\n\r\n",
    ] {
        let answer = exchange(server.addr, garbage.as_bytes());
        assert!(
            answer.starts_with("HTTP/1.1 400") || answer.starts_with("HTTP/1.0 400"),
            "{garbage:?}: {answer:.80}"
        );
    }
    assert_eq!(get(server.addr, "/health").0, 200, "the server still serves");
    stop_cleanly(server);
}

pub fn a_silent_client_is_closed_after_the_timeout(program: &str, leading: &[&str]) {
    let server = start(program, leading, &["--timeout-ms", "300"]);
    let started = Instant::now();
    let mut silent = connect(server.addr);
    let mut slow = connect(server.addr);
    slow.write_all(b"GET /hea").expect("send"); // and never the rest
    assert_eq!(read_to_close(&mut silent), "", "nothing is owed to a silent client");
    let _ = read_to_close(&mut slow); // a 408 or nothing; either way closed
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "closed only after {:?}",
        started.elapsed()
    );
    assert_eq!(get(server.addr, "/health").0, 200, "the server still serves");
    stop_cleanly(server);
}

/// Close `stream` with a reset (SO_LINGER 0) rather than a FIN.
fn reset(stream: TcpStream) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt reads `linger`, which outlives the call, for its exact size.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            std::mem::size_of::<libc::linger>() as u32,
        );
    }
}

pub fn a_reset_client_leaves_the_server_serving(program: &str, leading: &[&str]) {
    let server = start(program, leading, &[]);
    let mut waiting = connect(server.addr);
    waiting.write_all(b"GET /query?id=1&delay_ms=200 HTTP/1.1\r\nHost: t\r\n\r\n").expect("send");
    reset(waiting);
    let mut partial = connect(server.addr);
    partial.write_all(b"GET /query?id=1 HT").expect("send");
    reset(partial);
    reset(connect(server.addr));
    std::thread::sleep(Duration::from_millis(400)); // the answer to the first finds a reset
    assert_eq!(get(server.addr, "/query?id=5").1, r#"{"id":5,"value":105}"#);
    stop_cleanly(server);
}

pub fn sigterm_finishes_the_request_in_flight_and_reports(program: &str, leading: &[&str]) {
    let server = start(program, leading, &[]); // the default timeout: 30 s
    let addr = server.addr;
    let in_flight = std::thread::spawn(move || get(addr, "/query?id=9&delay_ms=800"));
    std::thread::sleep(Duration::from_millis(200));
    let _idle = connect(server.addr); // an idle keep-alive client must not hold the stop up
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let report = stop_cleanly(server);
    let (status, body) = in_flight.join().expect("the client thread");
    assert_eq!((status, body), (200, r#"{"id":9,"value":109}"#.to_string()));
    assert!(started.elapsed() < Duration::from_secs(15), "the stop took {:?}", started.elapsed());
    assert!(report["requests"].as_u64() >= Some(1), "{report}");
}

pub fn fifty_clients_are_served_at_once(program: &str, leading: &[&str]) {
    let server = start(program, leading, &[]);
    let addr = server.addr;
    let started = Instant::now();
    let clients: Vec<_> = (0..50)
        .map(|id| {
            std::thread::spawn(move || (id, get(addr, &format!("/query?id={id}&delay_ms=300"))))
        })
        .collect();
    for client in clients {
        let (id, (status, body)) = client.join().expect("a client thread");
        assert_eq!((status, body), (200, format!(r#"{{"id":{id},"value":{}}}"#, id + 100)));
    }
    // One at a time would take 15 s; at once, 0.3 s. The bound is generous for a loaded machine.
    assert!(started.elapsed() < Duration::from_secs(7), "took {:?}", started.elapsed());
    assert_eq!(stop_cleanly(server)["requests"], 50);
}

/// Out of `limit`: with one connection served first, open `clients` more idle ones; some
/// must be refused (closed at once), the limit named on stderr, and the first connection
/// still served.
pub fn at_a_limit_it_refuses_names_it_and_keeps_serving(
    program: &str,
    leading: &[&str],
    limit: Limit,
    clients: usize,
    named: &str,
) {
    // Other tests of this binary that lower RLIMIT_NPROC would share its count: one at a time.
    let _one_at_a_time = crate::run::NPROC_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(server) = Server::start(program, leading, &["--timeout-ms", "20000"], limit) else {
        return; // skipped, and said why
    };
    // The first connection, served while there is room: other tests of the same user may
    // hold processes for a moment, so it is tried again until they let go.
    let first = (0..50).find_map(|_| {
        let mut stream = connect(server.addr);
        let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
        let served =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_response(&mut stream)));
        if matches!(served, Ok((200, _))) {
            return Some(stream);
        }
        std::thread::sleep(Duration::from_millis(200));
        None
    });
    let mut first = first.expect("the server serves a first connection");
    let conns: Vec<TcpStream> = (0..clients).map(|_| connect(server.addr)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut refused = 0;
    for mut stream in conns {
        // A refused connection was closed (or reset) at once; a held one has nothing to say.
        stream.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
        match std::io::Read::read(&mut stream, &mut [0u8; 1]) {
            Ok(0) => refused += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => refused += 1,
            _ => {}
        }
    }
    assert!(refused > 0, "{clients} connections and none refused");
    first.write_all(b"GET /query?id=6 HTTP/1.1\r\nHost: t\r\n\r\n").expect("send");
    assert_eq!(read_response(&mut first), (200, r#"{"id":6,"value":106}"#.to_string()));
    drop(first);
    let outcome = server.stop();
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert!(outcome.stderr.contains(named), "want {named:?} named in {}", outcome.stderr);
    assert!(outcome.report()["refused"].as_u64() > Some(0), "{}", outcome.stdout);
}

/// What every server must do, where the program serves.
pub const GROUP: crate::checks::CheckGroup = crate::checks::CheckGroup::new(
    "serve",
    "`--serve`: routes, keep-alive, pipelining, 431/400, slow and reset clients, SIGTERM",
    || crate::every_serve_check!([crate::checks] crate::Needs::SERVE,),
);
