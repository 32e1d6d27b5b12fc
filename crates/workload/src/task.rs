//! What task `i` does and the value it yields (`CONTRACT.md`, "What task i does").
//!
//! The values are chosen so that every model, and every Python peer, must print the same
//! checksum: a model that drops, repeats or mixes up a task cannot hide it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::cli::{Args, Workload};
use crate::disk::{self, AlignedBuf};
use crate::error::{io_error, TaskError};
use crate::http::{self, Progress, ResponseParser};

/// The value of sleep and http task `id`: the service answers `id + 100` too.
pub fn sleep_value(id: u32) -> u64 {
    u64::from(id) + 100
}

/// The cpu task: `h = id as 8 big-endian bytes; h = SHA-256(h)` `rounds` times;
/// the value is the first 8 bytes of `h`, big-endian.
pub fn sha256_chain(id: u32, rounds: u32) -> u64 {
    let mut h = [0u8; 32];
    let mut len = 8;
    h[..8].copy_from_slice(&u64::from(id).to_be_bytes());
    for _ in 0..rounds {
        h = Sha256::digest(&h[..len]).into();
        len = 32;
    }
    u64::from_be_bytes(h[..8].try_into().expect("8 bytes"))
}

/// The checksum every model must print: the wrapping sum of all values. For disk, over a
/// file of `--file-size` bytes (or the default size).
pub fn expected_checksum(args: &Args) -> u64 {
    if args.workload == Workload::Disk {
        let size = args.file_size.unwrap_or(disk::DEFAULT_FILE_SIZE);
        return disk::expected_checksum(args.tasks, size, args.bytes.into());
    }
    if args.workload == Workload::Brigade {
        return crate::brigade::expected_checksum(args.tasks, args.laps);
    }
    if args.workload == Workload::Db {
        return crate::db::expected_checksum(args.tasks, args.rows);
    }
    (0..args.tasks)
        .map(|id| match args.workload {
            Workload::Cpu => sha256_chain(id, args.work),
            _ => sleep_value(id),
        })
        .fold(0u64, u64::wrapping_add)
}

/// Where a model's tasks hold their connections: in this process, or in the children it
/// forks (`procs`), each of which has descriptors of its own.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    Here,
    InChildren,
}

/// What every model does before its first task: raise the descriptor limit (each socket is
/// one), refuse a pool of db connections (`--workers`) the limit cannot hold where they are
/// held `here`, and for disk open the data file, once for the whole process — forked
/// children and every thread share the descriptor, which `pread` and `pwrite` use without a
/// file offset.
pub fn prepare(args: &Args, holds: Holds) -> Result<(), Box<dyn std::error::Error>> {
    crate::measure::raise_nofile_limit()?;
    if let (Workload::Db, Some(workers), Holds::Here) = (args.workload, args.workers, holds) {
        if let Some(headroom) = crate::limits::descriptor_headroom() {
            headroom.admit(workers.into(), "db connections (--workers)")?;
        }
    }
    if args.workload == Workload::Disk {
        disk::open_once(args)?;
    }
    Ok(())
}

/// Run task `id` on the calling thread, blocking it: the I/O of `serial`, `procs` and `threads`.
pub fn run_blocking(args: &Args, id: u32) -> Result<u64, TaskError> {
    match args.workload {
        Workload::Sleep => {
            std::thread::sleep(args.sleep());
            Ok(sleep_value(id))
        }
        Workload::Http => blocking_get(args.addr, id, args.ms, args.timeout()),
        Workload::Cpu => Ok(sha256_chain(id, args.work)),
        Workload::Db => crate::db::blocking::run(args, id),
        // A brigade's task is one link of the circle, not a job alone: each model runs its
        // circle; a crawl's, a URL found as the crawl runs: each model runs its crawl.
        Workload::Brigade => Err(TaskError::new("a brigade task runs only in its circle")),
        Workload::Crawl => Err(TaskError::new("a crawl task runs only in its crawl")),
        Workload::Disk => {
            // One aligned buffer per thread, reused by every task the thread runs.
            thread_local!(static BUF: std::cell::RefCell<Option<AlignedBuf>> = const { std::cell::RefCell::new(None) });
            let file = disk::opened();
            BUF.with_borrow_mut(|buf| {
                file.run_blocking(id, buf.get_or_insert_with(|| file.buffer()))
            })
        }
    }
}

/// One request on a blocking socket: what `serial`, `procs` and `threads` do.
/// The whole exchange must finish within `timeout`.
pub fn blocking_get(
    addr: SocketAddr,
    id: u32,
    delay_ms: u64,
    timeout: Duration,
) -> Result<u64, TaskError> {
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| TaskError::timed_out("the request", timeout))
    };
    let mut stream =
        TcpStream::connect_timeout(&addr, left()?).map_err(|e| io_error(addr, "connect to", &e))?;
    stream.set_write_timeout(Some(left()?)).map_err(|e| io_error(addr, "write to", &e))?;
    stream
        .write_all(&http::request(addr, id, delay_ms))
        .map_err(|e| io_error(addr, "write to", &e))?;
    let mut parser = ResponseParser::new();
    let mut buf = [0u8; 4096];
    loop {
        stream.set_read_timeout(Some(left()?)).map_err(|e| io_error(addr, "read from", &e))?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(parser.eof()?),
            Ok(n) => {
                if let Progress::Done(value) = parser.feed(&buf[..n])? {
                    return Ok(value);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(addr, "read from", &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_chain_matches_known_answers() {
        // Every answer computed independently with Python's hashlib, as the contract states:
        // h = i.to_bytes(8, "big"); h = sha256(h).digest() K times; first 8 bytes, big-endian.
        let known: [(u32, u32, u64); 6] = [
            (0, 1, 0xaf5570f5a1810b7a),
            (0, 2, 0x7ef0ca626bbb058d),
            (1, 1, 0xcd2662154e6d76b2),
            (5, 17, 0x117aa4e04e91c4cc),
            (1000, 3, 0x47e4cfae6add9262),
            (3, 100_000, 0xb510270e8b7e7a7a),
        ];
        for (id, rounds, answer) in known {
            assert_eq!(sha256_chain(id, rounds), answer, "task {id}, {rounds} rounds");
        }
        // Zero rounds leave the id's own bytes.
        assert_eq!(sha256_chain(7, 0), 7);
    }

    #[test]
    fn the_articles_case_sums_to_1045() {
        let args =
            crate::cli::Args::try_parse_for(crate::cli::Model::named("serial"), ["t"]).unwrap();
        assert_eq!(expected_checksum(&args), 1045);
    }
}
