//! The `db` target: `workload::db::Session`, fed by any server that claims to be PostgreSQL.
//!
//! The session sends its startup message, and after each `Ready` or answer one more query
//! (three at most); what comes back is the fuzzer's. A SCRAM exchange cannot succeed (the
//! client's nonce is random), so it only reaches the checks of the server's first message.

use workload::db::{statement, Progress, Session};
use workload::db_url::DbUrl;

use crate::split;

/// Everything the session said, in order: each progress and the error or end.
pub fn run(reads: &[&[u8]]) -> Vec<String> {
    // One URL for every run: `parse_static` leaks its URL on purpose (a program parses one),
    // and ten million of them ran the first full run out of memory.
    static URL: std::sync::OnceLock<&'static DbUrl> = std::sync::OnceLock::new();
    let url = *URL.get_or_init(|| {
        DbUrl::parse_static("postgres://fuzz:secret@127.0.0.1:5432/fuzz").expect("a URL")
    });
    let mut session = Session::new(url, false);
    let mut said = Vec::new();
    let mut queries = 0;
    for read in reads {
        let mut progress = session.feed(read);
        let bound = workload::db::MAX_MESSAGE + 5 + read.len();
        assert!(session.buffered() <= bound, "holds {} bytes", session.buffered());
        loop {
            let n = session.to_send().len();
            session.sent(n);
            match progress {
                Ok(Progress::More) => break,
                Ok(ready_or_answer) => {
                    said.push(format!("{ready_or_answer:?}"));
                    if queries == 3 {
                        return said;
                    }
                    queries += 1;
                    session.query(statement(0, false), queries, 0);
                    progress = session.feed(&[]);
                }
                Err(e) => {
                    said.push(format!("error: {e}"));
                    return said;
                }
            }
        }
    }
    said.push(format!("closed: {}", session.eof()));
    said
}

pub fn check(data: &[u8]) {
    let Some((seed, payload)) = split::seed_and_payload(data) else { return };
    let whole = run(&[payload]);
    assert_eq!(whole, run(&split::pieces(seed, payload)), "whole and in pieces");
    reencode(&whole);
}

/// A backend message: its type, its length, its body.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// Every value the session accepted, sent again as the simplest server would, is the
/// same value.
fn reencode(said: &[String]) {
    for line in said {
        let Some(v) = line.strip_prefix("Answer(Ok(").and_then(|r| r.strip_suffix("))")) else {
            continue;
        };
        let v: i64 = v.parse().expect("a value");
        let mut row = 1u16.to_be_bytes().to_vec();
        row.extend_from_slice(&8i32.to_be_bytes());
        row.extend_from_slice(&v.to_be_bytes());
        let server = [
            message(b'R', &0u32.to_be_bytes()),
            message(b'Z', b"I"),
            message(b'1', b""),
            message(b'2', b""),
            message(b'D', &row),
            message(b'C', b"SELECT 1\0"),
            message(b'Z', b"I"),
        ]
        .concat();
        let again = run(&[&server]);
        assert_eq!(again[..2], ["Ready".to_string(), format!("Answer(Ok({v}))")], "{v}");
    }
}
