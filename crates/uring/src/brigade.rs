//! The brigade on tokio-uring: a task per link and a pipe per pair, each task's `read` and
//! the `write` that hands the token on both io_uring operations with owned buffers. One thread,
//! no switch; the pipe I/O goes through `io_uring_enter`.

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
    let (reads, writes): (Vec<File>, Vec<Rc<File>>) = pipes
        .into_iter()
        .map(|(r, w)| (File::from_std(r.into()), Rc::new(File::from_std(w.into()))))
        .unzip();
    let n = reads.len();
    let tasks: Vec<_> = reads
        .into_iter()
        .enumerate()
        .map(|(i, from)| tokio_uring::spawn(one_task(circle, from, writes[(i + 1) % n].clone())))
        .collect();
    let (started, _) = writes[0].write_at(0u64.to_ne_bytes().to_vec(), 0).submit().await;
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

/// One link: receive `--laps` tokens on the circle, each written on plus one but the last.
async fn one_task(circle: Circle, from: File, next: Rc<File>) -> Result<u64, TaskError> {
    let (mut value, mut buf) = (0u64, vec![0u8; 8]);
    for _ in 0..circle.laps {
        let (read, returned) = from.read_exact_at(buf, 0).await;
        read.map_err(|e| TaskError::starting("receiving the token", &e))?;
        let c = u64::from_ne_bytes(returned[..8].try_into().expect("8 bytes"));
        buf = returned;
        value = value.wrapping_add(c);
        if let Some(c) = circle.pass_on(c) {
            let (wrote, _) = next.write_at(c.to_ne_bytes().to_vec(), 0).submit().await;
            wrote.map_err(|e| TaskError::starting("passing the token", &e))?;
        }
    }
    Ok(value)
}
