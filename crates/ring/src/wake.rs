//! How a pool's threads wake the ring's loop: an eventfd they write to after each result,
//! and a READ of it that the loop keeps posted, so that a wake-up is one more completion and
//! the loop waits for nothing but the ring. Used where the loop hands work to threads: tasks
//! run with `--offload`, and the hashing route of a server.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

use io_uring::{opcode, squeue, types};

use crate::queues::{Op, Tag};

pub struct Wake {
    eventfd: Arc<OwnedFd>,
    /// Where the READ puts the count: the kernel's while the read is in flight, so boxed and
    /// kept as long as the loop runs.
    count: Box<u64>,
}

impl Wake {
    pub fn new() -> io::Result<Wake> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new descriptor that
        // nothing else owns.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created above and is owned by nothing else.
        let eventfd = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        Ok(Wake { eventfd, count: Box::new(0) })
    }

    /// What a thread calls after each result: a write of 1 to the eventfd.
    pub fn notifier(&self) -> impl Fn() + Send + Sync + 'static {
        let eventfd = self.eventfd.clone();
        move || {
            let _ = nix::unistd::write(&*eventfd, &1u64.to_ne_bytes());
        }
    }

    /// The tag of its READ.
    pub const TAG: Tag = Tag { op: Op::Wake, slot: 0 };

    /// The READ to post: it completes when a thread has written. It points into `self`,
    /// which must outlive its completion.
    pub fn read(&mut self) -> squeue::Entry {
        let fd = types::Fd(self.eventfd.as_raw_fd());
        let count = std::ptr::from_mut(self.count.as_mut()).cast::<u8>();
        opcode::Read::new(fd, count, 8).build()
    }
}
