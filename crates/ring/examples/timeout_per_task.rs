//! The variant `ring` does not use for sleeping tasks: one IORING_OP_TIMEOUT entry per task,
//! so that the kernel, not the loop's heap, keeps every deadline. It measures what that
//! costs, for the doc comment of `ring` to cite:
//!
//! `cargo run --release -p conclab-ring --example timeout_per_task -- 1000000`
//!
//! It prints the wall time from the first submission to the last completion of N timeouts
//! of 1 s, the process's own peak RSS, and the kernel memory the pending timeouts held: the
//! growth of the bytes in use in the kernel's slab caches (the active objects of
//! /proc/slabinfo, which only root may read; system-wide, so run it on a quiet machine).
//! That memory is outside the process's RSS: `ring`'s own report cannot show it.

use std::time::{Duration, Instant};

use io_uring::{opcode, types, IoUring};

fn main() -> std::io::Result<()> {
    let n: u32 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 1_000_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("Error: the argument is how many timeouts, a whole number above 0");
            std::process::exit(2);
        }
    };
    let mut ring = IoUring::new(4096)?;
    // The kernel copies the timespec when it takes the entry, so one serves every entry.
    let second = types::Timespec::from(Duration::from_secs(1));
    let slab_before = slab_bytes_in_use();
    let start = Instant::now();
    for id in 0..n {
        let timeout = opcode::Timeout::new(&second).build().user_data(u64::from(id));
        // SAFETY: the entry points only to `second`, which outlives every submission.
        while unsafe { ring.submission().push(&timeout) }.is_err() {
            ring.submit()?;
        }
    }
    ring.submit()?;
    let submitted = start.elapsed();
    let slab_pending = slab_bytes_in_use();
    let mut done = 0u32;
    while done < n {
        match ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
            Err(e) => return Err(e),
        }
        for completion in ring.completion() {
            assert_eq!(completion.result(), -libc::ETIME, "timeout {}", completion.user_data());
            done += 1;
        }
    }
    let wall = start.elapsed();
    let kernel = match (slab_before, slab_pending) {
        (Some(before), Some(pending)) => {
            let grown = pending.saturating_sub(before) as f64;
            format!(
                "the kernel's slab objects grew by {:.1} MiB while they were pending ({:.0} B per timeout)",
                grown / (1024.0 * 1024.0),
                grown / f64::from(n)
            )
        }
        _ => "the kernel's slab objects could not be read (/proc/slabinfo is root's)".into(),
    };
    println!(
        "{n} timeouts of 1 s, one entry each: submitted in {:.3} s, all completed at {:.4} s; \
         {kernel}, outside this process's peak RSS of {:.1} MiB",
        submitted.as_secs_f64(),
        wall.as_secs_f64(),
        workload::measure::rusage().max_rss_kib as f64 / 1024.0,
    );
    Ok(())
}

/// Bytes in use in every slab cache of the kernel: active objects × object size.
fn slab_bytes_in_use() -> Option<u64> {
    let slabinfo = std::fs::read_to_string("/proc/slabinfo").ok()?;
    let caches = slabinfo.lines().skip(2).filter_map(|line| {
        let fields: Vec<u64> =
            line.split_whitespace().skip(1).take(3).filter_map(|f| f.parse().ok()).collect();
        Some(fields.first()? * fields.get(2)?)
    });
    Some(caches.sum())
}
