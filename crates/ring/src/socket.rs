//! A socket as an entry names it: a descriptor of the process, or a slot of the ring's
//! registered files (a direct descriptor, Linux 5.19), which only entries can name. With a
//! slot, the kernel skips the descriptor's lookup in the process's table, and its reference
//! count, on every operation. The server's accepted connections and the client's requests
//! both use it.

use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Socket {
    Fd(RawFd),
    Fixed(u32),
}

impl Socket {
    /// What an entry's file field holds: the descriptor, or the slot, which [`Self::flags`]
    /// marks as one.
    pub fn target(self) -> types::Fd {
        match self {
            Socket::Fd(fd) => types::Fd(fd),
            Socket::Fixed(index) => types::Fd(index as i32),
        }
    }

    /// The flag an entry naming this socket needs: FIXED_FILE for a slot.
    pub fn flags(self) -> squeue::Flags {
        match self {
            Socket::Fd(_) => squeue::Flags::empty(),
            Socket::Fixed(_) => squeue::Flags::FIXED_FILE,
        }
    }

    /// The CLOSE of the socket: of the descriptor, or the slot emptied.
    pub fn close(self) -> squeue::Entry {
        match self {
            Socket::Fd(fd) => opcode::Close::new(types::Fd(fd)).build(),
            Socket::Fixed(index) => opcode::Close::new(types::Fixed(index)).build(),
        }
    }
}

/// The most files the process may hold at once (RLIMIT_NOFILE's soft limit): the kernel's
/// bound on a ring's table of registered files too.
pub fn most_files() -> std::io::Result<u32> {
    let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)?;
    Ok(soft.min(u64::from(u32::MAX)) as u32)
}
