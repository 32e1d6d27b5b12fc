//! The disk workload on tokio-uring: `File::read_exact_at` (or `write_all_at`) with an owned,
//! aligned buffer — the read itself is the ring entry, so no thread blocks in `pread`. At
//! most `--workers` operations are in flight (all N by default): a task takes a permit of a
//! semaphore, then one of as many block-sized slots (`workload::disk::Slots`), and submits.
//!
//! Under `strace -f -c`: `io_uring_enter`, and no `pread64`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio_task::Outcome;
use tokio_uring::buf::{IoBuf, IoBufMut};
use tokio_uring::fs::File;
use workload::disk::{Block, Slots};
use workload::Args;

/// A slot, as tokio-uring takes a buffer.
struct RingBlock(Block);

// SAFETY: the pointer is into the allocation `Slots` owns, which does not move or go while a
// `Block` holds it; all its bytes are initialized (it starts zeroed).
unsafe impl IoBuf for RingBlock {
    fn stable_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.0.len()
    }
    fn bytes_total(&self) -> usize {
        self.0.len()
    }
}

// SAFETY: as for `IoBuf`; every byte is always initialized, so there is nothing to record.
unsafe impl IoBufMut for RingBlock {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.0.as_ptr()
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
    let slots = Slots::new(depth, data.bytes as usize);
    DISK.set(Some(Rc::new(Disk { file, permits: Semaphore::new(depth), slots })));
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
    let mut buf = RingBlock(Block::take(slots));
    file.prepare(id, buf.0.bytes());
    let (offset, len) = (file.offset(id), buf.0.len());
    let started = Instant::now();
    let (done, mut buf) = match file.write {
        true => ring_file.write_all_at(buf, offset).await,
        false => ring_file.read_exact_at(buf, offset).await,
    };
    let result = file.value(id, done.map(|()| len), buf.0.bytes());
    Outcome::now(result, Some(started))
}
