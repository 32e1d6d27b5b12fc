//! The article's multiprocessing toolkit, in Rust: fork and wait, a pipe as the queue, a
//! lock shared between processes, and a pre-forked pool with `submit` and `map`
//! (ProcessPoolExecutor).
//!
//! `cargo run -p conclab-procs --example process_executor`

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::pipe;
use process_pool::{read_record, start_child, write_record, ProcessPool};
use workload::measure::wait4;

/// `Process(target=…).start()` then `.join()`: three children sleep at once; the parent
/// reaps each with `wait4`. Returns the children's pids and how long it all took.
fn fork_and_wait(children: u32, sleep: Duration) -> io::Result<(Vec<i32>, Duration)> {
    let started = Instant::now();
    let pids = (0..children)
        .map(|_| {
            start_child(|| {
                std::thread::sleep(sleep);
                Ok(())
            })
        })
        .collect::<io::Result<Vec<_>>>()?;
    for pid in &pids {
        wait4(pid.as_raw())?;
    }
    Ok((pids.iter().map(|p| p.as_raw()).collect(), started.elapsed()))
}

/// `multiprocessing.Queue`: the parent writes numbers into a pipe, a child reads them until
/// the pipe closes and sends back their sum on a second pipe.
fn sum_through_a_pipe(numbers: &[u32]) -> io::Result<u64> {
    let (queue_rx, queue_tx) = pipe()?;
    let (answer_rx, answer_tx) = pipe()?;
    let epoch = Instant::now();
    let child = start_child(|| {
        // The child's copy of the write end must close, or its own reads never see the end.
        nix::unistd::close(queue_tx.as_raw_fd())?;
        let (mut queue, mut sum, mut n) = (File::from(queue_rx.try_clone()?), 0u64, [0u8; 4]);
        while queue.read_exact(&mut n).is_ok() {
            sum += u64::from(u32::from_ne_bytes(n));
        }
        write_record(&answer_tx, 0, epoch, Ok(sum), epoch)
    })?;
    drop(queue_rx);
    drop(answer_tx);
    let mut queue = File::from(queue_tx);
    numbers.iter().try_for_each(|n| queue.write_all(&n.to_ne_bytes()))?;
    drop(queue); // end-of-file: the child stops reading
    let answer = read_record(&mut BufReader::new(File::from(answer_rx)), epoch)?;
    wait4(child.as_raw())?;
    Ok(answer.and_then(|done| done.result.ok()).unwrap_or(0))
}

/// `multiprocessing.Lock`: processes share no memory, so the counter lives in a file and
/// the lock is `flock` on it. Each child reads, adds one and writes back, `rounds` times.
fn locked_counter_in_a_file(children: u32, rounds: u32) -> io::Result<u64> {
    let path = std::env::temp_dir().join(format!("conclab-counter-{}", std::process::id()));
    std::fs::write(&path, 0u64.to_ne_bytes())?;
    let pids = (0..children)
        .map(|_| {
            start_child(|| {
                for _ in 0..rounds {
                    let file = OpenOptions::new().read(true).write(true).open(&path)?;
                    let mut locked =
                        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| e)?;
                    let mut bytes = [0u8; 8];
                    locked.read_exact(&mut bytes)?;
                    locked.seek(SeekFrom::Start(0))?;
                    locked.write_all(&(u64::from_ne_bytes(bytes) + 1).to_ne_bytes())?;
                } // the lock is released when `locked` is dropped
                Ok(())
            })
        })
        .collect::<io::Result<Vec<_>>>()?;
    for pid in pids {
        wait4(pid.as_raw())?;
    }
    let total = u64::from_ne_bytes(std::fs::read(&path)?.try_into().expect("8 bytes"));
    std::fs::remove_file(&path)?;
    Ok(total)
}

/// `ProcessPoolExecutor(2).map(f, range(6))`, with f = square, each job taking longer than
/// the next so that they finish out of order. Returns the results and the workers' pids.
fn pool_map(jobs: u32) -> io::Result<(Vec<u64>, Vec<u32>)> {
    let square = move |i: u32| {
        std::thread::sleep(Duration::from_millis(20 * u64::from(jobs - i)));
        Ok(u64::from(i * i))
    };
    let mut pool = ProcessPool::start(2, Instant::now(), square).map_err(|e| e.error)?;
    let done = pool.map(0..jobs)?;
    pool.shutdown()?;
    let values = done.iter().map(|d| d.result.as_ref().copied().unwrap_or(u64::MAX)).collect();
    let mut pids: Vec<u32> = done.iter().map(|d| d.runner.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    Ok((values, pids))
}

fn main() -> io::Result<()> {
    let (pids, took) = fork_and_wait(3, Duration::from_millis(200))?;
    println!("3 children {pids:?} slept 200 ms each, reaped after {took:?}");
    println!(
        "sum of 1..=100 through a pipe to a child: {}",
        sum_through_a_pipe(&(1..=100).collect::<Vec<_>>())?
    );
    println!("4 children x 500 increments under flock: {}", locked_counter_in_a_file(4, 500)?);
    let (values, workers) = pool_map(6)?;
    println!("pool of 2 (pids {workers:?}), map(square, 0..6) in input order: {values:?}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, so the harness runs no other thread while these fork: a child forked while
    /// another thread holds a lock could wait for it forever.
    #[test]
    fn fork_pipe_lock_and_pool_behave_as_the_article_says() {
        let (pids, took) = fork_and_wait(3, Duration::from_millis(200)).unwrap();
        assert_eq!(pids.len(), 3);
        assert!(took < Duration::from_millis(550), "children slept one after another: {took:?}");

        assert_eq!(sum_through_a_pipe(&(1..=100).collect::<Vec<_>>()).unwrap(), 5050);

        assert_eq!(locked_counter_in_a_file(4, 200).unwrap(), 800, "the lock lost an update");

        let (values, workers) = pool_map(6).unwrap();
        assert_eq!(values, vec![0, 1, 4, 9, 16, 25], "map keeps input order");
        assert_eq!(workers.len(), 2, "two workers ran every job: {workers:?}");
        assert!(!workers.contains(&std::process::id()), "jobs ran in children");
    }
}
