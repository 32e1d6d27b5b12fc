//! The `service` binary as the models and the benches use it: it says where it listens,
//! answers the contract's routes, and stops cleanly on SIGTERM.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("the service accepts");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn the_service_answers_the_contracts_routes_and_stops_on_sigterm() {
    let mut command = child::command(env!("CARGO_BIN_EXE_service"));
    command.args(["--addr", "127.0.0.1:0"]).stdout(Stdio::piped());
    let mut service = child::Group::spawn(command).unwrap();
    let addr = service.listening(Duration::from_secs(30)).expect("listening on ADDR");

    let started = Instant::now();
    let query = get(addr, "/query?id=7&delay_ms=200");
    assert!(started.elapsed() >= Duration::from_millis(200), "answered before the delay");
    assert!(query.starts_with("HTTP/1.1 200"), "{query}");
    assert!(query.ends_with(r#"{"id":7,"value":107}"#), "{query}");
    assert!(get(addr, "/health").ends_with("ok"));
    assert!(get(addr, "/query?id=x").starts_with("HTTP/1.1 400"));
    assert!(get(addr, "/nowhere").starts_with("HTTP/1.1 404"));

    let status = service.stop(Signal::SIGTERM, Duration::from_secs(5)).unwrap();
    assert!(status.is_some_and(|s| s.success()), "{status:?}: not stopped within 5 s");
}

#[test]
fn a_bad_address_is_exit_2_with_a_reason() {
    let mut command = child::command(env!("CARGO_BIN_EXE_service"));
    command.args(["--addr", "nowhere"]);
    let out = child::run(command, child::limit()).unwrap();
    assert_eq!(out.status.and_then(|s| s.code()), Some(2));
    assert!(
        out.stderr.starts_with("Error: ") && out.stderr.contains("Usage: service"),
        "{}",
        out.stderr
    );
}
