//! The `service` binary as the models and the benches use it: it says where it listens,
//! answers the contract's routes, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("the service accepts");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn the_service_answers_the_contracts_routes_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_service"))
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").expect("listening on ADDR").to_string();

    let started = Instant::now();
    let query = get(&addr, "/query?id=7&delay_ms=200");
    assert!(started.elapsed() >= Duration::from_millis(200), "answered before the delay");
    assert!(query.starts_with("HTTP/1.1 200"), "{query}");
    assert!(query.ends_with(r#"{"id":7,"value":107}"#), "{query}");
    assert!(get(&addr, "/health").ends_with("ok"));
    assert!(get(&addr, "/query?id=x").starts_with("HTTP/1.1 400"));
    assert!(get(&addr, "/nowhere").starts_with("HTTP/1.1 404"));

    // SAFETY: kill only sends SIGTERM to our own child, which we then wait for.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let stopped = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(stopped.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_bad_address_is_exit_2_with_a_reason() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_service")).args(["--addr", "nowhere"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("Error: ") && stderr.contains("Usage: service"), "{stderr}");
}
