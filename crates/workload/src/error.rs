//! Why a task failed, said so that the user learns what to change: the OS error, and the limit
//! to raise when the machine ran out of something.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::http::HttpError;

/// Why a task failed. `limit` is set when the machine ran out of something, and names the
/// limit to raise, so the user learns what to change rather than just that it broke.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

    /// `io_uring_setup` refused with `err`: the rings (`uring`, `ring`, `monoio`) can run
    /// nothing, and the error says what to change.
    pub fn no_io_uring(err: &io::Error) -> TaskError {
        let change = match err.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => {
                "io_uring is refused here: set kernel.io_uring_disabled = 0 (2 disables it, 1 \
                 allows only kernel.io_uring_group), or run outside the seccomp profile (a \
                 container's default one) that blocks io_uring_setup"
            }
            Some(libc::ENOSYS) => {
                "a kernel with io_uring (Linux 5.19 or later for every operation used here), not \
                 hidden by a seccomp profile"
            }
            Some(libc::ENOMEM) => {
                "`ulimit -l` (RLIMIT_MEMLOCK): kernels before 5.12 charge the ring's memory to it"
            }
            _ => "see io_uring_setup(2)",
        };
        TaskError {
            message: format!("cannot create an io_uring: {err}"),
            limit: Some(change.into()),
        }
    }

    pub fn timed_out(what: &str, after: Duration) -> TaskError {
        TaskError::new(format!("{what} timed out after {} ms (--timeout-ms)", after.as_millis()))
    }
}

/// Turn a socket error at `stage` ("connect to", "read from") into a task error that tells the
/// user what to do about it.
pub fn io_error(addr: SocketAddr, stage: &str, err: &io::Error) -> TaskError {
    match err.kind() {
        // At the service's own address, the likely cause is that it is not running.
        io::ErrorKind::ConnectionRefused if addr.to_string() == crate::cli::SERVICE_ADDR => {
            TaskError::new(format!(
                "connection refused to {addr} (is the service running? `make service`)"
            ))
        }
        io::ErrorKind::ConnectionRefused => TaskError::new(format!("connection refused to {addr}")),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            TaskError::new(format!("{stage} {addr}: timed out (--timeout-ms)"))
        }
        _ => TaskError::starting(&format!("{stage} {addr}"), err),
    }
}

impl From<HttpError> for TaskError {
    fn from(e: HttpError) -> TaskError {
        TaskError::new(e.to_string())
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

/// For the code that reports in `io::Error`s: the message, limit and all, as its text.
impl From<TaskError> for io::Error {
    fn from(e: TaskError) -> io::Error {
        io::Error::other(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exhausted_resource_names_the_limit() {
        let e = TaskError::starting("fork", &io::Error::from_raw_os_error(libc::EAGAIN));
        assert!(e.to_string().contains("ulimit -u"), "{e}");
        let e = TaskError::starting("connect", &io::Error::from_raw_os_error(libc::EMFILE));
        assert!(e.to_string().contains("RLIMIT_NOFILE"), "{e}");
    }
}
