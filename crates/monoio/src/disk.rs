//! The disk workload through `monoio::fs`: `File::read_exact_at` (or `write_all_at`) with an
//! owned, aligned block — the read is the io_uring entry, so no thread blocks in `pread`.
//! `--workers W` caps the operations in flight, shared out among the cores (W mod R of them
//! take one more); each core holds its share of permits and of block slots
//! (`workload::disk::Slots`), as `uring` holds all of them on its one thread.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::fs::File;
use tokio::sync::Semaphore;
use tokio_task::Outcome;
use workload::disk::{Block, Slots};
use workload::Args;

use crate::cores::Core;

/// A slot, as monoio takes a buffer.
struct RingBlock(Block);

// SAFETY: the pointer is into the allocation `Slots` owns, which does not move or go while a
// `Block` holds it; all its bytes are initialized (it starts zeroed).
unsafe impl IoBuf for RingBlock {
    fn read_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.0.len()
    }
}

// SAFETY: as for `IoBuf`; every byte is always initialized, so there is nothing to record.
unsafe impl IoBufMut for RingBlock {
    fn write_ptr(&mut self) -> *mut u8 {
        self.0.as_ptr()
    }
    fn bytes_total(&mut self) -> usize {
        self.0.len()
    }
    unsafe fn set_init(&mut self, _: usize) {}
}

/// The data file on this core's ring, the permits for its operations in flight, its slots.
struct Disk {
    file: File,
    permits: Semaphore,
    slots: Rc<Slots>,
}

thread_local! {
    static DISK: RefCell<Option<Rc<Disk>>> = const { RefCell::new(None) };
}

/// On the core's thread, before its tasks: the file `task::prepare` opened, on this core's
/// ring, and the core's share of `--workers` (all its tasks by default).
pub fn open(args: &Args, core: Core) {
    let data = workload::disk::opened();
    let file = data.file.try_clone().and_then(File::from_std);
    let depth = match args.workers {
        Some(w) => w / core.of + u32::from(core.index < w % core.of),
        None => core.ids(args.tasks).count() as u32,
    };
    let depth = depth.max(1) as usize;
    let slots = Slots::new(depth, data.bytes as usize);
    // A file that cannot be cloned leaves no disk: each task says so.
    let disk = file.ok().map(|file| Rc::new(Disk { file, permits: Semaphore::new(depth), slots }));
    DISK.set(disk);
}

/// After the core's tasks, still on its runtime.
pub fn close() {
    DISK.take();
}

/// Task `id`: wait for a permit, then read (or write) its block on the ring.
pub async fn one(_: &'static Args, id: u32) -> Outcome {
    let Some(disk) = DISK.with_borrow(|d| d.clone()) else {
        let lost = workload::TaskError::new("the data file could not be opened on this core");
        return Outcome::now(Err(lost), None);
    };
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
