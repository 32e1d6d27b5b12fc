//! The listening socket, and what to do when `accept` finds no descriptor left.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, BorrowedFd};

use socket2::{Domain, Socket, Type};

use super::tally::Counters;
use crate::error::TaskError;

/// The accept queue's length: a C10K burst must not be dropped by the kernel before the
/// model sees it. The kernel caps it at net.core.somaxconn (4096 on this machine kind).
const BACKLOG: i32 = 65_535;

/// Listen on `addr` (SO_REUSEADDR, so a restarted server can bind at once), and print
/// `listening on ADDR` with the port the kernel chose when `addr`'s was 0.
pub fn listen(addr: SocketAddr) -> Result<TcpListener, TaskError> {
    let listener = bind(addr, false).map_err(|e| bind_error(addr, &e))?;
    announce(&listener)?;
    Ok(listener)
}

/// `count` listening sockets on `addr`, each with its own accept queue: bound with
/// SO_REUSEPORT, they share the port, and the kernel deals each new connection to one of them
/// by a hash of its addresses. A thread-per-core server gives each core one, so that no two
/// cores ever take the same lock to accept. `listening on ADDR` is printed once.
pub fn listen_each(addr: SocketAddr, count: u32) -> Result<Vec<TcpListener>, TaskError> {
    let first = bind(addr, true).map_err(|e| bind_error(addr, &e))?;
    let bound = announce(&first)?;
    let mut listeners = vec![first];
    for _ in 1..count {
        listeners.push(bind(bound, true).map_err(|e| bind_error(bound, &e))?);
    }
    Ok(listeners)
}

fn bind(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(reuse_port)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Say where `listener` listens, port and all, and keep it for the report.
fn announce(listener: &TcpListener) -> Result<SocketAddr, TaskError> {
    let local = listener.local_addr().map_err(|e| TaskError::starting("getsockname", &e))?;
    println!("listening on {local}");
    let _ = super::tally::BOUND.set(local);
    Ok(local)
}

/// Why `bind` refused `addr`, with what to do about it: a bind fails for other reasons than
/// a connect does, and EADDRNOTAVAIL means something else here.
pub fn bind_error(addr: SocketAddr, e: &io::Error) -> TaskError {
    let advice = match e.raw_os_error() {
        Some(libc::EADDRNOTAVAIL) => {
            format!("{} is not an address of this machine (`ip -brief address` lists them; 127.0.0.1 or 0.0.0.0 always are)", addr.ip())
        }
        Some(libc::EACCES) => format!(
            "port {} is below 1024, which only root or a program with CAP_NET_BIND_SERVICE may take (net.ipv4.ip_unprivileged_port_start); pick a port from 1024 up",
            addr.port()
        ),
        Some(libc::EADDRINUSE) => format!(
            "another program listens on port {} (`ss -ltnp` names it): stop it, or pick another port (0: any free one)",
            addr.port()
        ),
        _ => return TaskError::starting(&format!("listen on {addr}"), e),
    };
    TaskError::new(format!("cannot listen on {addr}: {e} — {advice}"))
}

/// Is this `accept` error the machine running out of descriptors?
pub fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// A descriptor held in reserve. When `accept` fails with EMFILE the connection stays in the
/// accept queue, and a level-triggered loop would spin on it; instead the server frees the
/// spare, accepts the connection, closes it (the client sees it refused), and takes the
/// spare back. The connections it has keep being served.
pub struct Spare(Option<File>);

impl Spare {
    pub fn new() -> io::Result<Spare> {
        Ok(Spare(Some(File::open("/dev/null")?)))
    }

    /// Refuse one connection that `accept` on `listener` could not take for `err`; false if
    /// there was none to take after all (stop accepting until the next readiness).
    pub fn refuse(
        &mut self,
        err: &io::Error,
        counters: &Counters,
        listener: BorrowedFd<'_>,
    ) -> bool {
        self.0 = None;
        // The listener may be a blocking socket (the ring models leave it so): accept only
        // what poll says is there, so that refusing can never block the loop.
        let mut pollfd =
            libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: poll reads and writes the one pollfd, which outlives the call; accept4 with
        // null address pointers writes nothing of ours, and a descriptor it returns is ours
        // alone, closed at once.
        let took = unsafe {
            libc::poll(&mut pollfd, 1, 0) == 1 && {
                let fd = libc::accept4(
                    listener.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_CLOEXEC,
                );
                fd >= 0 && libc::close(fd) == 0
            }
        };
        self.0 = File::open("/dev/null").ok();
        if took {
            counters.refused(&TaskError::starting("accept", err));
        }
        took
    }
}
