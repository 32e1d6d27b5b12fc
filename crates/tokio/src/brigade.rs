//! The brigade on tokio: a task per link and a `tokio::sync::mpsc` channel per pair. A task
//! waits in `recv`, a future; handing the token on wakes the next task's waker, which puts it
//! on a run queue — in user space, unless a worker thread has to be woken to run it. With one
//! worker (`--workers 1`) no hand-off leaves the thread.

use std::time::Instant;

use tokio::sync::mpsc::{channel, Receiver, Sender};
use workload::brigade::Ring;
use workload::{Args, Runner, Tally, TaskError};

pub async fn run(args: &Args, tally: &mut Tally) {
    let ring = Ring::of(args);
    let n = ring.tasks as usize;
    let (tx, rx): (Vec<Sender<u64>>, Vec<Receiver<u64>>) = (0..n).map(|_| channel(1)).unzip();
    let tasks: Vec<_> = rx
        .into_iter()
        .enumerate()
        .map(|(i, rx)| tokio::spawn(one_task(ring, rx, tx[(i + 1) % n].clone())))
        .collect();
    if tx[0].send(0).await.is_err() {
        return tally.fail(ring.tasks, TaskError::new("the ring's first task is gone"));
    }
    drop(tx);
    for (i, task) in (0..).zip(tasks) {
        let result = task.await.unwrap_or_else(|e| Err(TaskError::new(format!("{e}"))));
        tally.record(i, result, tally.start, Instant::now(), Runner::cached());
    }
}

/// One link: receive `--laps` tokens, each passed on plus one but the very last.
async fn one_task(ring: Ring, mut rx: Receiver<u64>, next: Sender<u64>) -> Result<u64, TaskError> {
    let mut value = 0u64;
    for _ in 0..ring.laps {
        let c = rx.recv().await.ok_or_else(|| TaskError::new("the ring broke"))?;
        value = value.wrapping_add(c);
        if let Some(c) = ring.pass_on(c) {
            next.send(c).await.map_err(|_| TaskError::new("the next task is gone"))?;
        }
    }
    Ok(value)
}
