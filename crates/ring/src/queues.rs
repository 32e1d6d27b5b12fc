//! The io_uring and its two queues: entries go to the kernel in batches, the loop waits in
//! `io_uring_enter` with a timeout, and completions come back — including those that
//! overflowed the completion queue, which the kernel keeps until it is entered again.
//!
//! What an operation is for is its [`Tag`], packed into the entry's user_data and handed
//! back with its completion: one encoding for the task loop and the server alike. Nothing
//! here reads it; the part that submitted the entry does.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use io_uring::{squeue, types, IoUring};
use workload::TaskError;

/// The operation an entry is; with the [`Tag`]'s slot, all a completion needs to find its
/// way back to what it finishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::FromRepr, strum::EnumIter)]
#[repr(u8)]
pub enum Op {
    // A connection's chain: its socket made, connected, written, read, closed.
    Socket = 1,
    Connect,
    Send,
    Recv,
    Close,
    /// An ASYNC_CANCEL of another operation (past its deadline, or at the stop).
    Cancel,
    // A file's or a pipe's.
    Read,
    Write,
    // A server's listening socket: the multishot ACCEPT, and the POLL_ADD posted in its place
    // when descriptors ran out (ACCEPT fails with EMFILE at once even when no client waits).
    Accept,
    Listen,
    /// The READ of the eventfd that a pool's threads write to after each result.
    Wake,
    /// The READ of the descriptor SIGINT and SIGTERM arrive on.
    Stop,
}

/// What an entry is for: its operation, and the slot of whoever submitted it — a task's id,
/// a connection's slot, a buffer's — for that part to look up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    pub op: Op,
    pub slot: u32,
}

impl Tag {
    pub fn new(op: Op, slot: impl TryInto<u32>) -> Tag {
        // A slot is a task id or a slab key, bounded by tasks or descriptors.
        let slot = slot.try_into().unwrap_or_else(|_| unreachable!("a slot fits in 32 bits"));
        Tag { op, slot }
    }

    /// The tag as the entry's user_data: the slot above the operation's byte.
    pub fn user_data(self) -> u64 {
        (u64::from(self.slot) << 8) | self.op as u64
    }

    /// `entry`, carrying this tag back with its completion.
    pub fn on(self, entry: squeue::Entry) -> squeue::Entry {
        entry.user_data(self.user_data())
    }

    /// An ASYNC_CANCEL of the operation in flight tagged `self`; it points to nothing.
    pub fn cancel(self) -> squeue::Entry {
        io_uring::opcode::AsyncCancel::new(self.user_data()).build()
    }

    /// The tag a completion's user_data carries.
    pub fn of(user_data: u64) -> Tag {
        let op = Op::from_repr(user_data as u8).expect("every entry is tagged");
        Tag { op, slot: (user_data >> 8) as u32 }
    }
}

/// Submission queue entries: the loop submits in batches of at most this many. The kernel
/// gives the completion queue twice as many; more completions than that wait in the
/// kernel's overflow list until the loop has room for them.
const ENTRIES: u32 = 1024;

/// One completion, as the loop reads it.
#[derive(Clone, Copy, Debug)]
pub struct Completion {
    /// What the entry was for.
    pub tag: Tag,
    /// A count, or `-errno`.
    pub res: i32,
    /// The operation stays in flight and will complete again (a multishot ACCEPT or RECV).
    pub more: bool,
    /// The provided buffer the kernel put a RECV's bytes in, when it picked one.
    pub buffer: Option<u16>,
}

/// The ring, the completions taken off it and not yet handled, and how many operations the
/// kernel still holds.
pub struct Queues {
    ring: IoUring,
    completions: VecDeque<(u64, i32, u32)>,
    /// Operations submitted and not yet completed: the loop ends only when none is left, so
    /// no completion is lost and no buffer is freed while the kernel may write to it.
    pub in_flight: u32,
}

/// An io_uring, or why there is none, with what to change.
pub fn open() -> Result<Queues, TaskError> {
    // One thread submits, and completions' kernel-side work runs only when it enters the
    // ring for completions, flagged in the ring when there is some (Linux 6.1+): fewer
    // interruptions, less system time. On older kernels, a plain ring.
    let ring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_taskrun_flag()
        .build(ENTRIES)
        .or_else(|_| IoUring::builder().build(ENTRIES))
        .map_err(|e| TaskError::no_io_uring(&e))?;
    let params = ring.params();
    if !(params.is_feature_nodrop() && params.is_feature_ext_arg()) {
        return Err(TaskError {
            message: "this kernel's io_uring lacks IORING_FEAT_NODROP or IORING_FEAT_EXT_ARG"
                .into(),
            limit: Some("Linux 5.11 or later".into()),
        });
    }
    Ok(Queues { ring, completions: VecDeque::new(), in_flight: 0 })
}

impl Queues {
    /// Queue `entry`; a full submission queue is submitted first, and the loop goes on.
    ///
    /// # Safety
    ///
    /// Every buffer, address and descriptor `entry` points to must stay valid until its
    /// completion has come back from [`Queues::next_completion`].
    pub unsafe fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        // SAFETY: the caller keeps what the entry points to alive until it completes.
        while unsafe { self.ring.submission().push(entry) }.is_err() {
            self.submit()?;
        }
        self.in_flight += 1;
        Ok(())
    }

    /// Queue `entries` as one chain, each linked to the next. A chain must reach the kernel
    /// in one submission (the kernel ends a chain at the end of each), so the queue is
    /// submitted first unless it has room for all of it.
    ///
    /// # Safety
    ///
    /// As for [`Queues::push`], for every entry.
    pub unsafe fn push_linked(
        &mut self,
        entries: impl ExactSizeIterator<Item = squeue::Entry>,
    ) -> io::Result<()> {
        let n = entries.len();
        let room = |ring: &mut IoUring| {
            let queue = ring.submission();
            queue.capacity() - queue.len()
        };
        while room(&mut self.ring) < n {
            self.submit()?;
        }
        for (i, entry) in entries.enumerate() {
            let entry = if i + 1 < n { entry.flags(squeue::Flags::IO_LINK) } else { entry };
            // SAFETY: the caller keeps what the entry points to alive until it completes;
            // the queue has room, so the chain is not split.
            unsafe { self.push(&entry)? };
        }
        Ok(())
    }

    /// Register `fd` as the ring's file 0: an entry that names `types::Fixed(0)` spares the
    /// kernel the descriptor's lookup and reference count on every operation.
    pub fn register_file(&mut self, fd: std::os::fd::RawFd) -> io::Result<()> {
        self.ring.submitter().register_files(&[fd])
    }

    /// A table of `slots` registered files, all empty, for an ACCEPT to put each new socket
    /// in (a direct descriptor: the kernel's alone, never in the process's table).
    pub fn register_empty_files(&mut self, slots: u32) -> io::Result<()> {
        self.ring.submitter().register_files_sparse(slots)
    }

    /// Register the ring of `entries` provided buffers at `ring` as buffer group `group`.
    ///
    /// # Safety
    ///
    /// `ring` must be page-aligned, hold `entries` entries, and stay valid, with every buffer
    /// it names, for as long as this io_uring lives.
    pub unsafe fn register_buffer_ring(
        &mut self,
        ring: *const io_uring::types::BufRingEntry,
        entries: u16,
        group: u16,
    ) -> io::Result<()> {
        // SAFETY: the caller keeps the ring and its buffers valid while the io_uring lives.
        unsafe {
            self.ring.submitter().register_buf_ring_with_flags(ring as u64, entries, group, 0)
        }
    }

    /// Hand the queued entries to the kernel when `batch` or more wait.
    pub fn submit_batch(&mut self, batch: usize) -> io::Result<()> {
        if self.ring.submission().len() >= batch {
            self.submit()?;
        }
        Ok(())
    }

    /// Hand the queued entries to the kernel, taking completions off first if it is busy.
    fn submit(&mut self) -> io::Result<()> {
        loop {
            match self.ring.submit() {
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => self.reap()?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Submit what is queued and wait in `io_uring_enter` for a completion, but no longer
    /// than `at_most` (`None`: until one comes): the one timeout of the loop, to the
    /// nanosecond. Then take what completed off the ring.
    pub fn submit_and_wait(&mut self, at_most: Option<Duration>) -> io::Result<()> {
        let entered = match at_most {
            Some(Duration::ZERO) => self.ring.submit(),
            Some(left) => {
                let timeout = types::Timespec::from(left);
                let args = types::SubmitArgs::new().timespec(&timeout);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None if self.in_flight > 0 => self.ring.submit_and_wait(1),
            None => return Ok(()), // nothing in flight and no timer: nothing to wait for
        };
        match entered {
            // ETIME: the nearest timer is due; EINTR: a signal; EBUSY: the completion queue
            // is full. Each is a reason to look at the completions and timers again.
            Ok(_) => self.reap(),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => {
                self.reap()
            }
            Err(e) => Err(e),
        }
    }

    /// Take every completion off the ring, and have the kernel flush any that overflowed
    /// the completion queue into it; a completion the kernel dropped is an error, not a hang.
    fn reap(&mut self) -> io::Result<()> {
        loop {
            let completions = self.ring.completion();
            if completions.overflow() > 0 {
                let lost = completions.overflow();
                return Err(io::Error::other(format!("{lost} completions were lost")));
            }
            self.completions.extend(completions.map(|c| (c.user_data(), c.result(), c.flags())));
            if !self.ring.submission().cq_overflow() {
                return Ok(());
            }
            // Completions wait in the kernel's overflow list: entering the ring flushes them.
            self.ring.submit()?;
        }
    }

    /// The next completion taken off the ring.
    pub fn next_completion(&mut self) -> Option<Completion> {
        let (user_data, res, flags) = self.completions.pop_front()?;
        let more = io_uring::cqueue::more(flags);
        if !more {
            self.in_flight -= 1;
        }
        let buffer = io_uring::cqueue::buffer_select(flags);
        Some(Completion { tag: Tag::of(user_data), res, more, buffer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn every_op_and_slot_survive_their_tag() {
        for op in Op::iter() {
            for slot in [0, 1, 4095, u32::MAX] {
                let entry = Tag::new(op, slot).on(io_uring::opcode::Nop::new().build());
                assert_eq!(Tag::of(entry.get_user_data()), Tag { op, slot });
            }
        }
    }
}
