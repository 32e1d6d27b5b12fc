//! # process-pool — processes as workers: `fork` a child, let it report over a pipe, reap it
//! with `wait4`, and the ProcessPoolExecutor analog built from those pieces
//!
//! The `procs` binary forks one child per task with [`start_child`] and runs `--workers W`
//! on a [`ProcessPool`]; `crates/procs/examples/process_executor.rs` shows them beside a pipe
//! as a queue and a lock shared between processes. As with Python's pool, what crosses between processes
//! must be bytes: a job takes a `u32` and gives a `u64` (or an error message), and the
//! function the workers run is fixed when they are forked.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::unistd::{fork, pipe, ForkResult, Pid};
use workload::measure::{wait4, Reaped};
use workload::{Done, Runner, TaskError};

/// Fork a child that runs `work` and `_exit`s: 0 if it succeeded, 1 if it could not report.
/// The child dies with its parent: a parent killed by any signal (SIGTERM, SIGKILL, a Ctrl-C
/// sent to it alone) leaves no child re-parented to init and still working.
///
/// The caller must be single-threaded: a child forked while another thread holds a lock
/// (the allocator's, stdout's) would wait for it forever.
pub fn start_child(work: impl FnOnce() -> io::Result<()>) -> io::Result<Pid> {
    let parent = nix::unistd::getpid();
    // SAFETY: callers fork only while single-threaded (the pool's feeder thread starts after
    // its last fork), so the child's copy of the heap and of every lock is consistent and it
    // may allocate and run ordinary code.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            // SAFETY: prctl with an integer option touches only this process's state.
            // PR_SET_PDEATHSIG: the kernel sends SIGKILL when the thread that forked us ends;
            // the parent forks from its main thread, which ends with the process.
            unsafe { nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL) };
            if nix::unistd::getppid() != parent {
                // The parent died before the line above took hold.
                // SAFETY: as below, `_exit` ends the child at once.
                unsafe { nix::libc::_exit(1) }
            }
            let status = if work().is_ok() { 0 } else { 1 };
            // SAFETY: `_exit` ends the child at once, without running the parent's atexit
            // handlers or flushing stdio buffers that belong to the parent.
            unsafe { nix::libc::_exit(status) }
        }
    }
}

// A record on the results pipe: id u32, start and finish times u64 ns since the epoch, pid u32, then
// either tag 0 + value u64, or tag 1 + message length u16 + message bytes. One `write`,
// under PIPE_BUF (4096) bytes, so records from many children never interleave.
const MAX_MESSAGE: usize = 2048;

/// Write job `id`'s result, begun at `started`, as one atomic record; `epoch` is the
/// parent's `Instant`, which the forked child holds a copy of (CLOCK_MONOTONIC is the same
/// in every process).
pub fn write_record(
    pipe: &OwnedFd,
    id: u32,
    started: Instant,
    result: Result<u64, TaskError>,
    epoch: Instant,
) -> io::Result<()> {
    let mut record = Vec::with_capacity(64);
    record.extend(id.to_ne_bytes());
    record.extend((started.saturating_duration_since(epoch).as_nanos() as u64).to_ne_bytes());
    record.extend((epoch.elapsed().as_nanos() as u64).to_ne_bytes());
    record.extend(std::process::id().to_ne_bytes());
    match result {
        Ok(value) => {
            record.push(0);
            record.extend(value.to_ne_bytes());
        }
        Err(e) => {
            let message = e.to_string();
            let message = &message.as_bytes()[..message.len().min(MAX_MESSAGE)];
            record.push(1);
            record.extend((message.len() as u16).to_ne_bytes());
            record.extend(message);
        }
    }
    nix::unistd::write(pipe, &record).map(drop).map_err(io::Error::from)
}

/// The next record, or `None` once every writer has closed the pipe.
pub fn read_record(pipe: &mut impl Read, epoch: Instant) -> io::Result<Option<Done>> {
    let mut head = [0u8; 25];
    match pipe.read_exact(&mut head) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let id = u32::from_ne_bytes(head[0..4].try_into().unwrap());
    let at = |from: usize| {
        epoch + Duration::from_nanos(u64::from_ne_bytes(head[from..from + 8].try_into().unwrap()))
    };
    let (started, finished) = (at(4), at(12));
    let pid = u32::from_ne_bytes(head[20..24].try_into().unwrap());
    let result = if head[24] == 0 {
        let mut value = [0u8; 8];
        pipe.read_exact(&mut value)?;
        Ok(u64::from_ne_bytes(value))
    } else {
        let mut len = [0u8; 2];
        pipe.read_exact(&mut len)?;
        let mut message = vec![0u8; u16::from_ne_bytes(len) as usize];
        pipe.read_exact(&mut message)?;
        Err(TaskError::new(String::from_utf8_lossy(&message)))
    };
    Ok(Some(Done { id, result, started, ended: finished, runner: Runner { pid, tid: pid } }))
}

/// W pre-forked children running one job function on the ids they are sent.
pub struct ProcessPool {
    ids: Option<std::sync::mpsc::Sender<u32>>,
    results: BufReader<File>,
    arrived: HashMap<u32, Done>,
    children: Vec<Pid>,
    epoch: Instant,
}

/// Why the pool could not start whole: the fork error, after how many workers.
pub struct StartError {
    pub started: u32,
    pub error: io::Error,
}

impl ProcessPool {
    /// Fork `workers` children that run `job` on each id sent to them. If a fork fails, the
    /// workers already forked are stopped and reaped, and the error says after how many.
    pub fn start(
        workers: u32,
        epoch: Instant,
        job: impl Fn(u32) -> Result<u64, TaskError>,
    ) -> Result<ProcessPool, StartError> {
        let io = |error| StartError { started: 0, error };
        let (results_rx, results_tx) = pipe().map_err(|e| io(e.into()))?;
        let (ids_rx, ids_tx) = pipe().map_err(|e| io(e.into()))?;
        let mut children = Vec::with_capacity(workers as usize);
        for started in 0..workers {
            let worker = || {
                // The child's copy of the write end must close, or the ids pipe never ends.
                nix::unistd::close(ids_tx.as_raw_fd())?;
                let mut ids = File::from(ids_rx.try_clone()?);
                let mut id = [0u8; 4];
                // Each id is one 4-byte write, and pipe writes under PIPE_BUF are atomic, so
                // every read of 4 bytes takes exactly one whole id.
                while ids.read_exact(&mut id).is_ok() {
                    let id = u32::from_ne_bytes(id);
                    let started = Instant::now();
                    write_record(&results_tx, id, started, job(id), epoch)?;
                }
                Ok(())
            };
            match start_child(worker) {
                Ok(pid) => children.push(pid),
                Err(error) => {
                    drop(ids_tx); // the started workers see end-of-file and exit
                    children.into_iter().for_each(|pid| drop(wait4(pid.as_raw())));
                    return Err(StartError { started, error });
                }
            }
        }
        // A thread feeds the ids, so `submit` never blocks: were the parent to wait on a full
        // ids pipe while the workers wait on a full results pipe, neither would move. It
        // starts after the last fork, so no child inherits a half-running parent.
        let (ids, queue) = std::sync::mpsc::channel::<u32>();
        std::thread::spawn(move || {
            let mut pipe = File::from(ids_tx);
            for id in queue {
                if pipe.write_all(&id.to_ne_bytes()).is_err() {
                    break; // every worker died; their exit status tells why
                }
            }
        });
        Ok(ProcessPool {
            ids: Some(ids),
            results: BufReader::new(File::from(results_rx)),
            arrived: HashMap::new(),
            children,
            epoch,
        })
    }

    /// Queue job `id`; [`ProcessPool::wait`] gives its result.
    pub fn submit(&self, id: u32) {
        let _ = self.ids.as_ref().expect("open until shutdown").send(id);
    }

    /// Block until job `id` has finished; results of other jobs that arrive first are kept.
    pub fn wait(&mut self, id: u32) -> io::Result<Done> {
        loop {
            if let Some(done) = self.arrived.remove(&id) {
                return Ok(done);
            }
            match read_record(&mut self.results, self.epoch)? {
                Some(done) => drop(self.arrived.insert(done.id, done)),
                None => {
                    return Err(io::Error::other(format!(
                        "every worker exited before job {id} finished"
                    )))
                }
            }
        }
    }

    /// Run every id on the pool; results in the order of `ids`.
    pub fn map(&mut self, ids: impl IntoIterator<Item = u32>) -> io::Result<Vec<Done>> {
        let ids: Vec<u32> = ids.into_iter().collect();
        ids.iter().for_each(|&id| self.submit(id));
        ids.into_iter().map(|id| self.wait(id)).collect()
    }

    pub fn workers(&self) -> usize {
        self.children.len()
    }

    /// Close the queue, let the workers finish and reap every one: their peak RSS and exit.
    pub fn shutdown(mut self) -> io::Result<Vec<Reaped>> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<Vec<Reaped>> {
        drop(self.ids.take());
        // Read what is still coming, so no worker blocks on a full results pipe, until the
        // last worker has exited and closed it.
        while let Some(done) = read_record(&mut self.results, self.epoch)? {
            self.arrived.insert(done.id, done);
        }
        let children = std::mem::take(&mut self.children);
        children.into_iter().map(|pid| wait4(pid.as_raw())).collect()
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        // Never leave a zombie: a pool dropped without `shutdown` still reaps its workers.
        let _ = self.stop();
    }
}
