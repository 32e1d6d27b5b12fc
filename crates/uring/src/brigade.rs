//! The brigade on tokio-uring: a task per link and a pipe per pair, each task's `read` and
//! the `write` that hands the token on both io_uring operations with owned buffers. One thread,
//! no switch; the pipe I/O goes through `io_uring_enter`.
//!
//! Under `strace -f -c`: `io_uring_enter` for the pipes' reads and writes, no `read` or
//! `write`, and no `clone`.

use std::rc::Rc;
use std::time::Instant;

use tokio_uring::fs::File;
use workload::brigade::{self, Circle};
use workload::{Args, Done, Runner, Tally, TaskError};

pub async fn run(args: &Args, tally: &mut Tally) {
    let circle = Circle::of(args);
    let pipes = match brigade::pipes(circle.tasks, false) {
        Ok(pipes) => pipes,
        Err(e) => return tally.fail(circle.tasks, e),
    };
    let (reads, writes): (Vec<Pipe>, Vec<Rc<Pipe>>) = pipes
        .into_iter()
        .map(|(r, w)| (Pipe(File::from_std(r.into())), Rc::new(Pipe(File::from_std(w.into())))))
        .unzip();
    let n = reads.len();
    let tasks: Vec<_> = reads
        .into_iter()
        .enumerate()
        .map(|(i, from)| tokio_uring::spawn(one_task(circle, from, writes[(i + 1) % n].clone())))
        .collect();
    let (started, _) = writes[0].0.write_at(0u64.to_ne_bytes().to_vec(), 0).submit().await;
    if let Err(e) = started {
        return tally.fail(circle.tasks, TaskError::starting("starting the circle", &e));
    }
    drop(writes);
    for (i, task) in (0..).zip(tasks) {
        let result = task.await.unwrap_or_else(|e| Err(TaskError::new(format!("{e}"))));
        let (started, ended, runner) = (tally.start, Instant::now(), Runner::cached());
        tally.record(Done { id: i, result, started, ended, runner });
    }
}

/// A pipe's end on the ring.
struct Pipe(File);

impl tokio_task::brigade::Pipe for Pipe {
    async fn read_exact(&self, buf: Vec<u8>) -> (std::io::Result<()>, Vec<u8>) {
        self.0.read_exact_at(buf, 0).await
    }

    async fn write(&self, bytes: Vec<u8>) -> std::io::Result<()> {
        self.0.write_at(bytes, 0).submit().await.0.map(|_| ())
    }
}

/// One link: the shared one of `tokio_task::brigade`, on this link's two pipes.
async fn one_task(circle: Circle, from: Pipe, next: Rc<Pipe>) -> Result<u64, TaskError> {
    tokio_task::brigade::link(circle, &from, &next).await
}
