//! The `response` target: `workload::http::ResponseParser`, fed by any server.

use workload::http::{HttpError, Progress, ResponseParser, MAX_BODY, MAX_HEAD};

use crate::split;

/// What a response came to, as far as the split property compares it. Error texts may
/// quote the bytes in hand, which depend on the split; their kind may not.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Value(u64),
    Status(u16),
    Malformed,
    Truncated(&'static str),
}

fn outcome(e: HttpError) -> Outcome {
    match e {
        HttpError::Status(code) => Outcome::Status(code),
        HttpError::Malformed(_) | HttpError::TooLarge(_) => Outcome::Malformed,
        HttpError::Truncated(what) => Outcome::Truncated(what),
    }
}

/// Feed `reads` one by one, then the close; hold the parser to its bound after each.
pub fn run(reads: &[&[u8]]) -> (Outcome, ResponseParser) {
    let mut parser = ResponseParser::new();
    for read in reads {
        let progress = parser.feed(read);
        let bound = MAX_HEAD + MAX_BODY + read.len();
        assert!(parser.buffered() <= bound, "holds {} bytes, over {bound}", parser.buffered());
        match progress {
            Ok(Progress::NeedMore) => {}
            Ok(Progress::Done(v)) => return (Outcome::Value(v), parser),
            Err(e) => return (outcome(e), parser),
        }
    }
    let end = parser.eof();
    (end.map_or_else(outcome, Outcome::Value), parser)
}

pub fn check(data: &[u8]) {
    let Some((seed, payload)) = split::seed_and_payload(data) else { return };
    let (whole, _) = run(&[payload]);
    let (pieces, _) = run(&split::pieces(seed, payload));
    assert_eq!(whole, pieces, "whole and in pieces of up to {} bytes", 1 << (seed & 7));
    reencode(&whole);
}

/// What was accepted, written out in each framing the parser reads, parses the same.
fn reencode(whole: &Outcome) {
    match *whole {
        Outcome::Value(v) => {
            let body = format!("{{\"value\":{v}}}");
            let (half, rest) = body.split_at(body.len() / 2);
            for framed in [
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()),
                format!(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{half}\r\n\
                     {:x}\r\n{rest}\r\n0\r\n\r\n",
                    half.len(),
                    rest.len()
                ),
                format!("HTTP/1.1 200 OK\r\n\r\n{body}"),
            ] {
                assert_eq!(run(&[framed.as_bytes()]).0, Outcome::Value(v), "{framed:?}");
            }
        }
        Outcome::Status(code) => {
            let framed = format!("HTTP/1.1 {code:03} X\r\nContent-Length: 0\r\n\r\n");
            assert_eq!(run(&[framed.as_bytes()]).0, Outcome::Status(code), "{framed:?}");
        }
        _ => {}
    }
}

/// For the differential: the input whole, then the close. The framing's verdict is kept
/// apart from the body's JSON, which h11 does not read.
pub fn verdict(payload: &[u8]) -> serde_json::Value {
    let (outcome, parser) = run(&[payload]);
    let (framed, status, error) = match &outcome {
        Outcome::Value(_) => (true, Some(200), None),
        Outcome::Status(code) => (false, Some(*code), None),
        Outcome::Truncated(what) => (false, None, Some(format!("truncated before {what}"))),
        Outcome::Malformed => {
            let mut again = ResponseParser::new();
            let e = again.feed(payload).and_then(|_| again.eof().map(Progress::Done));
            let why = e.err().map(|e| e.to_string()).unwrap_or_default();
            // A complete body that is not the JSON we asked for is framed all the same.
            let json = why.starts_with("malformed response: body is not the expected JSON");
            (json, json.then_some(200), (!json).then_some(why))
        }
    };
    serde_json::json!({
        "framed": framed,
        "status": status,
        "body": framed.then(|| hex(parser.body())),
        "error": error,
    })
}

/// Bytes as lower-case hex, so the differential compares them exactly.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
