//! SIGINT and SIGTERM, as something every model can wait on: a flag to test between
//! requests, and a descriptor that turns readable, which the blocking models `poll` beside
//! their socket and the loops register with epoll or the ring.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use signal_hook::consts::{SIGINT, SIGTERM};

/// A stop asked for by a signal.
pub struct Stop {
    flag: Arc<AtomicBool>,
    /// One byte arrives here per signal, and is never read: once a stop is asked, the
    /// descriptor stays readable for every thread and forked worker that polls it.
    pipe: UnixStream,
}

/// What a blocking wait ended with.
#[derive(Debug, PartialEq, Eq)]
pub enum Woken {
    Ready,
    Stop,
    TimedOut,
}

impl Stop {
    /// Catch SIGINT and SIGTERM from now on. Forked children inherit both the handlers and
    /// the descriptor, so a prefork worker sees the same stop as its parent.
    pub fn on_signals() -> io::Result<Stop> {
        let (pipe, write) = UnixStream::pair()?;
        write.set_nonblocking(true)?;
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM] {
            signal_hook::flag::register(signal, flag.clone())?;
            signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
        }
        Ok(Stop { flag, pipe })
    }

    /// Has a stop been asked for? A load and no system call: cheap enough for every request.
    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Block until `fd` is ready to read (or, with `write`, to write), a stop is asked, or
    /// `deadline` passes: the one way the blocking models wait on a socket.
    pub fn wait(&self, fd: BorrowedFd<'_>, write: bool, deadline: Option<Instant>) -> Woken {
        let events = if write { libc::POLLOUT } else { libc::POLLIN };
        loop {
            if self.requested() {
                return Woken::Stop;
            }
            let timeout_ms = match deadline {
                None => -1,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    None => return Woken::TimedOut,
                    // Round up: poll takes whole milliseconds, and waking early would spin.
                    Some(left) => left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32,
                },
            };
            let mut fds = [
                libc::pollfd { fd: fd.as_raw_fd(), events, revents: 0 },
                libc::pollfd { fd: self.pipe.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            ];
            // SAFETY: `fds` is a valid array of two pollfd for the duration of the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
            if n > 0 && fds[0].revents != 0 {
                // Readable, writable, or an error/hang-up the next read or write reports.
                return Woken::Ready;
            }
            if n > 0 && fds[1].revents != 0 {
                // A forked child's own flag is not set by a signal sent to its parent alone.
                self.flag.store(true, Ordering::Relaxed);
            }
            // A signal (EINTR), the stop pipe, or the timeout: the top of the loop decides.
        }
    }
}

impl AsFd for Stop {
    /// Readable once a stop has been asked for.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pipe.as_fd()
    }
}
