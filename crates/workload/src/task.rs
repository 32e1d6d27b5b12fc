//! What task `i` does and the value it yields (`../shared/CONTRACT.md`, "What task i does").
//!
//! The values are chosen so that every model, and every Python peer, must print the same
//! checksum: a model that drops, repeats or mixes up a task cannot hide it.

use std::fmt;
use std::io;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::cli::{Args, Workload};
use crate::http;

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

/// The checksum every model must print: the wrapping sum of all values.
pub fn expected_checksum(args: &Args) -> u64 {
    (0..args.tasks)
        .map(|id| match args.workload {
            Workload::Sleep | Workload::Http => sleep_value(id),
            Workload::Cpu => sha256_chain(id, args.work),
        })
        .fold(0u64, u64::wrapping_add)
}

/// Run task `id` on the calling thread, blocking it: the I/O of `serial`, `procs` and `threads`.
pub fn run_blocking(args: &Args, id: u32) -> Result<u64, TaskError> {
    match args.workload {
        Workload::Sleep => {
            std::thread::sleep(args.sleep());
            Ok(sleep_value(id))
        }
        Workload::Http => http::blocking_get(args.addr, id, args.ms, args.timeout()),
        Workload::Cpu => Ok(sha256_chain(id, args.work)),
    }
}

/// Why a task failed. `limit` is set when the machine ran out of something, and names the
/// limit to raise, so the user learns what to change rather than just that it broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskError {
    pub message: String,
    pub limit: Option<String>,
}

impl TaskError {
    pub fn new(message: impl Into<String>) -> TaskError {
        TaskError { message: message.into(), limit: None }
    }

    /// An error from starting something (a process, a thread, a socket), with the limit
    /// behind it when the OS error says one ran out.
    pub fn starting(what: &str, err: &io::Error) -> TaskError {
        let limit = match err.raw_os_error() {
            Some(libc::EAGAIN) => {
                return TaskError {
                    message: format!("{what}: {err}"),
                    limit: Some(crate::limits::process_limits_now()),
                }
            }
            Some(libc::ENOMEM) => {
                Some("memory: vm.max_map_count, vm.overcommit_memory, or free RAM")
            }
            Some(libc::EMFILE) => {
                Some("`ulimit -n` (RLIMIT_NOFILE; its hard limit here may be fixed)")
            }
            Some(libc::ENFILE) => Some("fs.file-max (the system-wide file table)"),
            Some(libc::EADDRNOTAVAIL) => Some(
                "the ephemeral ports: net.ipv4.ip_local_port_range (or fewer connections at once)",
            ),
            _ => None,
        };
        TaskError { message: format!("{what}: {err}"), limit: limit.map(str::to_string) }
    }

    pub fn timed_out(what: &str, after: Duration) -> TaskError {
        TaskError::new(format!("{what} timed out after {} ms (--timeout-ms)", after.as_millis()))
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(limit) = &self.limit {
            write!(f, " — limit to raise: {limit}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TaskError {}

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
        let args = crate::cli::Args::try_parse_for(
            crate::cli::Model { name: "t", has_pool: false, can_offload: false },
            ["t"],
        )
        .unwrap();
        assert_eq!(expected_checksum(&args), 1045);
    }

    #[test]
    fn an_exhausted_resource_names_the_limit() {
        let e = TaskError::starting("fork", &io::Error::from_raw_os_error(libc::EAGAIN));
        assert!(e.to_string().contains("ulimit -u"), "{e}");
        let e = TaskError::starting("connect", &io::Error::from_raw_os_error(libc::EMFILE));
        assert!(e.to_string().contains("RLIMIT_NOFILE"), "{e}");
    }
}
