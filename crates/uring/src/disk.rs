//! The disk workload on tokio-uring: `File::read_exact_at` (or `write_all_at`) with an owned,
//! aligned buffer — the read itself is the ring entry, so no thread blocks in `pread`. At
//! most `--workers` operations are in flight (all N by default): a task takes a permit of a
//! semaphore, then one of as many block-sized slots of one aligned allocation (a separate
//! 4 KiB-aligned allocation per read would cost glibc twice its size), and submits.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio_task::Outcome;
use tokio_uring::buf::{IoBuf, IoBufMut};
use tokio_uring::fs::File;
use workload::disk::AlignedBuf;
use workload::Args;

/// The slots' memory: `--workers` blocks one after another, and which of them are free.
struct Slots {
    /// Owns the memory; read and written only through the `Block`s, by their raw pointers.
    _memory: AlignedBuf,
    base: *mut u8,
    bytes: usize,
    free: RefCell<Vec<usize>>,
}

/// One slot, owned by the ring while the operation is in flight; back to the free list when
/// dropped.
struct Block {
    slots: Rc<Slots>,
    slot: usize,
}

impl Block {
    fn take(slots: &Rc<Slots>) -> Block {
        let slot = slots.free.borrow_mut().pop().expect("a free slot for every permit");
        Block { slots: slots.clone(), slot }
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: slot `slot` is this block's alone until it is dropped, and lies inside the
        // allocation, which `slots` keeps alive.
        unsafe { std::slice::from_raw_parts_mut(self.stable_mut_ptr(), self.slots.bytes) }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        self.slots.free.borrow_mut().push(self.slot);
    }
}

// SAFETY: the pointer is into the allocation `Slots` owns, which does not move or go while a
// `Block` holds it; all its bytes are initialized (it starts zeroed).
unsafe impl IoBuf for Block {
    fn stable_ptr(&self) -> *const u8 {
        // SAFETY: `slot` < the slots' count, so the offset stays inside the allocation.
        unsafe { self.slots.base.add(self.slot * self.slots.bytes) }
    }
    fn bytes_init(&self) -> usize {
        self.slots.bytes
    }
    fn bytes_total(&self) -> usize {
        self.slots.bytes
    }
}

// SAFETY: as for `IoBuf`; every byte is always initialized, so there is nothing to record.
unsafe impl IoBufMut for Block {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.stable_ptr().cast_mut()
    }
    unsafe fn set_init(&mut self, _: usize) {}
}

/// The data file on this thread's ring, the permits for operations in flight, their slots.
struct Disk {
    file: File,
    permits: Semaphore,
    slots: Rc<Slots>,
}

thread_local! {
    static DISK: RefCell<Option<Rc<Disk>>> = const { RefCell::new(None) };
}

/// On the runtime's thread, before the tasks: the file opened by `task::prepare`, as a
/// tokio-uring `File`, and `--workers` permits.
pub fn open(args: &Args) -> std::io::Result<()> {
    let data = workload::disk::opened();
    let file = File::from_std(data.file.try_clone()?);
    let depth = args.workers.unwrap_or(args.tasks).min(args.tasks) as usize;
    let bytes = data.bytes as usize;
    let mut memory = AlignedBuf::new(depth * bytes);
    let base = memory.as_mut_ptr();
    let slots = Slots { _memory: memory, base, bytes, free: RefCell::new((0..depth).collect()) };
    let disk = Disk { file, permits: Semaphore::new(depth), slots: Rc::new(slots) };
    DISK.set(Some(Rc::new(disk)));
    Ok(())
}

/// After the tasks, still on the runtime: the file is closed through the ring.
pub fn close() {
    DISK.take();
}

/// Task `id`: wait for a permit, then read (or write) its block on the ring.
pub async fn one(_: &'static Args, id: u32) -> Outcome {
    let disk = DISK.with_borrow(|d| d.clone()).expect("disk::open before the tasks");
    let Disk { file: ring_file, permits, slots } = &*disk;
    let _permit = permits.acquire().await.expect("the semaphore is never closed");
    let file = workload::disk::opened();
    let mut buf = Block::take(slots);
    file.prepare(id, buf.bytes());
    let (offset, len) = (file.offset(id), slots.bytes);
    let started = Instant::now();
    let (done, buf) = match file.write {
        true => ring_file.write_all_at(buf, offset).await,
        false => ring_file.read_exact_at(buf, offset).await,
    };
    let mut buf = buf;
    let result = file.value(id, done.map(|()| len), buf.bytes());
    Outcome::now(result, Some(started))
}
