//! disk on the completion loop: each task's read (or write) of its block is itself an
//! entry, IORING_OP_READ or WRITE on the file opened once — no thread blocks in `pread`, as
//! every readiness loop's must, since a file is never "not ready": this is where the
//! completion model does what no readiness loop can. At most `--workers` operations are in
//! flight (all N by default), each in a slot with its own aligned buffer; when one completes,
//! its slot takes the next task, so submissions go in batches as completions come back. The
//! file is registered with the ring (IOSQE_FIXED_FILE), which `examples/registered.rs`
//! measured to help; registered buffers (READ_FIXED) did not add to it, so the buffers are
//! plain memory, and results/disk records what it found.
//!
//! While an operation is in flight the kernel writes into (or reads from) its slot's buffer,
//! part of one heap allocation that is neither moved nor freed until the loop has seen every
//! completion.
//!
//! Under `strace -f -c`: `io_uring_enter`, and no `pread64`.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;

use io_uring::{opcode, squeue, types};
use workload::disk::{AlignedBuf, DataFile};
use workload::{Args, Width};

use crate::event_loop::{Cx, Part};
use crate::queues::{Completion, Op, Tag};

/// Hand new operations to the kernel as soon as this many wait, not once per turn of the
/// loop. A turn may take dozens of completions off the ring at once; submitting their
/// successors only at its end left the device's queue short for the whole turn, and fio's
/// io_uring, which submits in small batches, ahead.
const SUBMIT_BATCH: usize = 4;

/// The file, the slots, and the next task to start.
pub struct Disk {
    file: &'static DataFile,
    /// Every slot's buffer, one after another in one aligned allocation: a separate
    /// 4 KiB-aligned allocation per slot would cost glibc twice its size.
    bufs: AlignedBuf,
    slots: Vec<Slot>,
    next: u32,
    tasks: u32,
}

/// One operation's place: the task it is running, and since when.
struct Slot {
    id: u32,
    started: Instant,
}

impl Disk {
    /// How many operations may be in flight: `--workers`, or every task at once.
    fn depth(args: &Args) -> u32 {
        args.workers.unwrap_or(args.tasks).min(args.tasks)
    }

    /// The file registered with the ring, a slot per operation in flight, each with a buffer
    /// of `--bytes`, and every slot's first operation.
    pub fn start(cx: &mut Cx) -> io::Result<Disk> {
        let args = cx.tasks.args;
        let file = workload::disk::opened();
        cx.register_file(file.file.as_raw_fd())?;
        let depth = Disk::depth(&args);
        cx.tasks.set_width(Width { workers: 1, at_once: depth });
        let bufs = AlignedBuf::new(depth as usize * file.bytes as usize);
        let slots = (0..depth).map(|_| Slot { id: 0, started: Instant::now() }).collect();
        let mut disk = Disk { file, bufs, slots, next: 0, tasks: args.tasks };
        for slot in 0..depth as usize {
            disk.submit_next(slot, cx)?;
        }
        Ok(disk)
    }

    /// Put the next task, if one is left, in `slot`, and submit its operation.
    fn submit_next(&mut self, slot: usize, cx: &mut Cx) -> io::Result<()> {
        match self.next_into(slot) {
            // SAFETY: the entry points into the slot's part of `bufs`, which the part keeps,
            // unmoved, to the loop's end; the slot takes no other task until it completes.
            Some((op, entry)) => unsafe { cx.submit(Tag::new(op, slot), entry) },
            None => Ok(()),
        }
    }

    /// Slot `slot`'s buffer.
    fn buf(&mut self, slot: usize) -> &mut [u8] {
        let bytes = self.file.bytes as usize;
        &mut self.bufs[slot * bytes..(slot + 1) * bytes]
    }

    /// Put the next task in `slot`, and build its READ or WRITE; `None` once all have started.
    fn next_into(&mut self, slot: usize) -> Option<(Op, squeue::Entry)> {
        let id = self.next;
        if id == self.tasks {
            return None;
        }
        self.next += 1;
        let (file, offset) = (self.file, self.file.offset(id));
        let buf = self.buf(slot);
        file.prepare(id, buf);
        // The file is the ring's registered file 0 (`Queues::register_file`).
        let (fd, ptr, len) = (types::Fixed(0), buf.as_mut_ptr(), buf.len() as u32);
        self.slots[slot] = Slot { id, started: Instant::now() };
        Some(match file.write {
            true => (Op::Write, opcode::Write::new(fd, ptr, len).offset(offset).build()),
            false => (Op::Read, opcode::Read::new(fd, ptr, len).offset(offset).build()),
        })
    }
}

impl Part for Disk {
    /// Slot `slot`'s operation completed with `res` (bytes moved, or `-errno`): its task is
    /// done, and the slot takes the next task.
    fn on_complete(&mut self, done: Completion, cx: &mut Cx) -> io::Result<()> {
        let Completion { tag, res, .. } = done;
        let slot = tag.slot as usize;
        let Slot { id, started } = self.slots[slot];
        let done = if res < 0 { Err(io::Error::from_raw_os_error(-res)) } else { Ok(res as usize) };
        let result = self.file.value(id, done, self.buf(slot));
        cx.tasks.finish_started(id, result, started);
        self.submit_next(slot, cx)?;
        cx.submit_batch(SUBMIT_BATCH)
    }
}
