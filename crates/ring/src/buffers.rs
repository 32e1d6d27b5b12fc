//! Provided buffers: a ring of buffer addresses the loop shares with the kernel. A RECV that
//! names the group takes the next buffer only when bytes arrive, and its completion says
//! which; the loop copies the bytes into the connection's exchange and puts the buffer back
//! at the ring's tail in the same turn. So a buffer is held only between a completion and its
//! handling, and the pool needs as many as arrive in one turn, not one per connection.
//!
//! The pool starts small and grows by [`STEP`] buffers each time the kernel finds none (a
//! RECV then fails with ENOBUFS, and is posted again): it ends as large as the most arrivals
//! one turn has seen, never larger than [`ENTRIES`].

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;

use crate::queues::Queues;

/// The buffer group the server's RECVs name.
pub const GROUP: u16 = 0;
/// Bytes in a buffer of the server's and the http client's pools. A request head or an
/// answer is a few hundred bytes; a longer one, or several pipelined, fill several buffers,
/// each a completion of its own.
pub const SIZE: usize = 2048;
/// Entries of the ring: the most buffers the pool grows to (4 MiB of them at [`SIZE`]).
const ENTRIES: u16 = 2048;
/// Buffers added at the start and each time the kernel found none left.
const STEP: u16 = 32;

pub struct ProvidedBuffers {
    /// The ring itself, page-aligned as the kernel wants it; entry 0's last field is the
    /// tail, which the loop moves and the kernel reads.
    ring: *mut BufRingEntry,
    /// The buffers, [`STEP`] to a chunk: buffer `id` is chunk `id / STEP`, at `id % STEP`.
    chunks: Vec<Box<[u8]>>,
    /// Bytes in each buffer.
    size: usize,
    /// The tail as the loop has written it, published to the kernel by [`Self::publish`].
    tail: u16,
}

fn ring_layout() -> Layout {
    let bytes = usize::from(ENTRIES) * size_of::<BufRingEntry>();
    Layout::from_size_align(bytes, 4096).expect("a page-aligned ring of 32 KiB")
}

impl ProvidedBuffers {
    /// A pool of [`STEP`] buffers of `size` bytes, registered with `queues` as group [`GROUP`].
    pub fn register(queues: &mut Queues, size: usize) -> io::Result<ProvidedBuffers> {
        // SAFETY: the layout's size is not zero.
        let ring = unsafe { alloc_zeroed(ring_layout()) }.cast::<BufRingEntry>();
        if ring.is_null() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        let mut buffers = ProvidedBuffers { ring, chunks: Vec::new(), size, tail: 0 };
        // SAFETY: the ring is page-aligned and ENTRIES long, and it and every buffer it will
        // name live in `buffers`, which the server drops only after its io_uring (`Server`'s
        // fields drop in order, the queues first).
        unsafe { queues.register_buffer_ring(ring, ENTRIES, GROUP)? };
        buffers.grow();
        Ok(buffers)
    }

    /// The kernel found no buffer: add [`STEP`] more, if the ring has room; false if not.
    pub fn grow(&mut self) -> bool {
        let made = self.chunks.len() * usize::from(STEP);
        if made >= usize::from(ENTRIES) {
            return false;
        }
        self.chunks.push(vec![0; usize::from(STEP) * self.size].into_boxed_slice());
        for id in made..made + usize::from(STEP) {
            self.give_back(id as u16);
        }
        true
    }

    /// Bytes in each buffer: what a RECV from this pool may ask for.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The `len` bytes the kernel put in buffer `id`.
    pub fn bytes(&self, id: u16, len: usize) -> &[u8] {
        let (chunk, at) = (usize::from(id / STEP), usize::from(id % STEP) * self.size);
        &self.chunks[chunk][at..at + len]
    }

    /// Buffer `id` is the kernel's to fill again.
    pub fn give_back(&mut self, id: u16) {
        let (chunk, at) = (usize::from(id / STEP), usize::from(id % STEP) * self.size);
        let addr = self.chunks[chunk][at..].as_ptr() as u64;
        let slot = usize::from(self.tail & (ENTRIES - 1));
        // SAFETY: `slot` < ENTRIES, inside the ring; the kernel reads only entries between
        // its head and the published tail, and this one is past the tail until `publish`.
        let entry = unsafe { &mut *self.ring.add(slot) };
        entry.set_addr(addr);
        entry.set_len(self.size as u32);
        entry.set_bid(id);
        self.tail = self.tail.wrapping_add(1);
        self.publish();
    }

    /// Show the kernel every entry up to the tail.
    fn publish(&self) {
        // SAFETY: the tail field is a u16 inside the ring's first entry, which lives as long
        // as `self`; the kernel reads it with an acquire load, so this release store makes
        // the entries written before it visible first.
        let tail = unsafe { &*BufRingEntry::tail(self.ring).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }
}

impl Drop for ProvidedBuffers {
    fn drop(&mut self) {
        // SAFETY: allocated in `register` with this layout, and the io_uring that read it is
        // gone (see there).
        unsafe { dealloc(self.ring.cast(), ring_layout()) };
    }
}
