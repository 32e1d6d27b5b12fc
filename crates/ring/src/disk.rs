//! The disk workload on the ring: each task's read (or write) of its block is itself a ring
//! entry, IORING_OP_READ or WRITE on the file opened once — no thread blocks in `pread`, as
//! every readiness loop's must, since a file is never "not ready". At most `--workers`
//! operations are in flight (all N by default), each in a slot with its own aligned buffer;
//! when one completes, its slot takes the next task. The file is registered with the ring
//! (IOSQE_FIXED_FILE), which `examples/registered.rs` measured to help; registered buffers
//! (READ_FIXED) did not add to it, so the buffers are plain memory.
//!
//! While an operation is in flight the kernel writes into (or reads from) its slot's buffer,
//! part of one heap allocation that is neither moved nor freed until the loop has seen every
//! completion.

use std::io;
use std::time::Instant;

use io_uring::{opcode, squeue, types};
use workload::disk::{AlignedBuf, DataFile};
use workload::{Args, TaskError};

use crate::connection::Op;

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

/// A finished task: its id, its result, and when its operation was submitted.
pub type Finished = (u32, Result<u64, TaskError>, Instant);

impl Disk {
    /// How many operations may be in flight: `--workers`, or every task at once.
    pub fn depth(args: &Args) -> u32 {
        args.workers.unwrap_or(args.tasks).min(args.tasks)
    }

    /// A slot per operation in flight, each with a buffer of `--bytes`.
    pub fn new(args: &Args) -> Disk {
        let file = workload::disk::opened();
        let depth = Disk::depth(args) as usize;
        let bufs = AlignedBuf::new(depth * file.bytes as usize);
        let slots = (0..depth).map(|_| Slot { id: 0, started: Instant::now() }).collect();
        Disk { file, bufs, slots, next: 0, tasks: args.tasks }
    }

    /// The first operation of every slot.
    pub fn start(&mut self) -> Vec<squeue::Entry> {
        (0..self.slots.len()).filter_map(|slot| self.next_into(slot)).collect()
    }

    /// Slot `slot`'s operation completed with `res` (bytes moved, or `-errno`): its task's
    /// result, and the next task's operation in the same slot, if a task is left.
    pub fn on_complete(&mut self, slot: usize, res: i32) -> (Finished, Option<squeue::Entry>) {
        let Slot { id, started } = self.slots[slot];
        let done = if res < 0 { Err(io::Error::from_raw_os_error(-res)) } else { Ok(res as usize) };
        let finished = (id, self.file.value(id, done, self.buf(slot)), started);
        (finished, self.next_into(slot))
    }

    /// Slot `slot`'s buffer.
    fn buf(&mut self, slot: usize) -> &mut [u8] {
        let bytes = self.file.bytes as usize;
        &mut self.bufs[slot * bytes..(slot + 1) * bytes]
    }

    /// Put the next task in `slot`, and build its READ or WRITE; `None` once all have started.
    fn next_into(&mut self, slot: usize) -> Option<squeue::Entry> {
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
        let entry = match file.write {
            true => opcode::Write::new(fd, ptr, len).offset(offset).build(),
            false => opcode::Read::new(fd, ptr, len).offset(offset).build(),
        };
        Some(entry.user_data(Op::Disk.user_data(slot as u32)))
    }
}
