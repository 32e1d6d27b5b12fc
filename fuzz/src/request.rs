//! The `request` target: the server's `workload::serve::exchange`, fed by any client.

use std::time::{Duration, Instant};

use workload::serve::exchange::{parse, Exchange, Parsed, Route, Step, MAX_HEAD};

use crate::split;

/// Serve one connection that sends `reads` and then closes its side, the way every model
/// does, with time standing still except where a `/query` delay moves it on. A `/cpu`
/// hash is not computed (it can take seconds); its value is `id ^ work`, which the
/// exchange only frames. Returns everything written, and the connection's counts.
pub fn serve(reads: &[&[u8]]) -> (Vec<u8>, [u64; 3]) {
    let mut now = Instant::now();
    let mut x = Exchange::new(Duration::from_secs(10), now);
    let mut reads = reads.iter();
    let mut out = Vec::new();
    loop {
        match x.step(now, false) {
            Step::Read { .. } => {
                assert!(x.buffered() <= MAX_HEAD, "reads with {} bytes held", x.buffered());
                match reads.next() {
                    Some(read) => x.received(read),
                    None => x.eof(),
                }
            }
            Step::Sleep { until } => now = until,
            Step::Hash { id, work } => x.hashed(u64::from(id) ^ u64::from(work), now),
            Step::Busy => panic!("busy with no hash handed out"),
            Step::Write { .. } => {
                out.extend_from_slice(x.output());
                x.wrote(x.output().len());
            }
            Step::Close => break,
        }
    }
    let c = x.counts();
    (out, [c.requests, c.rejected, c.errors])
}

pub fn check(data: &[u8]) {
    let Some((seed, payload)) = split::seed_and_payload(data) else { return };
    let whole = serve(&[payload]);
    let pieces = serve(&split::pieces(seed, payload));
    assert!(whole == pieces, "whole and in pieces of up to {} bytes differ", 1 << (seed & 7));
    reencode(payload);
}

/// The request written out again from its fields parses to the same fields.
fn reencode(payload: &[u8]) {
    let Parsed::Request { route: Ok(route), keep_alive, http10, .. } = parse(payload) else {
        return;
    };
    let target = match route {
        Route::Health => "/health".to_string(),
        Route::Query { id, delay_ms } => format!("/query?id={id}&delay_ms={delay_ms}"),
        Route::Cpu { id, work } => format!("/cpu?id={id}&work={work}"),
    };
    let version = if http10 { "1.0" } else { "1.1" };
    let connection = match (http10, keep_alive) {
        (true, true) => "Connection: keep-alive\r\n",
        (false, false) => "Connection: close\r\n",
        _ => "",
    };
    let again = format!("GET {target} HTTP/{version}\r\nHost: h\r\n{connection}\r\n");
    let want = Parsed::Request { len: again.len(), route: Ok(route), keep_alive, http10 };
    assert_eq!(parse(again.as_bytes()), want, "{again:?}");
}

/// For the differential: what `parse` makes of the input's first request.
pub fn verdict(payload: &[u8]) -> serde_json::Value {
    match parse(payload) {
        Parsed::Partial => serde_json::json!({ "parsed": "partial" }),
        Parsed::Bad(status) => serde_json::json!({ "parsed": "bad", "status": status }),
        Parsed::Request { len, route, keep_alive, http10 } => {
            let (route, status) = match route {
                Ok(Route::Health) => (serde_json::json!(["health"]), 200),
                Ok(Route::Query { id, delay_ms }) => {
                    (serde_json::json!(["query", id, delay_ms]), 200)
                }
                Ok(Route::Cpu { id, work }) => (serde_json::json!(["cpu", id, work]), 200),
                Err((status, _)) => (serde_json::Value::Null, status),
            };
            serde_json::json!({
                "parsed": "request", "len": len, "route": route, "status": status,
                "keep_alive": keep_alive, "http10": http10,
            })
        }
    }
}
