//! One runtime per core: R threads, each with a monoio runtime of its own — its own io_uring,
//! its own timer wheel, its own queue of tasks — and nothing shared between them but what the
//! program hands each one at the start. That is all "thread-per-core" means: a task never
//! leaves the thread it was spawned on, so nothing in it needs to be `Send`, no lock guards a
//! queue, and no core steals another's work — nor helps it when it falls behind.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use monoio::{IoUringDriver, RuntimeBuilder};
use workload::{Done, TaskError};

/// Each ring's submission queue: as `uring`'s, so that the two differ in their runtimes.
const ENTRIES: u32 = 4096;

/// What one core runs once every runtime is up. It is made on the core's own thread, since
/// what it makes is not `Send` (nothing on a core is: that is the point).
pub type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// A runtime on this thread: io_uring and monoio's timer, no epoll fallback.
pub fn runtime() -> Result<Runtime, TaskError> {
    let built = RuntimeBuilder::<IoUringDriver>::new().with_entries(ENTRIES).enable_timer().build();
    built.map_err(|e| TaskError::no_io_uring(&e))
}

/// A monoio runtime, io_uring underneath, with monoio's timer wheel.
pub type Runtime = monoio::Runtime<monoio::time::TimeDriver<IoUringDriver>>;

/// monoio's timer wheel, on the core's ring, as the shared db task and crawl wait on it.
pub struct MonoioTimer;

impl tokio_task::Timer for MonoioTimer {
    fn sleep_until(at: Instant) -> impl std::future::Future<Output = ()> {
        monoio::time::sleep_until(monoio::time::Instant::from_std(at))
    }

    async fn timeout<F: std::future::Future>(after: Duration, work: F) -> Option<F::Output> {
        monoio::time::timeout(after, work).await.ok()
    }
}

/// Which tasks a core runs: task `id` runs on core `id mod R`, dealt out like cards, so that
/// every core gets as many as the others, give or take one.
#[derive(Clone, Copy, Debug)]
pub struct Core {
    pub index: u32,
    pub of: u32,
}

impl Core {
    /// The ids of this core's tasks, of `tasks` in all.
    pub fn ids(self, tasks: u32) -> impl Iterator<Item = u32> + Clone {
        (self.index..tasks).step_by(self.of as usize)
    }
}

/// The runtimes, each on its thread, waiting for its job.
pub struct Cores {
    cores: Vec<(mpsc::Sender<Job>, JoinHandle<()>)>,
}

impl Cores {
    /// Start `count` threads, each building its runtime: io_uring and monoio's timer, no epoll
    /// fallback. Every one is up or none runs, and the first that could not be built is the
    /// error (io_uring refused, say, with what to change).
    pub fn start(count: u32) -> Result<Cores, TaskError> {
        let (up, ups) = mpsc::channel::<Result<(), TaskError>>();
        let mut cores = Vec::new();
        for index in 0..count {
            let (give, job) = mpsc::channel::<Job>();
            let up = up.clone();
            let core = move || match runtime() {
                Ok(mut runtime) => {
                    let _ = up.send(Ok(()));
                    if let Ok(job) = job.recv() {
                        runtime.block_on(job());
                    }
                }
                Err(no_ring) => {
                    let _ = up.send(Err(no_ring));
                }
            };
            let thread = std::thread::Builder::new().name(format!("monoio-{index}")).spawn(core);
            // The threads already started see their job channel close, and end.
            let thread = thread.map_err(|e| TaskError::starting("a runtime's thread", &e))?;
            cores.push((give, thread));
        }
        let built: Result<Vec<()>, _> = ups.iter().take(count as usize).collect();
        let cores = Cores { cores };
        if let Err(no_ring) = built {
            cores.run(|_| Box::new(|| Box::pin(async {}))).join();
            return Err(no_ring);
        }
        Ok(cores)
    }

    /// Hand core i the job `job(core i)`.
    pub fn run(self, mut job: impl FnMut(Core) -> Job) -> Running {
        let of = self.cores.len() as u32;
        let threads = (0..)
            .zip(self.cores)
            .map(|(index, (give, thread))| {
                let _ = give.send(job(Core { index, of }));
                thread
            })
            .collect();
        Running { threads }
    }
}

/// The cores at work.
pub struct Running {
    threads: Vec<JoinHandle<()>>,
}

impl Running {
    /// Wait until every core's job has returned.
    pub fn join(self) {
        for thread in self.threads {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// How many finished tasks a core sends the main thread at once.
const BATCH: usize = 1024;

/// A core's finished tasks, on their way to the main thread's tally, a batch at a time. Sent
/// one by one, each result would be a `futex` wake of the main thread, which then takes a CPU
/// from a core to record it: on disk at W = 64 that was 88,000 context switches for 300,000
/// reads, and a third of the run's CPU. The tally is the lab's, not the model's, so it is
/// kept out of the cores' way.
pub struct Finished {
    to_tally: mpsc::Sender<Vec<Done>>,
    batch: Vec<Done>,
}

impl Finished {
    pub fn new(to_tally: &mpsc::Sender<Vec<Done>>) -> Finished {
        Finished { to_tally: to_tally.clone(), batch: Vec::with_capacity(BATCH) }
    }

    pub fn push(&mut self, done: Done) {
        self.batch.push(done);
        if self.batch.len() == BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        // The main thread is gone only if it panicked: nobody is left to tell.
        let _ = self.to_tally.send(batch);
    }
}

/// The last batch, however short, when the core's tasks are over.
impl Drop for Finished {
    fn drop(&mut self) {
        if !self.batch.is_empty() {
            self.send();
        }
    }
}
