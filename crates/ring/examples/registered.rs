//! The variants `ring` does not use for disk reads: a registered file (IOSQE_FIXED_FILE, so
//! the kernel skips looking the descriptor up on each read) and registered buffers
//! (READ_FIXED, so it skips pinning the buffer's pages on each read). It measures what they
//! buy, for `ring`'s doc to cite; `make bench-disk` runs it and records the figures in
//! results/disk:
//!
//! `cargo run --release -p conclab-ring --example registered -- FILE [READS] [DEPTH] [ROUNDS]`
//!
//! FILE is a data file (`--workload disk` makes one). Each round runs the three variants one
//! after another, READS random 4 KiB O_DIRECT reads at DEPTH in flight each, so that the
//! machine's drift touches all three alike; it prints one JSON line per variant and round.

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

use io_uring::{opcode, squeue, types, IoUring};
use workload::disk::{splitmix64, AlignedBuf};

const BLOCK: usize = 4096;

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Plain,
    FixedFile,
    FixedFileAndBuffers,
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: u64| -> u64 {
        args.get(i).map_or(default, |a| {
            a.parse().unwrap_or_else(|_| {
                eprintln!("Error: usage: registered FILE [READS] [DEPTH] [ROUNDS], whole numbers");
                std::process::exit(2)
            })
        })
    };
    let Some(path) = args.first() else {
        eprintln!("Error: usage: registered FILE [READS] [DEPTH] [ROUNDS]");
        std::process::exit(2);
    };
    let (reads, depth, rounds) = (number(1, 200_000), number(2, 64) as usize, number(3, 3));
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_DIRECT).open(path)?;
    let blocks = file.metadata()?.len() / BLOCK as u64;
    let mut bufs = AlignedBuf::new(depth * BLOCK);
    for round in 0..rounds {
        for variant in [Variant::Plain, Variant::FixedFile, Variant::FixedFileAndBuffers] {
            let iops = run(variant, &file, blocks, &mut bufs, reads, depth)?;
            let name = ["plain", "fixed file", "fixed file and buffers"][variant as usize];
            println!("{{\"variant\":\"{name}\",\"round\":{round},\"reads\":{reads},\"depth\":{depth},\"iops\":{iops:.0}}}");
        }
    }
    Ok(())
}

/// `reads` reads at `depth` in flight, as `ring`'s disk loop does them: each completion's
/// slot takes the next read, submitted in batches of 4. The IOPS.
fn run(
    variant: Variant,
    file: &std::fs::File,
    blocks: u64,
    bufs: &mut AlignedBuf,
    reads: u64,
    depth: usize,
) -> std::io::Result<f64> {
    let mut ring = IoUring::new(1024)?;
    if variant != Variant::Plain {
        ring.submitter().register_files(&[file.as_raw_fd()])?;
    }
    if variant == Variant::FixedFileAndBuffers {
        let iov = libc::iovec { iov_base: bufs.as_mut_ptr().cast(), iov_len: bufs.len() };
        // SAFETY: the buffers outlive the ring, which is dropped at the end of this function.
        unsafe { ring.submitter().register_buffers(&[iov])? };
    }
    let base = bufs.as_mut_ptr();
    let entry = |n: u64, slot: usize| -> squeue::Entry {
        let offset = splitmix64(n) % blocks * BLOCK as u64;
        // SAFETY: slot < depth, so the pointer stays inside `bufs`.
        let ptr = unsafe { base.add(slot * BLOCK) };
        let e = match variant {
            Variant::Plain => opcode::Read::new(types::Fd(file.as_raw_fd()), ptr, BLOCK as u32)
                .offset(offset)
                .build(),
            Variant::FixedFile => {
                opcode::Read::new(types::Fixed(0), ptr, BLOCK as u32).offset(offset).build()
            }
            Variant::FixedFileAndBuffers => {
                opcode::ReadFixed::new(types::Fixed(0), ptr, BLOCK as u32, 0).offset(offset).build()
            }
        };
        e.user_data(slot as u64)
    };
    let start = Instant::now();
    let (mut next, mut done) = (0u64, 0u64);
    for slot in 0..depth.min(reads as usize) {
        // SAFETY: each entry points into its own slot of `bufs`, which outlives the ring.
        unsafe { ring.submission().push(&entry(next, slot)).expect("room for the first batch") };
        next += 1;
    }
    while done < reads {
        ring.submit_and_wait(1)?;
        let finished: Vec<(u64, i32)> =
            ring.completion().map(|c| (c.user_data(), c.result())).collect();
        for (slot, res) in finished {
            if res != BLOCK as i32 {
                return Err(std::io::Error::other(format!("a read returned {res}")));
            }
            done += 1;
            if next < reads {
                // SAFETY: as above; the slot's previous read has completed.
                unsafe {
                    ring.submission().push(&entry(next, slot as usize)).expect("a free entry")
                };
                next += 1;
                if ring.submission().len() >= 4 {
                    ring.submit()?;
                }
            }
        }
    }
    Ok(reads as f64 / start.elapsed().as_secs_f64())
}
