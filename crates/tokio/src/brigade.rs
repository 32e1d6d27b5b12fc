//! The brigade on tokio: a task per link and a `tokio::sync::mpsc` channel per pair. A task
//! waits in `recv`, a future; handing the token on wakes the next task's waker, which puts it
//! on a run queue — in user space, unless a worker thread has to be woken to run it. With one
//! worker (`--workers 1`) no hand-off leaves the thread.
//!
//! Under `strace -f -c`: no system call per hand-off while the next task's worker is
//! awake; a `futex` wake when an idle worker must be woken to run it.

use std::time::Instant;

use tokio::sync::mpsc::{channel, Receiver, Sender};
use workload::brigade::Circle;
use workload::{Args, Done, Runner, Tally, TaskError};

pub async fn run(args: &Args, tally: &mut Tally) {
    let circle = Circle::of(args);
    let n = circle.tasks as usize;
    let (tx, rx): (Vec<Sender<u64>>, Vec<Receiver<u64>>) = (0..n).map(|_| channel(1)).unzip();
    let tasks: Vec<_> = rx
        .into_iter()
        .enumerate()
        .map(|(i, rx)| tokio::spawn(one_task(circle, rx, tx[(i + 1) % n].clone())))
        .collect();
    if tx[0].send(0).await.is_err() {
        return tally.fail(circle.tasks, TaskError::new("the circle's first task is gone"));
    }
    drop(tx);
    for (i, task) in (0..).zip(tasks) {
        let result = task.await.unwrap_or_else(|e| Err(TaskError::new(format!("{e}"))));
        let (started, ended, runner) = (tally.start, Instant::now(), Runner::cached());
        tally.record(Done { id: i, result, started, ended, runner });
    }
}

/// One link: receive `--laps` tokens, each passed on plus one but the very last.
async fn one_task(
    circle: Circle,
    mut rx: Receiver<u64>,
    next: Sender<u64>,
) -> Result<u64, TaskError> {
    let mut value = 0u64;
    for _ in 0..circle.laps {
        let c = rx.recv().await.ok_or_else(|| TaskError::new("the circle broke"))?;
        value = value.wrapping_add(c);
        if let Some(c) = circle.pass_on(c) {
            next.send(c).await.map_err(|_| TaskError::new("the next task is gone"))?;
        }
    }
    Ok(value)
}
