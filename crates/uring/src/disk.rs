//! The disk workload on tokio-uring: `File::read_exact_at` (or `write_all_at`) with an owned,
//! aligned buffer — the read itself is the ring entry, so no thread blocks in `pread`. At
//! most `--workers` operations are in flight (all N by default): a task takes a permit of a
//! semaphore before it allocates its buffer and submits.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio_task::Outcome;
use tokio_uring::buf::{IoBuf, IoBufMut};
use tokio_uring::fs::File;
use workload::disk::AlignedBuf;
use workload::{Args, Runner};

/// O_DIRECT's aligned buffer, owned by the ring while the operation is in flight.
struct Block(AlignedBuf);

// SAFETY: the pointer is the heap allocation's, which does not move while the ring owns the
// `Block`; all `len` bytes are initialized (the buffer starts zeroed).
unsafe impl IoBuf for Block {
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
unsafe impl IoBufMut for Block {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.0.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _: usize) {}
}

thread_local! {
    /// The data file on this thread's ring, and the permits for operations in flight.
    static DISK: RefCell<Option<Rc<(File, Semaphore)>>> = const { RefCell::new(None) };
}

/// On the runtime's thread, before the tasks: the file opened by `task::prepare`, as a
/// tokio-uring `File`, and `--workers` permits.
pub fn open(args: &Args) -> std::io::Result<()> {
    let file = File::from_std(workload::disk::opened().file.try_clone()?);
    let depth = args.workers.unwrap_or(args.tasks) as usize;
    DISK.set(Some(Rc::new((file, Semaphore::new(depth)))));
    Ok(())
}

/// After the tasks, still on the runtime: the file is closed through the ring.
pub fn close() {
    DISK.take();
}

/// Task `id`: wait for a permit, then read (or write) its block on the ring.
pub async fn one(_: &'static Args, id: u32) -> Outcome {
    let disk = DISK.with_borrow(|d| d.clone()).expect("disk::open before the tasks");
    let (ring_file, permits) = &*disk;
    let _permit = permits.acquire().await.expect("the semaphore is never closed");
    let file = workload::disk::opened();
    let mut buf = Block(file.buffer());
    file.prepare(id, &mut buf.0);
    let (offset, len) = (file.offset(id), buf.0.len());
    let started = Instant::now();
    let (done, buf) = match file.write {
        true => ring_file.write_all_at(buf, offset).await,
        false => ring_file.read_exact_at(buf, offset).await,
    };
    let result = file.value(id, done.map(|()| len), &buf.0);
    (result, Some(started), Instant::now(), Runner::cached())
}
